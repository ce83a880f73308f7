"""The data2vec-audio family (Baevski et al., 2022): backbone, layers,
presets and audio converter, in keras-hub's layout.

`kser.models.registry.FAMILIES["data2vec_audio"]` points here; the family
module exposes `backbone_cls`, `audio_converter_cls` and `backbone_presets`.
"""

from kser.models.data2vec_audio.audio_converter import Data2VecAudioConverter
from kser.models.data2vec_audio.backbone import Data2VecAudioBackbone
from kser.models.data2vec_audio.layers import Data2VecAudioPositionalConvEmbedding
from kser.models.data2vec_audio.presets import backbone_presets

backbone_cls = Data2VecAudioBackbone
audio_converter_cls = Data2VecAudioConverter

__all__ = [
    "Data2VecAudioBackbone",
    "Data2VecAudioConverter",
    "Data2VecAudioPositionalConvEmbedding",
    "audio_converter_cls",
    "backbone_cls",
    "backbone_presets",
]
