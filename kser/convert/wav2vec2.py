"""transformers `Wav2Vec2Model` (model_type "wav2vec2") -> kser
`Wav2Vec2Backbone`.

A converter module for `kser.convert.CONVERTERS`, in the shape of
`kser.convert.hubert` (keras-hub's `convert_*.py`): `backbone_cls`,
`audio_converter_cls` (resolved on first use, so importing this module
does not import Keras), `convert_backbone_config`, `convert_weights`,
`load_audio_converter_config` and `describe`.

The weight-porting helpers here (`port_feature_encoder`,
`port_feature_projection`, `port_encoder_layers`) serve every family whose
modules carry wav2vec2's names (data2vec-audio too).

Pretraining checkpoints (`Wav2Vec2ForPreTraining`, e.g.
facebook/wav2vec2-base) carry a quantizer and the `project_q` /
`project_hid` heads: these are ignored and listed in the report, as are
task heads (`lm_head`, `classifier`, `projector`, `layer_weights`).
"""

from kser.convert.checkpoint import CheckpointWeights
from kser.convert.checkpoint import audio_converter_config
from kser.convert.hubert import _conv
from kser.convert.hubert import _dense
from kser.convert.hubert import _pos_conv_weight
from kser.errors import ConversionError

# The model inside task checkpoints (Wav2Vec2ForCTC, ...ForPreTraining,
# ...ForSequenceClassification) and keys that are not part of Wav2Vec2Model.
MODEL_PREFIXES = ("wav2vec2.",)
IGNORED_PREFIXES = (
    "lm_head.",
    "classifier.",
    "projector.",
    "layer_weights",
    "masked_spec_embed",
    "quantizer.",
    "project_q.",
    "project_hid.",
)

_PORT_NAME = "kser's wav2vec2 port"


def __getattr__(name):
    # The Keras classes load only when a converter needs them.
    if name == "backbone_cls":
        from kser.models.wav2vec2 import Wav2Vec2Backbone

        return Wav2Vec2Backbone
    if name == "audio_converter_cls":
        from kser.models.wav2vec2 import Wav2Vec2AudioConverter

        return Wav2Vec2AudioConverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# === Configs ===


def check_unsupported(hf_config, port_name):
    """Raise `ConversionError`, one line naming the field, for what the
    wav2vec2-style ports do not implement (adapters, batch-norm positional
    conv, activations other than GELU)."""
    if hf_config.get("conv_pos_batch_norm", False):
        raise ConversionError(
            f"config.json sets conv_pos_batch_norm, which {port_name} does "
            "not implement"
        )
    if hf_config.get("add_adapter", False):
        raise ConversionError(
            f"config.json sets add_adapter (a conv adapter after the "
            f"encoder), which {port_name} does not implement"
        )
    if hf_config.get("adapter_attn_dim") is not None:
        raise ConversionError(
            f"config.json sets adapter_attn_dim (attention adapters), which "
            f"{port_name} does not implement"
        )
    for key in ("feat_extract_activation", "hidden_act"):
        act = hf_config.get(key, "gelu")
        if act != "gelu":
            raise ConversionError(
                f"config.json has {key} {act!r}; {port_name} implements "
                "'gelu' only"
            )


def conv_encoder_config(hf_config):
    """The conv feature encoder and transformer arguments every
    wav2vec2-style backbone shares."""
    return {
        "conv_dims": list(hf_config.get("conv_dim", [512] * 7)),
        "conv_kernel_sizes": list(
            hf_config.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2])
        ),
        "conv_strides": list(hf_config.get("conv_stride", [5, 2, 2, 2, 2, 2, 2])),
        "conv_bias": bool(hf_config.get("conv_bias", False)),
        "hidden_dim": hf_config.get("hidden_size", 768),
        "num_layers": hf_config.get("num_hidden_layers", 12),
        "num_heads": hf_config.get("num_attention_heads", 12),
        "intermediate_dim": hf_config.get("intermediate_size", 3072),
        "layer_norm_epsilon": hf_config.get("layer_norm_eps", 1e-5),
        "dropout": hf_config.get("hidden_dropout", 0.1),
        "attention_dropout": hf_config.get("attention_dropout", 0.1),
    }


