"""A bidirectional LSTM that projects the whole sequence in one matmul.

`Bidirectional(units)` computes exactly what
`keras.layers.Bidirectional(keras.layers.LSTM(units))` computes on a masked
batch and keeps the same variables, but runs faster on CPU: Keras' generic
LSTM multiplies each frame's input by the input kernel inside its time loop
(three quarters of the FLOPs, in small matmuls), while this layer projects
every frame of both directions with one `(frames, features) x (features,
8 * units)` matmul before the loop, and then runs both directions in ONE
`keras.ops.scan` whose step is a single batched `(2, batch, units) x
(2, units, 4 * units)` recurrent matmul.

The class is a subclass of `keras.layers.Bidirectional` and keeps its
sublayers (`forward_layer`, `backward_layer`: Keras `LSTM` layers) and
its class name, so weight files (`.weights.h5`, the weights inside a
`.keras` file) are interchangeable with the Keras layer's: Keras files a
layer's weights under the snake-cased class name (`layers/bidirectional/
forward_layer/cell/vars/0`...), not the layer name.
"""

import keras
from keras import ops

IMPLEMENTATIONS = ("fast", "keras")


def _tensorflow_gpu():
    """bool. Whether Keras runs on tensorflow with a GPU visible (where
    Keras' LSTM runs cuDNN)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def _gates(acts):
    return ops.split(acts, 4, axis=-1)


def _pack(parts):
    """Scan inputs: a tuple, or on tensorflow one tensor (Keras' tensorflow
    scan fails over several tensors when the number of frames is unknown)."""
    if keras.backend.backend() == "tensorflow":
        return ops.concatenate(list(parts), axis=-1)
    return tuple(parts)


def _unpack(x, widths):
    if isinstance(x, (tuple, list)):
        return x
    out, start = [], 0
    for width in widths:
        out.append(x[..., start : start + width])
        start += width
    return out


def _cell(zt, mt, h, c, recurrent):
    """One step of both directions: Keras' LSTM cell, then Keras' masking
    (a masked step keeps the previous state). `zt` is the step's input
    projections `(2, batch, 4u)`, `mt` its mask `(2, batch, 1)`. Returns
    the new `h`, `c` and the activated gates."""
    i, f, g, o = _gates(zt + ops.matmul(h, recurrent))
    i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
    new_c = f * c + i * g
    new_h = o * ops.tanh(new_c)
    valid = mt > 0
    new_h = ops.where(valid, new_h, h)
    new_c = ops.where(valid, new_c, c)
    return new_h, new_c, (i, f, g, o)


def _recurrence_inference(z, mask, recurrent):
    """`_recurrence` without residuals or a custom gradient (autodiff
    still works through it, more slowly)."""
    batch, units = ops.shape(z)[2], ops.shape(recurrent)[1]
    zeros = ops.zeros((2, batch, units), dtype=z.dtype)

    # A plain while loop (not `scan`, whose tensorflow form tf2onnx cannot
    # convert): this is the loop exported models run.
    def step(t, carry):
        h, c = carry
        new_h, new_c, _ = _cell(z[t], mask[t], h, c, recurrent)
        return new_h, new_c

    h, _ = ops.fori_loop(0, ops.shape(z)[0], step, (zeros, zeros))
    return h


def _recurrence(z, mask, recurrent, unroll):
    """Both directions' LSTM recurrence over precomputed input projections,
    with a hand-written backward pass (BPTT).

    Autodiff through the scan would accumulate the recurrent kernel's
    gradient in the backward loop, one `(2, u, 4u)` add per step; here the
    backward loop only carries the state gradients and the kernel
    gradient is one matmul over every step afterwards.

    Args:
        z: `(T, 2, batch, 4u)` input projections (bias included), time major.
        mask: `(T, 2, batch, 1)`, 1.0 for a valid step and 0.0 for a masked
            one (a masked step keeps the state), in `z`'s dtype.
        recurrent: `(2, u, 4u)` recurrent kernels.
        unroll: int. Scan steps unrolled per loop iteration.

    Returns:
        `(2, batch, u)`: the final hidden states.
    """

    @ops.custom_gradient
    def run(z, mask, recurrent):
        batch, units = ops.shape(z)[2], ops.shape(recurrent)[1]
        zeros = ops.zeros((2, batch, units), dtype=z.dtype)

        tensorflow = keras.backend.backend() == "tensorflow"

        # Keras' tensorflow scan wants per-step outputs of the carry's
        # structure and shapes: the carry's last slot is unused, the
        # outputs are `h`, `c` before the step and the activated gates
        # (on tensorflow with `c` and the mask, packed for the backward
        # loop); the backward scan's outputs repeat its carry.
        def step(carry, x):
            h, c, _ = carry
            zt, mt = _unpack(x, (4 * units, 1))
            new_h, new_c, gates = _cell(zt, mt, h, c, recurrent)
            extra = ops.concatenate(list(gates) + ([c, mt] if tensorflow else []),
                                    axis=-1)
            return (new_h, new_c, extra), (h, c, extra)

        width = 5 * units + 1 if tensorflow else 4 * units
        slot = ops.zeros((2, batch, width), dtype=z.dtype)
        (h, _, _), (hs, cs, extra) = ops.scan(
            step, (zeros, zeros, slot), _pack([z, mask]), unroll=unroll
        )
        residuals = extra if tensorflow else (extra, cs, mask)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            recurrent_t = ops.transpose(recurrent, (0, 2, 1))

            def back(carry, x):
                dh, dc, _ = carry
                act, c, mt = _unpack(x, (4 * units, units, 1))
                i, f, g, o = _gates(act)
                tc = ops.tanh(f * c + i * g)
                dnh = dh * mt
                dnc = dc * mt + dnh * o * (1.0 - tc * tc)
                dgates = ops.concatenate(
                    [
                        dnc * g * i * (1.0 - i),
                        dnc * c * f * (1.0 - f),
                        dnc * i * (1.0 - g * g),
                        dnh * tc * o * (1.0 - o),
                    ],
                    axis=-1,
                )
                keep = 1.0 - mt
                dh_prev = ops.matmul(dgates, recurrent_t) + dh * keep
                dc_prev = dnc * f + dc * keep
                carry = (dh_prev, dc_prev, dgates)
                return carry, carry

            init = (upstream, ops.zeros_like(upstream), ops.zeros_like(z[0]))
            _, (_, _, dz) = ops.scan(back, init, residuals, reverse=True,
                                     unroll=unroll)
            # The recurrent kernel's gradient: one matmul over all steps.
            hs2 = ops.reshape(ops.transpose(hs, (1, 0, 2, 3)), (2, -1, units))
            dz2 = ops.reshape(ops.transpose(dz, (1, 0, 2, 3)), (2, -1, 4 * units))
            drecurrent = ops.matmul(ops.transpose(hs2, (0, 2, 1)), dz2)
            return dz, ops.zeros_like(mask), drecurrent

        return h, grad

    return run(z, mask, recurrent)


def bidirectional_lstm(
    sequences,
    mask,
    forward_weights,
    backward_weights,
    unroll=1,
    training=True,
):
    """The forward and backward final states of a masked bidirectional LSTM.

    Keras' LSTM math (gates `i, f, c, o`; sigmoid gates, tanh cell and
    output) with Keras' masking: a masked step keeps the previous state.
    The forward direction reads frames `0..T-1`, the backward direction
    frames `T-1..0` (Keras' `go_backwards`); both start from zeros.

    Args:
        sequences: tensor `(batch, frames, features)`.
        mask: boolean tensor `(batch, frames)` or None (all frames valid).
        forward_weights: `(kernel, recurrent_kernel, bias)` of the forward
            direction, shapes `(features, 4u)`, `(u, 4u)`, `(4u,)`.
        backward_weights: the same for the backward direction.
        unroll: int. Steps unrolled per loop iteration of the scan.
        training: bool. True: keep what the hand-written backward pass
            needs (a train step); False: a lean forward loop (inference;
            autodiff still gives the same gradients, more slowly).

    Returns:
        Tensor `(batch, 2u)`: `concat(forward final h, backward final h)`.
    """
    dtype = sequences.dtype
    fk, fr, fb = (ops.cast(w, dtype) for w in forward_weights)
    bk, br, bb = (ops.cast(w, dtype) for w in backward_weights)

    # One input projection for every frame of both directions.
    kernel = ops.concatenate([fk, bk], axis=1)
    bias = ops.concatenate([fb, bb], axis=0)
    z = ops.matmul(sequences, kernel) + bias  # (batch, frames, 8u)
    zf, zb = ops.split(z, 2, axis=-1)
    # Step t: the forward direction reads frame t, the backward one T-1-t.
    z = ops.stack([zf, ops.flip(zb, axis=1)], axis=0)  # (2, b, T, 4u)
    z = ops.transpose(z, (2, 0, 1, 3))  # (T, 2, b, 4u)
    recurrent = ops.stack([fr, br], axis=0)  # (2, u, 4u)

    if mask is None:
        m = ops.ones(ops.shape(z)[:3], dtype=dtype)
    else:
        mask = ops.cast(mask, dtype)
        m = ops.stack([mask, ops.flip(mask, axis=1)], axis=0)  # (2, b, T)
        m = ops.transpose(m, (2, 0, 1))  # (T, 2, b)
    if training:
        h = _recurrence(z, m[..., None], recurrent, unroll)
    else:
        h = _recurrence_inference(z, m[..., None], recurrent)
    return ops.concatenate([h[0], h[1]], axis=-1)


@keras.saving.register_keras_serializable(package="kser")
class Bidirectional(keras.layers.Bidirectional):
    """`Bidirectional(LSTM(units))` with the input projection out of the
    time loop and both directions in one scan.

    Same output (`concat(forward final state, backward final state)`, the
    forward state taken at the last valid frame, the backward one after
    frame 0), same variables and initializers (`forward_layer.cell` and
    `backward_layer.cell` hold `kernel (features, 4u)`, `recurrent_kernel
    (u, 4u)`, `bias (4u,)`, gates `i, f, c, o`), same weight-file layout
    as `keras.layers.Bidirectional(keras.layers.LSTM(units))`. On the
    tensorflow backend with a GPU visible it runs Keras' own layer (which
    uses cuDNN there); `implementation="keras"` always does.

    Args:
        units: int. LSTM units per direction.
        implementation: str. `"fast"` (default) or `"keras"` (Keras'
            `Bidirectional` call, two generic LSTM loops).
        unroll: int. Scan steps unrolled per loop iteration (fast path).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        sequences: tensor `(batch, frames, features)`.
        mask: boolean tensor `(batch, frames)`; False frames are skipped.

    Examples:
    ```python
    x = keras.Input((None, 768))
    mask = keras.Input((None,), dtype="bool")
    y = Bidirectional(256, name="bilstm")(x, mask=mask)  # (batch, 512)
    ```
    """

    def __init__(self, units, implementation="fast", unroll=1, **kwargs):
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"unknown implementation {implementation!r}: choose one of "
                f"{', '.join(IMPLEMENTATIONS)}"
            )
        for key in ("layer", "merge_mode", "backward_layer", "weights"):
            kwargs.pop(key, None)
        super().__init__(keras.layers.LSTM(units), **kwargs)
        self.units = units
        self.implementation = implementation
        self.unroll = unroll

    def _use_keras(self):
        return self.implementation == "keras" or _tensorflow_gpu()

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if initial_state is not None or self._use_keras():
            return super().call(
                sequences, initial_state=initial_state, mask=mask,
                training=training,
            )
        fwd, bwd = self.forward_layer.cell, self.backward_layer.cell
        return bidirectional_lstm(
            sequences,
            mask,
            (fwd.kernel, fwd.recurrent_kernel, fwd.bias),
            (bwd.kernel, bwd.recurrent_kernel, bwd.bias),
            unroll=self.unroll,
            training=bool(training),
        )

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            units=self.units,
            implementation=self.implementation,
            unroll=self.unroll,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
