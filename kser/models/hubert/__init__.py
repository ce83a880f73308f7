"""The HuBERT family (Hsu et al., 2021): backbone, layers, presets and
audio converter, in keras-hub's layout.

`kser.models.registry.FAMILIES["hubert"]` points here; the family module
exposes `backbone_cls`, `audio_converter_cls` and `backbone_presets`.
"""

from kser.models.hubert.audio_converter import HubertAudioConverter
from kser.models.hubert.backbone import HubertBackbone
from kser.models.hubert.presets import backbone_presets

backbone_cls = HubertBackbone
audio_converter_cls = HubertAudioConverter

__all__ = [
    "HubertAudioConverter",
    "HubertBackbone",
    "audio_converter_cls",
    "backbone_cls",
    "backbone_presets",
]
