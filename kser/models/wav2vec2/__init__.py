"""The wav2vec 2.0 family (Baevski et al., 2020): backbone, presets and
audio converter, in keras-hub's layout. Its layers are the shared
`kser.models.speech_encoder_layers`.

`kser.models.registry.FAMILIES["wav2vec2"]` points here; the family module
exposes `backbone_cls`, `audio_converter_cls` and `backbone_presets`.
"""

from kser.models.wav2vec2.audio_converter import Wav2Vec2AudioConverter
from kser.models.wav2vec2.backbone import Wav2Vec2Backbone
from kser.models.wav2vec2.presets import backbone_presets

backbone_cls = Wav2Vec2Backbone
audio_converter_cls = Wav2Vec2AudioConverter

__all__ = [
    "Wav2Vec2AudioConverter",
    "Wav2Vec2Backbone",
    "audio_converter_cls",
    "backbone_cls",
    "backbone_presets",
]
