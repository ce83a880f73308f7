"""transformers `HubertModel` (model_type "hubert") -> kser `HubertBackbone`.

A converter module for `kser.convert.CONVERTERS`, in keras-hub's shape
(`keras_hub/src/utils/transformers/convert_*.py`):

- `backbone_cls`, `audio_converter_cls`: the kser classes built (resolved
  on first use, so importing this module does not import Keras).
- `convert_backbone_config(transformers_config)`: backbone arguments.
- `convert_weights(backbone, loader, transformers_config)`: fills the
  backbone from a `CheckpointWeights` (or a dict of tensors).
- `load_audio_converter_config(preset, transformers_config)`: audio
  converter arguments from the folder's `preprocessor_config.json`.
- `describe(backbone, audio_converter)`: the conversion report's words.
"""

import numpy as np

from kser.convert.checkpoint import CheckpointWeights
from kser.convert.checkpoint import audio_converter_config
from kser.errors import ConversionError

# Prefixes of the HuBERT model inside task checkpoints (HubertForCTC,
# HubertForSequenceClassification) and keys that are not part of HubertModel.
MODEL_PREFIXES = ("hubert.",)
IGNORED_PREFIXES = ("lm_head.", "classifier.", "projector.", "masked_spec_embed")

_SUPPORTED_ACTIVATIONS = ("gelu",)
_PORT_NAME = "kser's HuBERT port"


def __getattr__(name):
    # The Keras classes load only when a converter needs them.
    if name == "backbone_cls":
        from kser.models import HubertBackbone

        return HubertBackbone
    if name == "audio_converter_cls":
        from kser.models import HubertAudioConverter

        return HubertAudioConverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# === Configs ===


def convert_backbone_config(transformers_config):
    """`HubertBackbone` arguments from a transformers `HubertConfig` dict.

    Refuses, with one line naming the field, configurations the port does
    not implement.

    Args:
        transformers_config: dict. The checkpoint's `config.json`.
    """
    hf_config = transformers_config
    if hf_config.get("conv_pos_batch_norm", False):
        raise ConversionError(
            "config.json sets conv_pos_batch_norm, which kser's HuBERT port "
            "does not implement"
        )
    norm = hf_config.get("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise ConversionError(
            f"config.json has feat_extract_norm {norm!r}; kser implements "
            "'group' and 'layer'"
        )
    for key in ("feat_extract_activation", "hidden_act"):
        act = hf_config.get(key, "gelu")
        if act not in _SUPPORTED_ACTIVATIONS:
            raise ConversionError(
                f"config.json has {key} {act!r}; kser implements 'gelu' only"
            )
    if hf_config.get("num_conv_pos_embeddings", 128) < 1:
        raise ConversionError("config.json: num_conv_pos_embeddings < 1")
    conv_dims = list(hf_config.get("conv_dim", [512] * 7))
    return {
        "conv_dims": conv_dims,
        "conv_kernel_sizes": list(
            hf_config.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2])
        ),
        "conv_strides": list(hf_config.get("conv_stride", [5, 2, 2, 2, 2, 2, 2])),
        "conv_bias": bool(hf_config.get("conv_bias", False)),
        "feature_norm": norm,
        "feature_projection_norm": bool(
            hf_config.get("feat_proj_layer_norm", True)
        ),
        "hidden_dim": hf_config.get("hidden_size", 768),
        "num_layers": hf_config.get("num_hidden_layers", 12),
        "num_heads": hf_config.get("num_attention_heads", 12),
        "intermediate_dim": hf_config.get("intermediate_size", 3072),
        "pos_conv_kernel_size": hf_config.get("num_conv_pos_embeddings", 128),
        "pos_conv_groups": hf_config.get("num_conv_pos_embedding_groups", 16),
        "normalize_first": bool(hf_config.get("do_stable_layer_norm", False)),
        "layer_norm_epsilon": hf_config.get("layer_norm_eps", 1e-5),
        "dropout": hf_config.get("hidden_dropout", 0.1),
        "attention_dropout": hf_config.get("attention_dropout", 0.1),
    }


def transformers_config_kwargs(preset):
    """`transformers.HubertConfig` keyword arguments of a kser preset's
    architecture (the inverse of `convert_backbone_config`), to build the
    matching transformers model, e.g. with random weights for a comparison.
    """
    from kser.models import backbone_presets

    config = backbone_presets[preset]["config"]
    return {
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "feat_extract_norm": config["feature_norm"],
        "do_stable_layer_norm": config["normalize_first"],
        "conv_bias": config["conv_bias"],
    }


def load_audio_converter_config(preset, transformers_config=None):
    """`HubertAudioConverter` arguments from `preprocessor_config.json`.

    Without that file, transformers' `Wav2Vec2FeatureExtractor` defaults
    apply (normalise, 16 kHz, pad with 0).

    Args:
        preset: str. The checkpoint folder.
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: HuBERT's audio settings live in the preprocessor file).
    """
    return audio_converter_config(preset, _PORT_NAME)


