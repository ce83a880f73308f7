"""transformers `Data2VecAudioModel` (model_type "data2vec-audio") -> kser
`Data2VecAudioBackbone`.

A converter module for `kser.convert.CONVERTERS`, in the shape of
`kser.convert.hubert`: `backbone_cls`, `audio_converter_cls` (resolved on
first use, so importing this module does not import Keras),
`convert_backbone_config`, `convert_weights`, `load_audio_converter_config`
and `describe`. The conv encoder, feature projection and transformer
layers carry wav2vec2's names and are ported by `kser.convert.wav2vec2`'s
helpers; the positional convs (`encoder.pos_conv_embed.layers.*.conv`)
have no weight norm.
"""

from kser.convert.checkpoint import CheckpointWeights
from kser.convert.checkpoint import audio_converter_config
from kser.convert.hubert import _conv
from kser.convert.wav2vec2 import check_unsupported
from kser.convert.wav2vec2 import conv_encoder_config
from kser.convert.wav2vec2 import port_encoder_layers
from kser.convert.wav2vec2 import port_feature_encoder
from kser.convert.wav2vec2 import port_feature_projection
from kser.errors import ConversionError

# The model inside task checkpoints (Data2VecAudioForCTC,
# ...ForSequenceClassification) and keys that are not part of the model.
MODEL_PREFIXES = ("data2vec_audio.",)
IGNORED_PREFIXES = (
    "lm_head.",
    "classifier.",
    "projector.",
    "layer_weights",
    "masked_spec_embed",
)

_PORT_NAME = "kser's data2vec-audio port"


def __getattr__(name):
    # The Keras classes load only when a converter needs them.
    if name == "backbone_cls":
        from kser.models.data2vec_audio import Data2VecAudioBackbone

        return Data2VecAudioBackbone
    if name == "audio_converter_cls":
        from kser.models.data2vec_audio import Data2VecAudioConverter

        return Data2VecAudioConverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# === Configs ===


def convert_backbone_config(transformers_config):
    """`Data2VecAudioBackbone` arguments from a transformers
    `Data2VecAudioConfig` dict.

    transformers' data2vec-audio always has a layer-norm conv encoder and a
    post-LN transformer (it ignores `feat_extract_norm` and
    `do_stable_layer_norm`), so neither is read. Refuses, with one line
    naming the field, configurations the port does not implement.

    Args:
        transformers_config: dict. The checkpoint's `config.json`.
    """
    hf_config = transformers_config
    check_unsupported(hf_config, _PORT_NAME)
    depth = hf_config.get("num_conv_pos_embeddings", 5)
    kernel = hf_config.get("conv_pos_kernel_size", 19)
    if depth < 1 or kernel < 1:
        raise ConversionError(
            "config.json: num_conv_pos_embeddings and conv_pos_kernel_size "
            "must be >= 1"
        )
    return {
        **conv_encoder_config(hf_config),
        "pos_conv_kernel_size": kernel,
        "pos_conv_groups": hf_config.get("num_conv_pos_embedding_groups", 16),
        "pos_conv_depth": depth,
    }


def transformers_config_kwargs(preset):
    """`transformers.Data2VecAudioConfig` keyword arguments of a kser
    preset's architecture (the inverse of `convert_backbone_config`)."""
    from kser.models.data2vec_audio import backbone_presets

    config = backbone_presets[preset]["config"]
    return {
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "conv_bias": config["conv_bias"],
        "conv_pos_kernel_size": config["pos_conv_kernel_size"],
        "num_conv_pos_embeddings": config["pos_conv_depth"],
        "num_conv_pos_embedding_groups": config["pos_conv_groups"],
    }


def load_audio_converter_config(preset, transformers_config=None):
    """`Data2VecAudioConverter` arguments from `preprocessor_config.json`
    (transformers' `Wav2Vec2FeatureExtractor` defaults without it).

    Args:
        preset: str. The checkpoint folder.
        transformers_config: dict or None. Unused.
    """
    return audio_converter_config(preset, _PORT_NAME)


def describe(backbone, audio_converter):
    """str. The converted model in a few words, for the conversion report."""
    return (
        f"data2vec-audio, {backbone.num_layers} layers x "
        f"{backbone.hidden_dim}, {backbone.pos_conv_depth} positional convs, "
        f"{backbone.count_params():,} parameters, "
        f"normalize={audio_converter.do_normalize}"
    )


# === Weights ===


def convert_weights(backbone, loader, transformers_config=None):
    """Copy transformers `Data2VecAudioModel` weights into a
    `Data2VecAudioBackbone`.

    Args:
        backbone: `Data2VecAudioBackbone`. Built with
            `convert_backbone_config`.
        loader: `CheckpointWeights`, or a dict of str to numpy array.
        transformers_config: dict or None. Unused.

    Returns:
        The list of checkpoint keys that were not used (task heads and
        training-only tensors).
    """
    if not isinstance(loader, CheckpointWeights):
        loader = CheckpointWeights(loader, MODEL_PREFIXES, IGNORED_PREFIXES)
    port = loader.port_weight
    port_feature_encoder(port, backbone.feature_encoder)
    port_feature_projection(port, backbone)
    for i, conv in enumerate(backbone.pos_conv_embedding.convs):
        prefix = f"encoder.pos_conv_embed.layers.{i}.conv."
        port(conv.kernel, prefix + "weight", _conv)
        port(conv.bias, prefix + "bias")
    port_encoder_layers(port, backbone)
    loader.check_all_used(_PORT_NAME)
    return list(loader.ignored)
