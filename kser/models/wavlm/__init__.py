"""The WavLM family (Chen et al., 2021): backbone, layers, presets and
audio converter, in keras-hub's layout.

`kser.models.registry.FAMILIES["wavlm"]` points here; the family module
exposes `backbone_cls`, `audio_converter_cls` and `backbone_presets`.
"""

from kser.models.wavlm.audio_converter import WavLMAudioConverter
from kser.models.wavlm.backbone import WavLMBackbone
from kser.models.wavlm.presets import backbone_presets

backbone_cls = WavLMBackbone
audio_converter_cls = WavLMAudioConverter

__all__ = [
    "WavLMAudioConverter",
    "WavLMBackbone",
    "audio_converter_cls",
    "backbone_cls",
    "backbone_presets",
]
