"""`SpeechEncoderBackbone`: what every speech-encoder family shares.

A family's backbone (e.g. `HubertBackbone`) subclasses this and sets
`presets` (its architectures by name). The base class owns the frame
arithmetic of the conv feature encoder (`num_frames`, `min_samples`,
`samples_per_frame`: one implementation, used by the feature cache, the
data pipeline, predict and export) and preset loading by name or folder.
"""

import os

from keras_hub.models import Backbone

from kser.errors import PresetError
from kser.models.preset_utils import find_converted_preset
from kser.models.preset_utils import missing_weights_message
from kser.models.waveform import conv_min_samples
from kser.models.waveform import conv_output_length


class SpeechEncoderBackbone(Backbone):
    """Base class of kser's waveform encoders (keras-hub `Backbone`s).

    Subclasses keep `conv_kernel_sizes` and `conv_strides` as attributes and
    set the class attribute `presets`, a dict of name ->
    `{"metadata": ..., "config": ...}`.
    """

    presets = {}

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
                return super().from_preset(local, load_weights, **kwargs)
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
        return super().from_preset(preset, load_weights, **kwargs)
