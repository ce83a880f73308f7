"""Keras models: the HuBERT backbone, its audio converter and presets."""

from kser.models.hubert_audio_converter import HubertAudioConverter
from kser.models.hubert_backbone import HubertBackbone
from kser.models.hubert_presets import backbone_presets

__all__ = ["HubertAudioConverter", "HubertBackbone", "backbone_presets"]
