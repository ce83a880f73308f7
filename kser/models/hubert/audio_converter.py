"""Waveform normalisation as transformers' Wav2Vec2FeatureExtractor does it."""

import keras
from keras import ops
from keras_hub.layers import AudioConverter
from keras_hub.src.utils.tensor_utils import in_tf_function

from kser.models.hubert.backbone import SAMPLE_RATE
from kser.models.hubert.backbone import HubertBackbone
from kser.models.waveform import normalize_waveform
from kser.models.waveform import ops_namespace


@keras.saving.register_keras_serializable(package="kser")
class HubertAudioConverter(AudioConverter):
    """Prepares mono 16 kHz waveforms for `HubertBackbone`.

    With `do_normalize=True` each clip becomes
    `(x - mean) / sqrt(var + 1e-7)` over its unpadded samples and padding
    stays 0, exactly as transformers' `Wav2Vec2FeatureExtractor`. Works in
    eager code on any backend and inside `tf.data`.

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
    converter = HubertAudioConverter()
    inputs = converter(np.random.randn(2, 16000).astype("float32"))
    backbone(inputs)
    ```
    """

    backbone_cls = HubertBackbone

    def __init__(
        self,
        do_normalize=True,
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
