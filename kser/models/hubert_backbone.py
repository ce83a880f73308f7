"""Old module path of `HubertBackbone` (now `kser.models.hubert`), kept so
presets converted before the move, whose `config.json` names this module,
still load through `keras_hub.models.Backbone.from_preset(DIR)`."""

from kser.models.hubert.backbone import SAMPLE_RATE  # noqa: F401
from kser.models.hubert.backbone import HubertBackbone  # noqa: F401
