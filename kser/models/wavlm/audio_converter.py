"""WavLM's audio converter: transformers' Wav2Vec2FeatureExtractor."""

import keras
from keras import ops
from keras_hub.layers import AudioConverter
from keras_hub.src.utils.tensor_utils import in_tf_function

from kser.models.waveform import normalize_waveform
from kser.models.waveform import ops_namespace
from kser.models.wavlm.backbone import SAMPLE_RATE
from kser.models.wavlm.backbone import WavLMBackbone


@keras.saving.register_keras_serializable(package="kser")
class WavLMAudioConverter(AudioConverter):
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

    def __init__(
        self,
        do_normalize=False,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.do_normalize = do_normalize
        self.sampling_rate = sampling_rate
        self.padding_value = padding_value

    def call(self, waveform, padding_mask=None):
        if in_tf_function():
            import tensorflow as tf

            xp = ops_namespace("tf")
            waveform = tf.convert_to_tensor(waveform, "float32")
            if padding_mask is None:
                padding_mask = tf.ones_like(waveform, "int32")
            padding_mask = tf.cast(padding_mask, "int32")
            where = tf.where
        else:
            xp = ops
            waveform = ops.convert_to_tensor(waveform, "float32")
            if padding_mask is None:
                padding_mask = ops.ones_like(waveform, "int32")
            padding_mask = ops.cast(padding_mask, "int32")
            where = ops.where
        if self.do_normalize:
            waveform = normalize_waveform(waveform, padding_mask, xp)
        if self.padding_value != 0.0:
            waveform = where(
                padding_mask > 0,
                waveform,
                xp.cast(self.padding_value, waveform.dtype),
            )
        return {"waveform": waveform, "padding_mask": padding_mask}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "do_normalize": self.do_normalize,
                "sampling_rate": self.sampling_rate,
                "padding_value": self.padding_value,
            }
        )
        return config
