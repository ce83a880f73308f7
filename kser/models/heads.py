"""Classification heads over frozen HuBERT frame features.

A head is a small functional Keras model with inputs
`{"features", "frame_padding_mask"}` and logits out. The same head runs on
cached backbone features (fast cross-validation) and inside
`EmotionClassifier` on live backbone outputs, so both paths share weights
and give the same numbers.
"""

import keras
from keras import ops

HEADS = ("dense", "lstm")
LAYER_CHOICES = ("last", "weighted")


@keras.saving.register_keras_serializable(package="kser")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over valid frames: `sum(x * mask) / max(sum(mask), 1)`.

    Call arguments:
        x: tensor of shape `(batch, frames, dim)`.
        frame_padding_mask: boolean tensor of shape `(batch, frames)`.
    """

    def call(self, x, frame_padding_mask):
        mask = ops.cast(frame_padding_mask, x.dtype)[:, :, None]
        total = ops.sum(x * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, x_shape, frame_padding_mask_shape):
        return (x_shape[0], x_shape[2])


@keras.saving.register_keras_serializable(package="kser")
class LayerWeightedSum(keras.layers.Layer):
    """A learned softmax-weighted sum of all hidden states (as SUPERB).

    Weights start equal. Input `(batch, num_states, frames, dim)`, output
    `(batch, frames, dim)`.

    Args:
        num_states: int. Hidden states to mix (`num_layers + 1`).
    """

    def __init__(self, num_states, **kwargs):
        super().__init__(**kwargs)
        self.num_states = num_states

    def build(self, input_shape):
        self.layer_logits = self.add_weight(
            shape=(self.num_states,), initializer="zeros", name="layer_logits"
        )

    def call(self, hidden_states):
        weights = ops.softmax(ops.cast(self.layer_logits, hidden_states.dtype))
        return ops.einsum("blfd,l->bfd", hidden_states, weights)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config["num_states"] = self.num_states
        return config


def build_head(
    head,
    feature_dim,
    num_classes=8,
    layers="last",
    num_states=None,
    hidden_units=256,
    dropout=0.2,
    lstm_units=256,
    name=None,
):
    """Build a classification head as a functional model.

    `head="dense"`: masked mean pooling over valid frames -> Dense
    (`hidden_units`, ReLU) -> Dropout -> Dense(`num_classes`), the paper's
    classification layer. `head="lstm"`: one `Bidirectional(LSTM(lstm_units))`
    over the frame sequence, skipping padded frames -> Dropout ->
    Dense(`num_classes`), the paper's Hubert-LSTM.

    Args:
        head: str. `"dense"` or `"lstm"`.
        feature_dim: int. Width of the backbone features.
        num_classes: int. Output classes.
        layers: str. `"last"` (features `(batch, frames, dim)`, the paper)
            or `"weighted"` (features `(batch, num_states, frames, dim)`,
            mixed by a learned softmax weight per layer).
        num_states: int. Hidden states when `layers="weighted"`.
        hidden_units: int. Width of the dense head's hidden layer.
        dropout: float. Dropout before the output layer.
        lstm_units: int. Units per direction of the LSTM head.
        name: str. Model name.

    Returns:
        A `keras.Model` from `{"features", "frame_padding_mask"}` to logits.
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}: choose one of {HEADS}")
    if layers not in LAYER_CHOICES:
        raise ValueError(f"unknown layers {layers!r}: choose one of {LAYER_CHOICES}")
    if layers == "weighted":
        if not num_states:
            raise ValueError("`num_states` is needed with layers='weighted'")
        features_input = keras.Input(
            shape=(num_states, None, feature_dim), name="features"
        )
    else:
        features_input = keras.Input(shape=(None, feature_dim), name="features")
    mask_input = keras.Input(shape=(None,), dtype="bool", name="frame_padding_mask")

    x = features_input
    if layers == "weighted":
        x = LayerWeightedSum(num_states, name="layer_weights")(x)
    if head == "dense":
        x = MaskedMeanPooling(name="pooling")(x, mask_input)
        x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    else:
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(lstm_units), name="bilstm"
        )(x, mask=mask_input)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(
        {"features": features_input, "frame_padding_mask": mask_input},
        logits,
        name=name or f"{head}_head",
    )
