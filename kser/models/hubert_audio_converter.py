"""Old module path of `HubertAudioConverter` (now `kser.models.hubert`),
kept so presets converted before the move still load by module path."""

from kser.models.hubert.audio_converter import HubertAudioConverter  # noqa: F401