def describe(backbone, audio_converter):
    """str. The converted model in a few words, for the conversion report."""
    layout = "large (pre-LN)" if backbone.normalize_first else "base (post-LN)"
    return (
        f"HuBERT {layout}, {backbone.num_layers} layers x "
        f"{backbone.hidden_dim}, {backbone.count_params():,} parameters, "
        f"normalize={audio_converter.do_normalize}"
    )


# === Weights ===


def fold_weight_norm(weight_g, weight_v):
    """Fold PyTorch weight norm (dim=2) into a plain conv weight.

    `W[:, :, k] = g[k] * v[:, :, k] / ||v[:, :, k]||`, the norm taken over
    the output and input axes.
    """
    v = weight_v.astype(np.float64)
    norm = np.sqrt(np.sum(v * v, axis=(0, 1), keepdims=True))
    return (weight_g.astype(np.float64) * v / norm).astype(np.float32)


def _pos_conv_weight(loader):
    base = "encoder.pos_conv_embed.conv."
    spellings = (
        ("weight_g", "weight_v"),
        ("parametrizations.weight.original0", "parametrizations.weight.original1"),
    )
    for g_key, v_key in spellings:
        if base + g_key in loader and base + v_key in loader:
            return fold_weight_norm(
                loader.pop_tensor(base + g_key), loader.pop_tensor(base + v_key)
            )
    if base + "weight" in loader:
        return loader.pop_tensor(base + "weight")
    raise ConversionError(
        "checkpoint has no positional conv weight (expected "
        f"{base}weight_g/weight_v or {base}parametrizations.weight.original0/1)"
    )


def _conv(value, shape):  # torch (out, in, k) -> keras (k, in, out)
    return value.transpose(2, 1, 0)


def _dense(value, shape):  # torch (out, in) -> keras (in, out)
    return value.T


def convert_weights(backbone, loader, transformers_config=None):
    """Copy transformers `HubertModel` weights into a `HubertBackbone`.

    Args:
        backbone: `HubertBackbone`. Built with `convert_backbone_config`.
        loader: `CheckpointWeights`, or a dict of str to numpy array (the
            checkpoint's tensors, as `load_checkpoint_weights` returns).
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: the backbone already carries the architecture).

    Returns:
        The list of checkpoint keys that were not used (task heads and
        training-only tensors).
    """
    if not isinstance(loader, CheckpointWeights):
        loader = CheckpointWeights(loader, MODEL_PREFIXES, IGNORED_PREFIXES)
    port = loader.port_weight

    encoder = backbone.feature_encoder
    for i, (conv_layer, norm_layer) in enumerate(
        zip(encoder.conv_layers, encoder.norm_layers)
    ):
        prefix = f"feature_extractor.conv_layers.{i}."
        port(conv_layer.kernel, prefix + "conv.weight", _conv)
        if conv_layer.use_bias:
            port(conv_layer.bias, prefix + "conv.bias")
        if norm_layer is not None:
            port(norm_layer.gamma, prefix + "layer_norm.weight")
            port(norm_layer.beta, prefix + "layer_norm.bias")

    if backbone.feature_projection_norm is not None:
        port(backbone.feature_projection_norm.gamma, "feature_projection.layer_norm.weight")
        port(backbone.feature_projection_norm.beta, "feature_projection.layer_norm.bias")
    port(backbone.feature_projection.kernel, "feature_projection.projection.weight", _dense)
    port(backbone.feature_projection.bias, "feature_projection.projection.bias")

    pos_conv = backbone.pos_conv_embedding.conv
    loader.set_tensor("encoder.pos_conv_embed.conv.weight", _pos_conv_weight(loader))
    port(pos_conv.kernel, "encoder.pos_conv_embed.conv.weight", _conv)
    port(pos_conv.bias, "encoder.pos_conv_embed.conv.bias")
    port(backbone.encoder_norm.gamma, "encoder.layer_norm.weight")
    port(backbone.encoder_norm.beta, "encoder.layer_norm.bias")

    for i, layer in enumerate(backbone.encoder_layers):
        prefix = f"encoder.layers.{i}."
        for dense_layer, name in (
            (layer.query_dense, "attention.q_proj"),
            (layer.key_dense, "attention.k_proj"),
            (layer.value_dense, "attention.v_proj"),
            (layer.output_dense, "attention.out_proj"),
            (layer.intermediate_dense, "feed_forward.intermediate_dense"),
            (layer.ffn_output_dense, "feed_forward.output_dense"),
        ):
            port(dense_layer.kernel, f"{prefix}{name}.weight", _dense)
            port(dense_layer.bias, f"{prefix}{name}.bias")
        port(layer.attention_norm.gamma, prefix + "layer_norm.weight")
        port(layer.attention_norm.beta, prefix + "layer_norm.bias")
        port(layer.ffn_norm.gamma, prefix + "final_layer_norm.weight")
        port(layer.ffn_norm.beta, prefix + "final_layer_norm.bias")

    loader.check_all_used(_PORT_NAME)
    return list(loader.ignored)
