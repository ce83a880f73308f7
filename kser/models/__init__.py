"""Keras models: the HuBERT backbone, its audio converter, presets, and the
emotion classifier with its heads."""

from kser.models.emotion_classifier import EmotionClassifier
from kser.models.emotion_classifier import FrozenFeatureExtractor
from kser.models.heads import build_head
from kser.models.hubert_audio_converter import HubertAudioConverter
from kser.models.hubert_backbone import HubertBackbone
from kser.models.hubert_presets import backbone_presets

__all__ = [
    "EmotionClassifier",
    "FrozenFeatureExtractor",
    "HubertAudioConverter",
    "HubertBackbone",
    "backbone_presets",
    "build_head",
]
