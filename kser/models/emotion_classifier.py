"""EmotionClassifier: a frozen speech-encoder backbone plus a head."""

import keras
from keras import ops
from keras_hub.models import Task

from kser.labels import PAPER_EMOTIONS
from kser.models.heads import build_head
from kser.models.heads import select_head_args
from kser.models.speech_backbone import SpeechEncoderBackbone
from kser.models.waveform import normalize_waveform


@keras.saving.register_keras_serializable(package="kser")
class FrozenFeatureExtractor(keras.layers.Layer):
    """Waveform -> frozen backbone features for a head.

    Normalises each clip (if the checkpoint expects it), runs the backbone
    with `training=False` whatever the outer call says (so its dropout never
    fires), and returns float32 `{"features", "frame_padding_mask"}`:
    features are the last hidden state `(batch, frames, dim)` for
    `layers="last"` or every hidden state `(batch, layers + 1, frames, dim)`
    for `layers="weighted"`. This is also what the feature cache stores.

    Args:
        backbone: a speech-encoder backbone (e.g. `HubertBackbone`).
        layers: str. `"last"` or `"weighted"`.
        normalize: bool. Zero-mean/unit-variance normalisation per clip.
    """

    def __init__(self, backbone, layers="last", normalize=True, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.layers = layers
        self.normalize = normalize

    def call(self, inputs):
        waveform = ops.cast(inputs["waveform"], "float32")
        padding_mask = ops.cast(inputs["padding_mask"], "int32")
        if self.normalize:
            waveform = normalize_waveform(waveform, padding_mask, xp=ops)
        out = self.backbone(
            {"waveform": waveform, "padding_mask": padding_mask}, training=False
        )
        key = "hidden_states" if self.layers == "weighted" else "sequence_output"
        return {
            # The head (and loss) stay float32 under a bfloat16 backbone.
            "features": ops.cast(out[key], "float32"),
            "frame_padding_mask": out["frame_padding_mask"],
        }

    def compute_output_spec(self, inputs):
        out = self.backbone.compute_output_spec(inputs)
        key = "hidden_states" if self.layers == "weighted" else "sequence_output"
        return {
            "features": keras.KerasTensor(out[key].shape, dtype="float32"),
            "frame_padding_mask": out["frame_padding_mask"],
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "layers": self.layers,
                "normalize": self.normalize,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        register_backbone_families()
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


def register_backbone_families():
    """Import every registered backbone family, so that Keras finds the
    backbone class a saved classifier names (`kser.models` is lazy)."""
    from kser.models.registry import families

    families()


@keras.saving.register_keras_serializable(package="kser")
class EmotionClassifier(Task):
    """Speech emotion classifier: a frozen backbone + a trainable head.

    The backbone is frozen: it is not in `trainable_weights` and always runs
    with `training=False`, so `fit` trains the head alone (the paper's
    setup). Inputs are raw mono 16 kHz waveforms with a padding mask; the
    model normalises each clip itself when `normalize=True` (HuBERT
    checkpoints expect it). Outputs are logits over `label_names`.

    - `head="dense"` (paper: Hubert, Hubert-aug): masked mean pooling over
      valid frames -> Dense(`hidden_units`, ReLU) -> Dropout -> Dense.
    - `head="lstm"` (paper: Hubert-LSTM): one
      `Bidirectional(LSTM(lstm_units))` over the valid frames -> Dropout ->
      Dense.
    - any other name in `kser.models.heads.HEADS`, with its `head_args`.
    - `layers="last"` uses the last hidden state (the paper);
      `layers="weighted"` a learned softmax-weighted sum of all hidden
      states, as SUPERB does.

    Args:
        backbone: a speech-encoder backbone (`HubertBackbone`, or any
            family `kser.models.load_backbone` returns).
        head: str. A head name in `kser.models.heads.HEADS`.
        layers: str. `"last"` or `"weighted"`.
        label_names: list of str. Class names in output order, usually the
            corpus index's `label_names`; the paper's 8 RAVDESS emotions by
            default.
        head_args: dict or None. The head's own arguments (`hidden_units`,
            `dropout` for dense; `lstm_units`, `dropout` for lstm).
        normalize: bool. Normalise each clip inside the model.
        hidden_units, dropout, lstm_units: the same head arguments given
            directly (kept for models saved before `head_args`).

    Examples:
    ```python
    backbone = load_backbone("presets/hubert_base_ls960")
    model = EmotionClassifier(backbone, head="lstm", label_names=index.label_names)
    model.fit(train_ds, validation_data=val_ds, epochs=6)
    probabilities = keras.ops.softmax(model.predict(test_ds))
    ```
    """

    backbone_cls = SpeechEncoderBackbone

    def __init__(
        self,
        backbone,
        head="dense",
        layers="last",
        label_names=None,
        head_args=None,
        normalize=True,
        preprocessor=None,
        hidden_units=None,
        dropout=None,
        lstm_units=None,
        **kwargs,
    ):
        label_names = list(label_names or PAPER_EMOTIONS)
        head_args = dict(head_args or {})
        for key, value in (
            ("hidden_units", hidden_units),
            ("dropout", dropout),
            ("lstm_units", lstm_units),
        ):
            if value is not None:
                head_args.setdefault(key, value)
        head_args = select_head_args(head, head_args)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        backbone.trainable = False
        self.feature_extractor = FrozenFeatureExtractor(
            backbone, layers=layers, normalize=normalize, name="frozen_hubert"
        )
        self.head = build_head(
            head,
            feature_dim=backbone.hidden_dim,
            num_classes=len(label_names),
            layers=layers,
            num_states=backbone.num_layers + 1,
            **head_args,
        )

        # === Functional Model ===
        inputs = {
            "waveform": keras.Input(shape=(None,), name="waveform"),
            "padding_mask": keras.Input(
                shape=(None,), dtype="int32", name="padding_mask"
            ),
        }
        logits = self.head(self.feature_extractor(inputs))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.head_type = head
        self.layer_choice = layers
        self.label_names = label_names
        self.head_args = head_args
        self.normalize = normalize

    @classmethod
    def from_config(cls, config):
        register_backbone_families()
        return super().from_config(config)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "head": self.head_type,
                "layers": self.layer_choice,
                "label_names": self.label_names,
                "head_args": dict(self.head_args),
                "normalize": self.normalize,
            }
        )
        return config

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        learning_rate=1e-3,
        **kwargs,
    ):
        """Compile with Adam, sparse cross-entropy on logits and accuracy.

        Args:
            optimizer: `"auto"` (Adam at `learning_rate`) or any Keras
                optimizer.
            loss: `"auto"` (sparse categorical cross-entropy from logits)
                or any Keras loss.
            metrics: `"auto"` (sparse categorical accuracy) or a list.
            learning_rate: float. Used by the `"auto"` optimizer.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
