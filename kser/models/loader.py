"""Load any registered backbone family from a preset name or folder.

`load_backbone(preset)` reads the preset's `config.json` (a folder written
by `kser convert`) or looks the name up in each family's presets, and
builds the right class (`hf://ORG/NAME[@REVISION]` and transformers
checkpoint folders are first converted once by `kser.convert.hub`); `load_audio_converter(preset)` does the same for
the audio converter. Nothing outside `kser.models` names a backbone class.

Examples:
```python
from kser.models import load_audio_converter, load_backbone

backbone = load_backbone("presets/hubert_base_ls960")
converter = load_audio_converter("presets/hubert_base_ls960")
features = backbone(converter(waveforms))["sequence_output"]
```
"""

import json
import os

from kser.errors import PresetError
from kser.models.preset_utils import find_converted_preset
from kser.models.registry import FAMILIES
from kser.models.registry import families
from kser.models.registry import get_family


def _class_names(config):
    names = {config.get("class_name"), config.get("registered_name")}
    return {n.split(">")[-1] for n in names if isinstance(n, str)}


def _read_config(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.exists(path):
        raise PresetError(
            f"{folder} is not a kser preset (no config.json); create one "
            "with `kser convert HF_DIR OUT_DIR`"
        )
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise PresetError(f"{path}: unreadable preset config ({error})") from None


def resolve_preset(preset):
    """The preset as a kser preset name or folder.

    `hf://ORG/NAME[@REVISION]` and local transformers checkpoint folders
    are converted once into `$KSER_HOME` by `kser.convert.hub` (imported
    only then: `kser.convert` imports `kser.models`); anything else is
    returned unchanged.
    """
    preset = os.fspath(preset)
    if preset.startswith("hf://") or (
        os.path.isfile(os.path.join(preset, "config.json"))
        and not os.path.exists(os.path.join(preset, "model.weights.h5"))
    ):
        from kser.convert.hub import resolve_preset as resolve

        return resolve(preset)
    return preset


def preset_family(preset):
    """`(family_name, folder_or_None)` for a preset name or folder.

    Raises:
        PresetError: an unknown name, a folder without `config.json`, or a
            config that no registered family wrote.
    """
    preset = resolve_preset(preset)
    if os.path.isdir(preset):
        config = _read_config(preset)
        names = _class_names(config)
        for name, module in families().items():
            if module.backbone_cls.__name__ in names:
                return name, preset
        found = config.get("class_name") or config.get("registered_name")
        raise PresetError(
            f"{preset}: config.json names backbone {found!r}, which no "
            f"registered family builds ({', '.join(FAMILIES)})"
        )
    for name, module in families().items():
        if preset in module.backbone_presets:
            return name, find_converted_preset(preset)
    known = [p for m in families().values() for p in m.backbone_presets]
    raise PresetError(
        f"unknown preset {preset!r}: give a folder written by `kser convert` "
        f"or one of {', '.join(known)}"
    )


def load_backbone(preset, load_weights=True, **kwargs):
    """Build the backbone of a preset name or converted folder.

    Args:
        preset: str. A preset name (e.g. `hubert_base_ls960`, found under
            `$KSER_HOME/presets/NAME` once converted), a folder written
            by `kser convert`, `hf://ORG/NAME[@REVISION]` or a transformers
            checkpoint folder (both converted once into `$KSER_HOME`).
        load_weights: bool. False builds the architecture with random
            weights (names only).
        **kwargs: config overrides, e.g. `dtype`, `padding_invariant`.
    """
    preset = resolve_preset(preset)
    family, _ = preset_family(preset)
    backbone_cls = families()[family].backbone_cls
    return backbone_cls.from_preset(preset, load_weights, **kwargs)


def load_audio_converter(preset):
    """The audio converter of a preset: the converted folder's
    `audio_converter.json` when there is one, else the family's default."""
    family, folder = preset_family(resolve_preset(preset))
    converter_cls = families()[family].audio_converter_cls
    if folder and os.path.exists(os.path.join(folder, "audio_converter.json")):
        return converter_cls.from_preset(folder)
    return converter_cls()


def build_backbone(family="hubert", **config):
    """A randomly initialised backbone of a registered family.

    Args:
        family: str. A name in `kser.models.registry.FAMILIES`.
        **config: the family backbone's arguments.

    Examples:
    ```python
    backbone = build_backbone("hubert", hidden_dim=64, num_layers=2,
                              num_heads=4, intermediate_dim=128)
    ```
    """
    return get_family(family).backbone_cls(**config)
