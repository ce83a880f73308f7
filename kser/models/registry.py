"""Backbone families: one line per family in `FAMILIES`.

A family module (e.g. `kser.models.hubert`) exposes `backbone_cls`,
`audio_converter_cls` and `backbone_presets` (its architectures by name).
`kser.models.loader` reads a preset's `config.json` and picks the family
whose `backbone_cls` wrote it, so callers never name a backbone class.
Modules are imported on first use.
"""

import importlib

from kser.errors import PresetError

# Family name -> module; one line per family.
FAMILIES = {
    "hubert": "kser.models.hubert",
}


def family_names():
    """list of str. The registered backbone families."""
    return list(FAMILIES)


def get_family(name):
    """The family module registered as `name`.

    Raises:
        PresetError: one line naming the family and the known ones.
    """
    if name not in FAMILIES:
        raise PresetError(
            f"unknown backbone family {name!r}: choose one of "
            f"{', '.join(FAMILIES)}"
        )
    return importlib.import_module(FAMILIES[name])


def families():
    """dict of family name -> family module (imports every family)."""
    return {name: get_family(name) for name in FAMILIES}
