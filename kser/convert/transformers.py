"""Former home of checkpoint conversion, kept so old imports keep working.

Conversion now lives in `kser.convert` (`convert_checkpoint`,
`load_transformers_checkpoint`), `kser.convert.checkpoint` (reading) and
one module per transformers `model_type` (`kser.convert.hubert`).
"""

from kser.convert import convert_checkpoint
from kser.convert import get_converter
from kser.convert import load_transformers_checkpoint
from kser.convert.checkpoint import load_checkpoint_weights
from kser.convert.checkpoint import load_hf_config
from kser.convert.checkpoint import read_safetensors
from kser.convert.hubert import convert_weights
from kser.convert.hubert import fold_weight_norm
from kser.convert.hubert import transformers_config_kwargs


def convert_backbone_config(hf_config):
    """Backbone arguments from a checkpoint's `config.json` dict, by the
    converter of its `model_type` (see `kser.convert.CONVERTERS`)."""
    converter = get_converter(hf_config.get("model_type"))
    return converter.convert_backbone_config(hf_config)


def convert_audio_converter_config(hf_dir):
    """HuBERT audio converter arguments from `preprocessor_config.json`."""
    from kser.convert.hubert import load_audio_converter_config

    return load_audio_converter_config(hf_dir)


__all__ = [
    "convert_audio_converter_config",
    "convert_backbone_config",
    "convert_checkpoint",
    "convert_weights",
    "fold_weight_norm",
    "load_checkpoint_weights",
    "load_hf_config",
    "load_transformers_checkpoint",
    "read_safetensors",
    "transformers_config_kwargs",
]
