"""Waveform normalisation for wav2vec 2.0, as transformers'
`Wav2Vec2FeatureExtractor` does it (HuBERT's converter, wav2vec2's name)."""

import keras

from kser.models.hubert.audio_converter import HubertAudioConverter
from kser.models.wav2vec2.backbone import Wav2Vec2Backbone


@keras.saving.register_keras_serializable(package="kser")
class Wav2Vec2AudioConverter(HubertAudioConverter):
    """Prepares mono 16 kHz waveforms for `Wav2Vec2Backbone`.

    With `do_normalize=True` each clip becomes
    `(x - mean) / sqrt(var + 1e-7)` over its unpadded samples and padding
    stays 0 (`kser.models.waveform.normalize_waveform`), exactly as
    transformers' `Wav2Vec2FeatureExtractor`. Works in eager code on any
    backend and inside `tf.data`.

    Args:
        do_normalize: bool. Normalise each clip (the checkpoint's
            `preprocessor_config.json` says whether it expects this).
        sampling_rate: int. The sample rate the backbone expects (16000).
        padding_value: float. Value written at padded samples.

    Call arguments:
        waveform: float tensor of shape `(batch, samples)`.
        padding_mask: optional tensor of shape `(batch, samples)`, 1 for real
            samples; all ones when omitted.

    Returns:
        A dict `{"waveform", "padding_mask"}` for the backbone.

    Examples:
    ```python
    converter = Wav2Vec2AudioConverter()
    backbone(converter(np.random.randn(2, 16000).astype("float32")))
    ```
    """

    backbone_cls = Wav2Vec2Backbone
