"""WavLM's audio converter: transformers' Wav2Vec2FeatureExtractor, whose
logic HuBERT's converter already has; only the default differs."""

import keras

from kser.models.hubert.audio_converter import HubertAudioConverter
from kser.models.wavlm.backbone import WavLMBackbone


@keras.saving.register_keras_serializable(package="kser")
class WavLMAudioConverter(HubertAudioConverter):
    """Prepares mono 16 kHz waveforms for `WavLMBackbone`.

    WavLM checkpoints use transformers' `Wav2Vec2FeatureExtractor`. Microsoft's
    `microsoft/wavlm-base` and `microsoft/wavlm-base-plus` set
    `do_normalize: false` in their `preprocessor_config.json` (the base
    models were pretrained on raw waveforms), so the default here is not to
    normalise; `kser convert` copies the checkpoint's own setting, so a
    converted preset always does what its checkpoint says. With
    `do_normalize=True` each clip becomes `(x - mean) / sqrt(var + 1e-7)`
    over its unpadded samples (`kser.models.waveform.normalize_waveform`)
    and padding stays 0. Works in eager code on any backend and inside
    `tf.data`.

    Args:
        do_normalize: bool. Normalise each clip.
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
    converter = WavLMAudioConverter()
    inputs = converter(np.random.randn(2, 16000).astype("float32"))
    backbone(inputs)
    ```
    """

    backbone_cls = WavLMBackbone

    def __init__(self, do_normalize=False, **kwargs):
        super().__init__(do_normalize=do_normalize, **kwargs)