def convert_backbone_config(transformers_config):
    """`Wav2Vec2Backbone` arguments from a transformers `Wav2Vec2Config` dict.

    Refuses, with one line naming the field, configurations the port does
    not implement.

    Args:
        transformers_config: dict. The checkpoint's `config.json`.
    """
    hf_config = transformers_config
    check_unsupported(hf_config, _PORT_NAME)
    norm = hf_config.get("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise ConversionError(
            f"config.json has feat_extract_norm {norm!r}; kser implements "
            "'group' and 'layer'"
        )
    if hf_config.get("num_conv_pos_embeddings", 128) < 1:
        raise ConversionError("config.json: num_conv_pos_embeddings < 1")
    return {
        **conv_encoder_config(hf_config),
        "feature_norm": norm,
        "pos_conv_kernel_size": hf_config.get("num_conv_pos_embeddings", 128),
        "pos_conv_groups": hf_config.get("num_conv_pos_embedding_groups", 16),
        "normalize_first": bool(hf_config.get("do_stable_layer_norm", False)),
    }


def transformers_config_kwargs(preset):
    """`transformers.Wav2Vec2Config` keyword arguments of a kser preset's
    architecture (the inverse of `convert_backbone_config`), to build the
    matching transformers model, e.g. with random weights for a comparison.
    """
    from kser.models.wav2vec2 import backbone_presets

    config = backbone_presets[preset]["config"]
    return {
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "feat_extract_norm": config["feature_norm"],
        "do_stable_layer_norm": config["normalize_first"],
        "conv_bias": config["conv_bias"],
        "num_conv_pos_embeddings": config["pos_conv_kernel_size"],
        "num_conv_pos_embedding_groups": config["pos_conv_groups"],
    }


def load_audio_converter_config(preset, transformers_config=None):
    """`Wav2Vec2AudioConverter` arguments from `preprocessor_config.json`.

    Args:
        preset: str. The checkpoint folder.
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: the audio settings live in the preprocessor file).
    """
    return audio_converter_config(preset, _PORT_NAME)


def describe(backbone, audio_converter):
    """str. The converted model in a few words, for the conversion report."""
    layout = "large (pre-LN)" if backbone.normalize_first else "base (post-LN)"
    return (
        f"wav2vec2 {layout}, {backbone.num_layers} layers x "
        f"{backbone.hidden_dim}, {backbone.count_params():,} parameters, "
        f"normalize={audio_converter.do_normalize}"
    )


# === Weights ===


def port_feature_encoder(port, encoder):
    """The conv feature encoder (`feature_extractor.conv_layers.*`)."""
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


def port_feature_projection(port, backbone):
    """The LayerNorm and projection after the conv encoder."""
    norm = backbone.feature_projection_norm
    port(norm.gamma, "feature_projection.layer_norm.weight")
    port(norm.beta, "feature_projection.layer_norm.bias")
    port(
        backbone.feature_projection.kernel,
        "feature_projection.projection.weight",
        _dense,
    )
    port(backbone.feature_projection.bias, "feature_projection.projection.bias")


def port_encoder_layers(port, backbone):
    """`encoder.layer_norm` and every `encoder.layers.*` transformer layer."""
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


def convert_weights(backbone, loader, transformers_config=None):
    """Copy transformers `Wav2Vec2Model` weights into a `Wav2Vec2Backbone`.

    The positional conv's weight norm is folded into a plain kernel; both
    spellings (`weight_g`/`weight_v` and `parametrizations.weight.*`) load.

    Args:
        backbone: `Wav2Vec2Backbone`. Built with `convert_backbone_config`.
        loader: `CheckpointWeights`, or a dict of str to numpy array (the
            checkpoint's tensors, as `load_checkpoint_weights` returns).
        transformers_config: dict or None. The checkpoint's `config.json`
            (unused: the backbone already carries the architecture).

    Returns:
        The list of checkpoint keys that were not used (task heads,
        the quantizer and other training-only tensors).
    """
    if not isinstance(loader, CheckpointWeights):
        loader = CheckpointWeights(loader, MODEL_PREFIXES, IGNORED_PREFIXES)
    port = loader.port_weight
    port_feature_encoder(port, backbone.feature_encoder)
    port_feature_projection(port, backbone)
    pos_conv = backbone.pos_conv_embedding.conv
    loader.set_tensor("encoder.pos_conv_embed.conv.weight", _pos_conv_weight(loader))
    port(pos_conv.kernel, "encoder.pos_conv_embed.conv.weight", _conv)
    port(pos_conv.bias, "encoder.pos_conv_embed.conv.bias")
    port_encoder_layers(port, backbone)
    loader.check_all_used(_PORT_NAME)
    return list(loader.ignored)
