"""Writing a converted preset folder, atomically.

A preset is keras-hub's layout: `config.json`, `metadata.json` and
`model.weights.h5` from the backbone, `audio_converter.json` from the
audio converter, plus kser's `kser_conversion.json` (source folder,
weights fingerprint, ignored keys, parameter count).
"""

import json
import os
import shutil
import tempfile

from kser.errors import ConversionError

CONVERSION_FILE = "kser_conversion.json"


def check_out_dir(out_dir, overwrite=False):
    """The absolute `out_dir`, refused if it exists and not `overwrite`.

    Called before the checkpoint is read, so the refusal comes at once.
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not overwrite:
        raise ConversionError(
            f"{out_dir} already exists; pass --overwrite to replace it"
        )
    return out_dir


def write_preset(out_dir, backbone, audio_converter, conversion):
    """Save a backbone and its audio converter as a preset folder.

    The preset is written to a temporary folder beside `out_dir` and moved
    into place at the end (replacing an existing `out_dir`), so a failed
    write leaves nothing behind.

    Args:
        out_dir: str. The preset folder (see `check_out_dir`).
        backbone: a keras-hub `Backbone`.
        audio_converter: a keras-hub `AudioConverter`.
        conversion: dict. Written as `kser_conversion.json`.
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".kser-convert-", dir=parent)
    try:
        backbone.save_to_preset(tmp_dir)
        audio_converter.save_to_preset(tmp_dir)
        with open(os.path.join(tmp_dir, CONVERSION_FILE), "w") as f:
            json.dump(conversion, f, indent=2)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp_dir, out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out_dir
