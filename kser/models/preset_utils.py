"""Where converted presets live and how a missing one is reported.

Shared by every backbone family: no weights ship with kser, so a preset
name gives the architecture and its weights come from converting the
matching transformers checkpoint with `kser convert`. A converted folder
placed at `$KSER_HOME/presets/NAME` (default `~/.cache/kser/presets/NAME`)
is found by name.
"""

import os


def kser_home():
    """kser's cache folder: `$KSER_HOME`, default `~/.cache/kser`."""
    return os.environ.get(
        "KSER_HOME", os.path.join(os.path.expanduser("~"), ".cache", "kser")
    )


def converted_preset_dir(name):
    """Where the converted weights of preset `name` are looked for."""
    return os.path.join(kser_home(), "presets", name)


def find_converted_preset(name):
    """The converted folder of preset `name`, or None if there is none."""
    path = converted_preset_dir(name)
    if os.path.exists(os.path.join(path, "config.json")):
        return path
    return None


def missing_weights_message(name, presets):
    checkpoint = presets[name]["metadata"]["transformers_checkpoint"]
    return (
        f"weights for preset {name!r} are not on disk; download the "
        f"transformers checkpoint {checkpoint} (config.json, "
        "model.safetensors or pytorch_model.bin, preprocessor_config.json) "
        f"and run `kser convert CHECKPOINT_DIR {converted_preset_dir(name)}`, "
        "or pass load_weights=False for random weights"
    )
