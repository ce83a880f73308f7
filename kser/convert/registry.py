"""Which converter module handles which transformers `model_type`.

One line per family in `CONVERTERS`: the `model_type` of the checkpoint's
`config.json` -> the module that converts it. A converter module provides
what `kser.convert.hubert` does (`backbone_cls`, `audio_converter_cls`,
`convert_backbone_config`, `convert_weights`, `load_audio_converter_config`,
`describe`), as keras-hub's `convert_*.py` modules do for its
`TransformersPresetLoader`. Modules are imported on first use.
"""

import importlib

from kser.errors import ConversionError

CONVERTERS = {
    "hubert": "kser.convert.hubert",
    "wav2vec2": "kser.convert.wav2vec2",
    "data2vec-audio": "kser.convert.data2vec_audio",
    "wavlm": "kser.convert.wavlm",
}


def supported_model_types():
    """list of str. The `model_type` values kser converts."""
    return list(CONVERTERS)


def get_converter(model_type):
    """The converter module for a transformers `model_type`.

    Args:
        model_type: str or None. `config.json`'s `model_type`.

    Raises:
        ConversionError: one line naming the type and the supported ones.
    """
    if not isinstance(model_type, str) or model_type not in CONVERTERS:
        supported = ", ".join(repr(t) for t in CONVERTERS)
        found = (
            "has no model_type" if model_type is None
            else f"has model_type {model_type!r}"
        )
        raise ConversionError(
            f"config.json {found}, which kser cannot convert; supported "
            f"model types: {supported}"
        )
    return importlib.import_module(CONVERTERS[model_type])
