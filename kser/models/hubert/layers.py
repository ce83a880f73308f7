"""HuBERT's layers: the shared speech-encoder layers under HuBERT's names.

HuBERT's conv feature encoder, positional conv and transformer layers are
wav2vec2's; they live in `kser.models.speech_encoder_layers` so the other
families reuse them. The `Hubert*` names (and their registered Keras names,
`kser>HubertFeatureEncoder` ...) keep working.
"""

import keras

from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import ConvFeatureEncoder
from kser.models.speech_encoder_layers import FramePaddingMask
from kser.models.speech_encoder_layers import PositionalConvEmbedding
from kser.models.speech_encoder_layers import TransformerEncoderLayer
from kser.models.speech_encoder_layers import gelu
from kser.models.waveform import conv_output_length
from kser.models.waveform import normalize_waveform

HubertFeatureEncoder = ConvFeatureEncoder
HubertFramePaddingMask = FramePaddingMask
HubertPositionalConvEmbedding = PositionalConvEmbedding
HubertEncoderLayer = TransformerEncoderLayer

for _name, _cls in {
    "HubertFeatureEncoder": ConvFeatureEncoder,
    "HubertFramePaddingMask": FramePaddingMask,
    "HubertPositionalConvEmbedding": PositionalConvEmbedding,
    "HubertEncoderLayer": TransformerEncoderLayer,
}.items():
    keras.saving.get_custom_objects().setdefault(f"kser>{_name}", _cls)

__all__ = [
    "DEFAULT_EPSILON",
    "HubertEncoderLayer",
    "HubertFeatureEncoder",
    "HubertFramePaddingMask",
    "HubertPositionalConvEmbedding",
    "conv_output_length",
    "gelu",
    "normalize_waveform",
]
