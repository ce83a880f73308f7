"""Waveform normalisation for data2vec-audio, as transformers'
`Wav2Vec2FeatureExtractor` does it (HuBERT's converter, data2vec's name)."""

import keras

from kser.models.data2vec_audio.backbone import Data2VecAudioBackbone
from kser.models.hubert.audio_converter import HubertAudioConverter


@keras.saving.register_keras_serializable(package="kser")
class Data2VecAudioConverter(HubertAudioConverter):
    """Prepares mono 16 kHz waveforms for `Data2VecAudioBackbone`.

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
    converter = Data2VecAudioConverter()
    backbone(converter(np.random.randn(2, 16000).astype("float32")))
    ```
    """

    backbone_cls = Data2VecAudioBackbone
