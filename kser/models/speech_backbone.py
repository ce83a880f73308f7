"""`SpeechEncoderBackbone`: what every speech-encoder family shares.

A family's backbone (e.g. `HubertBackbone`) subclasses this and sets
`presets` (its architectures by name). The base class owns the frame
arithmetic of the conv feature encoder (`num_frames`, `min_samples`,
`samples_per_frame`: one implementation, used by the feature cache, the
data pipeline, predict and export) and preset loading by name or folder.
"""

import os

import keras
from keras import ops
from keras_hub.models import Backbone

from kser.errors import PresetError
from kser.models.preset_utils import find_converted_preset
from kser.models.preset_utils import missing_weights_message
from kser.models.speech_encoder_layers import ConvFeatureEncoder
from kser.models.speech_encoder_layers import FramePaddingMask
from kser.models.waveform import conv_min_samples
from kser.models.waveform import conv_output_length


class SpeechEncoderBackbone(Backbone):
    """Base class of kser's waveform encoders (keras-hub `Backbone`s).

    Subclasses keep `conv_kernel_sizes` and `conv_strides` as attributes and
    set the class attribute `presets`, a dict of name ->
    `{"metadata": ..., "config": ...}`.
    """

    presets = {}
    # Constructor arguments that `get_config` returns, read from the
    # attributes of the same names.
    config_keys = ()

    def _build_front_end(self, *, conv_dims, conv_kernel_sizes, conv_strides,
                         conv_bias, feature_norm, conv_epsilon, padding_invariant,
                         projection_norm_epsilon, hidden_dim, dropout, dtype):
        """The layers every family shares before its positional embedding:
        conv feature encoder, frame padding mask, projection LayerNorm (None
        when `projection_norm_epsilon` is None), projection and dropout, in
        this order (the order sets random initial weights)."""
        self.feature_encoder = ConvFeatureEncoder(
            conv_dims=conv_dims,
            conv_kernel_sizes=conv_kernel_sizes,
            conv_strides=conv_strides,
            conv_bias=conv_bias,
            norm=feature_norm,
            epsilon=conv_epsilon,
            padding_invariant=padding_invariant,
            dtype=dtype,
            name="feature_encoder",
        )
        self.frame_padding_mask = FramePaddingMask(
            conv_kernel_sizes, conv_strides, name="frame_padding_mask"
        )
        self.feature_projection_norm = None
        if projection_norm_epsilon is not None:
            self.feature_projection_norm = keras.layers.LayerNormalization(
                epsilon=projection_norm_epsilon,
                dtype=dtype,
                name="feature_projection_norm",
            )
        self.feature_projection = keras.layers.Dense(
            hidden_dim, dtype=dtype, name="feature_projection"
        )
        self.feature_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="feature_dropout"
        )

    def _build_encoder_norm(self, layer_norm_epsilon, dropout, dtype):
        """The encoder's LayerNorm and dropout (after the positional
        embedding)."""
        self.encoder_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="encoder_norm"
        )
        self.encoder_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="encoder_dropout"
        )

    def _encoder_step(self, layer, x, frame_mask, state):
        """One transformer layer; returns `(x, state)` (WavLM carries its
        position bias as the state)."""
        return layer(x, frame_mask), state

    def _build_graph(self, normalize_first):
        """`(inputs, outputs)` of the functional model from the layers:
        waveform -> conv features -> projection -> positional embedding ->
        transformer layers, with every hidden state and the frame mask."""
        waveform_input = keras.Input(shape=(None,), name="waveform")
        padding_mask_input = keras.Input(
            shape=(None,), dtype="int32", name="padding_mask"
        )
        features = self.feature_encoder(waveform_input, padding_mask_input)
        frame_mask = self.frame_padding_mask(padding_mask_input, features)
        if self.feature_projection_norm is not None:
            features = self.feature_projection_norm(features)
        x = self.feature_dropout(self.feature_projection(features))
        x = self.pos_conv_embedding(x, frame_mask)
        if not normalize_first:
            x = self.encoder_norm(x)
        x = self.encoder_dropout(x)
        hidden_states = [x]
        state = None
        for layer in self.encoder_layers:
            x, state = self._encoder_step(layer, x, frame_mask, state)
            hidden_states.append(x)
        if normalize_first:
            x = self.encoder_norm(x)
        inputs = {"waveform": waveform_input, "padding_mask": padding_mask_input}
        outputs = {
            "sequence_output": x,
            "hidden_states": ops.stack(hidden_states, axis=1),
            "frame_padding_mask": frame_mask,
        }
        return inputs, outputs

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in self.config_keys})
        return config

    def num_frames(self, num_samples):
        """Frames the backbone makes from `num_samples` samples (an int, or
        an integer tensor); 0 for a Python int too short for one frame."""
        return conv_output_length(
            num_samples, self.conv_kernel_sizes, self.conv_strides
        )

    @property
    def min_samples(self):
        """int. The fewest samples that make one frame (400 for HuBERT)."""
        return conv_min_samples(self.conv_kernel_sizes, self.conv_strides)

    @property
    def samples_per_frame(self):
        """Samples per output frame (the product of the conv strides)."""
        hop = 1
        for stride in self.conv_strides:
            hop *= stride
        return hop

    @classmethod
    def presets_available(cls):
        """The family's preset names (architectures users convert)."""
        return dict(cls.presets)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build a backbone from a preset name or a converted preset folder.

        Args:
            preset: str. One of the family's preset names, or the path of
                a folder written by `kser convert`. A name resolves to
                `$KSER_HOME/presets/NAME` (default `~/.cache/kser`) when
                that folder exists.
            load_weights: bool. Load the weights (True) or build the
                architecture with random weights (False; names only need
                no files).
            **kwargs: Overrides of config values, e.g. `dtype`.
        """
        preset = os.fspath(preset)
        if preset in cls.presets:
            local = find_converted_preset(preset)
            if local is not None:
                return cls._from_preset_folder(local, load_weights, **kwargs)
            if load_weights:
                raise PresetError(missing_weights_message(preset, cls.presets))
            config = dict(cls.presets[preset]["config"])
            config.update(kwargs)
            return cls(**config)
        if not os.path.isdir(preset):
            names = ", ".join(cls.presets)
            raise PresetError(
                f"unknown preset {preset!r}: give a folder written by "
                f"`kser convert` or one of {names}"
            )
        if not os.path.exists(os.path.join(preset, "config.json")):
            raise PresetError(
                f"{preset} is not a kser preset (no config.json); create one "
                "with `kser convert HF_DIR OUT_DIR`"
            )
        return cls._from_preset_folder(preset, load_weights, **kwargs)

    @classmethod
    def _from_preset_folder(cls, folder, load_weights, **kwargs):
        """keras-hub's loading, with a damaged weights file as one line.

        A truncated, empty or foreign `model.weights.h5` (an interrupted
        copy or download) makes h5py or Keras fail deep inside loading;
        the user is told which file and how to rebuild it instead.
        """
        weights = os.path.join(folder, "model.weights.h5")
        try:
            return super().from_preset(folder, load_weights, **kwargs)
        except (OSError, ValueError, KeyError):
            if not load_weights or not os.path.exists(weights):
                raise
            damage = _hdf5_damage(weights)
            if damage is None:
                raise  # A readable file: the error is not the file's.
            detail = " ".join(str(damage).split())[:160]
            raise PresetError(
                f"{weights}: damaged or incomplete weights file ({detail}); "
                "convert the checkpoint again with `kser convert HF_DIR "
                f"{folder} --overwrite`"
            ) from None


def _hdf5_damage(path):
    """Why an HDF5 file cannot be read in full, or None if it can."""
    import h5py

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except Exception as error:  # any failure to read is damage
        return error or "unreadable"
    return None
