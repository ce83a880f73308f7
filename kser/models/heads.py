"""Classification heads over frozen backbone frame features, by name.

A head is a small functional Keras model with inputs
`{"features", "frame_padding_mask"}` and logits out. `HEADS` maps a name to
a function `head(x, frame_padding_mask, num_classes, **head_args)` that
takes the (already layer-mixed) features and returns logits; a new head is
one such function plus one line in `HEADS`, and `build_head(name, ...)`
stays the public entry point. The same head runs on
cached backbone features (fast cross-validation) and inside
`EmotionClassifier` on live backbone outputs, so both paths share weights
and give the same numbers.
"""

import inspect

import keras
from keras import ops

from kser.models.bilstm import Bidirectional

LAYER_CHOICES = ("last", "weighted")
LSTM_IMPLS = ("fast", "keras")


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


def dense_head(x, frame_padding_mask, num_classes, hidden_units=256,
               dropout=0.2):
    """The paper's classification layer: masked mean pooling over valid
    frames -> Dense(`hidden_units`, ReLU) -> Dropout -> Dense(classes)."""
    x = MaskedMeanPooling(name="pooling")(x, frame_padding_mask)
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


def lstm_head(x, frame_padding_mask, num_classes, lstm_units=256,
              dropout=0.2, lstm_impl="fast"):
    """The paper's Hubert-LSTM: one bidirectional LSTM(`lstm_units`) over
    the frame sequence, skipping padded frames -> Dropout -> Dense.

    `lstm_impl="fast"` (default) is `kser.models.bilstm.Bidirectional`: the
    same math, variables and weight files as Keras'
    `Bidirectional(LSTM(lstm_units))`, faster on CPU; `"keras"` is Keras'
    layer itself."""
    if lstm_impl == "fast":
        layer = Bidirectional(lstm_units, name="bilstm")
    elif lstm_impl == "keras":
        layer = keras.layers.Bidirectional(
            keras.layers.LSTM(lstm_units), name="bilstm"
        )
    else:
        raise ValueError(
            f"unknown lstm_impl {lstm_impl!r}: choose one of "
            f"{', '.join(LSTM_IMPLS)}"
        )
    x = layer(x, mask=frame_padding_mask)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


# Head name -> function; one line per head.
HEADS = {
    "dense": dense_head,
    "lstm": lstm_head,
}


def head_names():
    """list of str. The registered head names."""
    return list(HEADS)


def _head_arg_names(fn):
    params = list(inspect.signature(fn).parameters.values())[3:]
    return {p.name: p.default for p in params}


def head_defaults(head):
    """dict. A head's own arguments and their defaults."""
    return _head_arg_names(_get_head(head))


def _get_head(head):
    if head not in HEADS:
        raise ValueError(
            f"unknown head {head!r}: choose one of {', '.join(HEADS)}"
        )
    return HEADS[head]


def select_head_args(head, head_args):
    """The entries of `head_args` that `head` takes.

    Arguments that belong to another registered head are dropped (so one
    set of settings serves every head); an argument no head takes is an
    error.
    """
    fn = _get_head(head)
    own = _head_arg_names(fn)
    known = set()
    for other in HEADS.values():
        known.update(_head_arg_names(other))
    unknown = sorted(set(head_args) - known)
    if unknown:
        raise ValueError(
            f"unknown head argument(s) {', '.join(unknown)} for head "
            f"{head!r}: it takes {', '.join(own) or 'none'}"
        )
    return {k: v for k, v in head_args.items() if k in own}


def build_head(
    head,
    feature_dim,
    num_classes=8,
    layers="last",
    num_states=None,
    name=None,
    **head_args,
):
    """Build a classification head as a functional model.

    `head="dense"`: masked mean pooling over valid frames -> Dense
    (`hidden_units`, ReLU) -> Dropout -> Dense(`num_classes`), the paper's
    classification layer. `head="lstm"`: one bidirectional LSTM(`lstm_units`)
    over the frame sequence, skipping padded frames -> Dropout ->
    Dense(`num_classes`), the paper's Hubert-LSTM (`lstm_impl="fast"`,
    the default, runs kser's `Bidirectional`, the same math and weight
    files as Keras' `Bidirectional(LSTM)`; `"keras"` runs Keras' layer).
    Other heads: `HEADS`.

    Args:
        head: str. A name in `HEADS` (`"dense"`, `"lstm"`).
        feature_dim: int. Width of the backbone features.
        num_classes: int. Output classes.
        layers: str. `"last"` (features `(batch, frames, dim)`, the paper)
            or `"weighted"` (features `(batch, num_states, frames, dim)`,
            mixed by a learned softmax weight per layer).
        num_states: int. Hidden states when `layers="weighted"`.
        name: str. Model name.
        **head_args: the head's own arguments, e.g. `hidden_units`,
            `dropout` (dense) or `lstm_units`, `dropout`, `lstm_impl` (lstm); arguments
            of other heads are ignored, unknown ones are an error.

    Returns:
        A `keras.Model` from `{"features", "frame_padding_mask"}` to logits.

    Examples:
    ```python
    head = build_head("lstm", feature_dim=768, num_classes=8, lstm_units=128)
    ```
    """
    fn = _get_head(head)
    args = select_head_args(head, head_args)
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
    logits = fn(x, mask_input, num_classes, **args)
    return keras.Model(
        {"features": features_input, "frame_padding_mask": mask_input},
        logits,
        name=name or f"{head}_head",
    )
