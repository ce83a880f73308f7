"""transformers `WavLMModel` (model_type "wavlm") -> kser `WavLMBackbone`.

A converter module for `kser.convert.CONVERTERS`, in the shape of
`kser.convert.hubert` (whose weight helpers it reuses): `backbone_cls`,
`audio_converter_cls`, `convert_backbone_config`, `convert_weights`,
`load_audio_converter_config`, `describe`.
"""

import numpy as np

from kser.convert.checkpoint import CheckpointWeights
from kser.convert.checkpoint import audio_converter_config
from kser.convert.hubert import _conv
from kser.convert.hubert import _dense
from kser.convert.hubert import _pos_conv_weight
from kser.errors import ConversionError

# Prefix of the WavLM model inside task checkpoints (WavLMForCTC,
# WavLMForSequenceClassification, WavLMForXVector ...) and keys that are
# not part of WavLMModel: task heads, and tensors used only in pretraining.
MODEL_PREFIXES = ("wavlm.",)
IGNORED_PREFIXES = (
    # Task heads.
    "lm_head.",
    "classifier.",
    "projector.",
    "layer_weights",
    "tdnn.",
    "objective.",
    "feature_extractor.weight",  # WavLMForXVector's linear, top level
    "feature_extractor.bias",
    # Pretraining only.
    "masked_spec_embed",
    "quantizer.",
    "project_q.",
    "project_hid.",
)

_SUPPORTED_ACTIVATIONS = ("gelu",)
_PORT_NAME = "kser's WavLM port"


def __getattr__(name):
    # The Keras classes load only when a converter needs them.
    if name == "backbone_cls":
        from kser.models.wavlm import WavLMBackbone

        return WavLMBackbone
    if name == "audio_converter_cls":
        from kser.models.wavlm import WavLMAudioConverter

        return WavLMAudioConverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# === Configs ===


def _refuse_unsupported(hf_config):
    if hf_config.get("conv_pos_batch_norm", False):
        raise ConversionError(
            "config.json sets conv_pos_batch_norm, which kser's WavLM port "
            "does not implement"
        )
    if hf_config.get("add_adapter", False):
        raise ConversionError(
            "config.json sets add_adapter (a conv adapter after the "
            "encoder), which kser's WavLM port does not implement"
        )
    if hf_config.get("adapter_attn_dim") is not None:
        raise ConversionError(
            "config.json sets adapter_attn_dim (attention adapters), which "
            "kser's WavLM port does not implement"
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
    buckets = hf_config.get("num_buckets", 320)
    distance = hf_config.get("max_bucket_distance", 800)
    if buckets < 4 or distance <= buckets // 4:
        raise ConversionError(
            f"config.json has num_buckets {buckets} and max_bucket_distance "
            f"{distance}; kser needs num_buckets >= 4 and max_bucket_distance "
            "above num_buckets // 4"
        )


def convert_backbone_config(transformers_config):
    """`WavLMBackbone` arguments from a transformers `WavLMConfig` dict.

    Refuses, with one line naming the field, configurations the port does
    not implement (adapters, batch-norm positional conv, other activations).

    Args:
        transformers_config: dict. The checkpoint's `config.json`.
    """
    hf_config = transformers_config
    _refuse_unsupported(hf_config)
    return {
        "conv_dims": list(hf_config.get("conv_dim", [512] * 7)),
        "conv_kernel_sizes": list(
            hf_config.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2])
        ),
        "conv_strides": list(hf_config.get("conv_stride", [5, 2, 2, 2, 2, 2, 2])),
        "conv_bias": bool(hf_config.get("conv_bias", False)),
        "feature_norm": hf_config.get("feat_extract_norm", "group"),
        "hidden_dim": hf_config.get("hidden_size", 768),
        "num_layers": hf_config.get("num_hidden_layers", 12),
        "num_heads": hf_config.get("num_attention_heads", 12),
        "intermediate_dim": hf_config.get("intermediate_size", 3072),
        "pos_conv_kernel_size": hf_config.get("num_conv_pos_embeddings", 128),
        "pos_conv_groups": hf_config.get("num_conv_pos_embedding_groups", 16),
        "num_buckets": hf_config.get("num_buckets", 320),
        "max_bucket_distance": hf_config.get("max_bucket_distance", 800),
        "normalize_first": bool(hf_config.get("do_stable_layer_norm", False)),
        "layer_norm_epsilon": hf_config.get("layer_norm_eps", 1e-5),
        "dropout": hf_config.get("hidden_dropout", 0.1),
        "attention_dropout": hf_config.get("attention_dropout", 0.1),
    }


