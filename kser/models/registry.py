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
    "wav2vec2": "kser.models.wav2vec2",
    "data2vec_audio": "kser.models.data2vec_audio",
    "wavlm": "kser.models.wavlm",
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


def family_of(backbone):
    """str. The family name of a backbone instance (by its class)."""
    for name, module in families().items():
        if type(backbone) is module.backbone_cls:
            return name
    for name, module in families().items():
        if isinstance(backbone, module.backbone_cls):
            return name
    raise PresetError(
        f"{type(backbone).__name__} is not a registered backbone family "
        f"({', '.join(FAMILIES)})"
    )


def all_presets():
    """dict. Every family's presets: name -> `{"family", "metadata",
    "config"}`."""
    out = {}
    for name, module in families().items():
        for preset, spec in module.backbone_presets.items():
            out[preset] = {"family": name, **spec}
    return out
