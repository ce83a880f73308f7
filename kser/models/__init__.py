"""Keras models: speech-encoder backbones by family, their audio converters
and presets, and the emotion classifier with its heads.

- `hubert/`, `wav2vec2/`, `wavlm/`, `data2vec_audio/`: the backbone
  families (backbone, layers, presets, audio converter each).
- `speech_encoder_layers`: conv feature encoder, positional conv and
  transformer layers that wav2vec2-style families share.
- `registry`: `FAMILIES`, one line per backbone family; `loader` picks the
  family from a preset's config (`load_backbone`, `load_audio_converter`).
- `heads`: `HEADS`, one line per head; `build_head(name, ...)`.
- `emotion_classifier`: `EmotionClassifier`, `FrozenFeatureExtractor`.
- `waveform`, `fingerprint`: Keras-free helpers (normalisation, frame
  arithmetic, weights fingerprint).

Names are imported on first use, so `import kser.models.waveform` needs no
Keras. Model code imports nothing from `kser.data`.
"""

import importlib

_EXPORTS = {
    "kser.models.emotion_classifier": (
        "EmotionClassifier",
        "FrozenFeatureExtractor",
    ),
    "kser.models.heads": ("HEADS", "build_head", "head_names"),
    "kser.models.hubert": (
        "HubertAudioConverter",
        "HubertBackbone",
        "backbone_presets",
    ),
    "kser.models.registry": (
        "FAMILIES",
        "all_presets",
        "family_names",
        "family_of",
        "get_family",
    ),
    "kser.models.wav2vec2": ("Wav2Vec2AudioConverter", "Wav2Vec2Backbone"),
    "kser.models.wavlm": ("WavLMAudioConverter", "WavLMBackbone"),
    "kser.models.data2vec_audio": (
        "Data2VecAudioBackbone",
        "Data2VecAudioConverter",
    ),
    "kser.models.loader": (
        "build_backbone",
        "load_audio_converter",
        "load_backbone",
        "preset_family",
    ),
    "kser.models.fingerprint": ("weights_fingerprint",),
    "kser.models.waveform": ("conv_output_length", "normalize_waveform"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'kser.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