def transformers_config_kwargs(preset):
    """`transformers.WavLMConfig` keyword arguments of a kser preset's
    architecture (the inverse of `convert_backbone_config`), to build the
    matching transformers model, e.g. with random weights for a comparison.
    """
    from kser.models.wavlm.presets import backbone_presets

    config = backbone_presets[preset]["config"]
    return {
        "conv_dim": list(config["conv_dims"]),
        "conv_kernel": list(config["conv_kernel_sizes"]),
        "conv_stride": list(config["conv_strides"]),
        "conv_bias": config["conv_bias"],
        "feat_extract_norm": config["feature_norm"],
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "num_conv_pos_embeddings": config["pos_conv_kernel_size"],
        "num_conv_pos_embedding_groups": config["pos_conv_groups"],
        "num_buckets": config["num_buckets"],
        "max_bucket_distance": config["max_bucket_distance"],
        "do_stable_layer_norm": config["normalize_first"],
        "layer_norm_eps": config["layer_norm_epsilon"],
    }


def load_audio_converter_config(preset, transformers_config=None):
    """`WavLMAudioConverter` arguments from `preprocessor_config.json`.

    Without that file, `do_normalize` is False, as Microsoft's WavLM base
    checkpoints set it (16 kHz, pad with 0).

    Args:
        preset: str. The checkpoint folder.
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: the audio settings live in the preprocessor file).
    """
    return audio_converter_config(preset, _PORT_NAME, default_normalize=False)


def describe(backbone, audio_converter):
    """str. The converted model in a few words, for the conversion report."""
    layout = "large (pre-LN)" if backbone.normalize_first else "base (post-LN)"
    return (
        f"WavLM {layout}, {backbone.num_layers} layers x "
        f"{backbone.hidden_dim}, {backbone.count_params():,} parameters, "
        f"normalize={audio_converter.do_normalize}"
    )


# === Weights ===


def _port_front_end(backbone, loader):
    # Conv feature encoder, feature projection, positional conv, encoder
    # LayerNorm: wav2vec2's modules under wav2vec2's names.
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
    norm = backbone.feature_projection_norm
    port(norm.gamma, "feature_projection.layer_norm.weight")
    port(norm.beta, "feature_projection.layer_norm.bias")
    projection = backbone.feature_projection
    port(projection.kernel, "feature_projection.projection.weight", _dense)
    port(projection.bias, "feature_projection.projection.bias")
    pos_conv = backbone.pos_conv_embedding.conv
    loader.set_tensor("encoder.pos_conv_embed.conv.weight", _pos_conv_weight(loader))
    port(pos_conv.kernel, "encoder.pos_conv_embed.conv.weight", _conv)
    port(pos_conv.bias, "encoder.pos_conv_embed.conv.bias")
    port(backbone.encoder_norm.gamma, "encoder.layer_norm.weight")
    port(backbone.encoder_norm.beta, "encoder.layer_norm.bias")


def _heads(value, shape):  # torch (1, heads, 1, 1) -> keras (heads,)
    if value.size != int(np.prod(shape)):
        return value  # port_weight names the mismatch
    return value.reshape(shape)


def convert_weights(backbone, loader, transformers_config=None):
    """Copy transformers `WavLMModel` weights into a `WavLMBackbone`.

    Args:
        backbone: `WavLMBackbone`. Built with `convert_backbone_config`.
        loader: `CheckpointWeights`, or a dict of str to numpy array (the
            checkpoint's tensors, as `load_checkpoint_weights` returns).
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: the backbone already carries the architecture).

    Returns:
        The list of checkpoint keys that were not used (task heads and
        pretraining-only tensors).
    """
    if not isinstance(loader, CheckpointWeights):
        loader = CheckpointWeights(loader, MODEL_PREFIXES, IGNORED_PREFIXES)
    port = loader.port_weight
    _port_front_end(backbone, loader)

    for i, layer in enumerate(backbone.encoder_layers):
        prefix = f"encoder.layers.{i}."
        for dense_layer, name in (
            (layer.query_dense, "attention.q_proj"),
            (layer.key_dense, "attention.k_proj"),
            (layer.value_dense, "attention.v_proj"),
            (layer.output_dense, "attention.out_proj"),
            (layer.gru_rel_pos_linear, "attention.gru_rel_pos_linear"),
            (layer.intermediate_dense, "feed_forward.intermediate_dense"),
            (layer.ffn_output_dense, "feed_forward.output_dense"),
        ):
            port(dense_layer.kernel, f"{prefix}{name}.weight", _dense)
            port(dense_layer.bias, f"{prefix}{name}.bias")
        port(
            layer.gru_rel_pos_const,
            prefix + "attention.gru_rel_pos_const",
            _heads,
        )
        if layer.rel_attn_embed is not None:
            port(
                layer.rel_attn_embed.embeddings,
                prefix + "attention.rel_attn_embed.weight",
            )
        port(layer.attention_norm.gamma, prefix + "layer_norm.weight")
        port(layer.attention_norm.beta, prefix + "layer_norm.bias")
        port(layer.ffn_norm.gamma, prefix + "final_layer_norm.weight")
        port(layer.ffn_norm.beta, prefix + "final_layer_norm.bias")

    loader.check_all_used(_PORT_NAME)
    return list(loader.ignored)
