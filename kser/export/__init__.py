"""Exporting a trained `EmotionClassifier` for serving, by format.

`EXPORTERS` maps a format name to its module, one line per format. An
exporter module provides `check()` (fail fast, before the model loads:
e.g. an unsupported backend) and `write(model, folder)` (write the export
into an empty folder). `export_model` does the rest for every format: it
resolves the model path, loads the classifier, and writes the folder under
a temporary name beside `out_dir`, renamed into place at the end, so
`out_dir` is either absent, the old export, or the complete new one.

Importing this package does not import Keras.

Examples:
```python
from kser.export import export_model

export_model("runs/lstm/fold_06/model.keras", "exported/lstm",
             format="saved_model")
```
"""

import importlib
import os
import shutil
import tempfile

from kser.errors import ExportError

# Format name -> exporter module; one line per format.
EXPORTERS = {
    "saved_model": "kser.export.saved_model",
    "onnx": "kser.export.onnx",
    "litert": "kser.export.litert",
}


def export_formats():
    """list of str. The formats `export_model` writes."""
    return list(EXPORTERS)


def get_exporter(format):
    """The exporter module of `format`; one-line `ExportError` otherwise."""
    if format not in EXPORTERS:
        raise ExportError(
            f"unknown export format {format!r}: choose one of "
            f"{', '.join(EXPORTERS)}"
        )
    return importlib.import_module(EXPORTERS[format])


def export_model(model, out_dir, format="saved_model", overwrite=False):
    """Export an `EmotionClassifier` in `format` to the folder `out_dir`.

    Args:
        model: `EmotionClassifier`, or a path for
            `kser.predict.loader.load_classifier` (a `.keras` file or a run
            folder holding `model.keras`).
        out_dir: str or path-like. The folder to create.
        format: str. A name in `EXPORTERS`.
        overwrite: bool. Replace `out_dir` if it exists.

    Returns:
        str. `out_dir`.

    Raises:
        ExportError: an unknown format, a backend the format cannot export
            from, or an existing `out_dir` without `overwrite`.
        ModelError: a model path that is not a kser classifier.
    """
    from kser.predict.loader import load_classifier
    from kser.predict.loader import resolve_model_path

    exporter = get_exporter(format)
    if not hasattr(model, "label_names"):
        resolve_model_path(model)  # Fail fast, before importing Keras.
    exporter.check()
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.lexists(out_dir) and not overwrite:
        raise ExportError(
            f"{out_dir} already exists; pass --overwrite to replace it"
        )
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ExportError(
            f"{out_dir} is a file, not a folder; pick another --out"
        )
    if not hasattr(model, "label_names"):
        model = load_classifier(model)

    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(out_dir)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp")
    # mkdtemp makes the folder 0700; give it the usual umask permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        exporter.write(model, tmp)
        if os.path.lexists(out_dir):
            # A fresh unused name beside out_dir for the old export.
            old = tempfile.mkdtemp(
                dir=parent, prefix=f".{name}.", suffix=".old"
            )
            os.rmdir(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not os.path.lexists(out_dir):
            os.replace(old, out_dir)
            old = None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_dir


_SAVED_MODEL_NAMES = (
    "EXPORT_BACKENDS",
    "INPUT_NAME",
    "LABELS_ENDPOINT",
    "LABELS_OUTPUT_NAME",
    "METADATA_FILE",
    "OUTPUT_NAME",
    "SERVE_ENDPOINT",
    "check_export_backend",
    "export_saved_model",
)


def __getattr__(name):
    # The SavedModel names kept at their old place, `kser.export.NAME`.
    if name in _SAVED_MODEL_NAMES:
        return getattr(importlib.import_module("kser.export.saved_model"), name)
    raise AttributeError(f"module 'kser.export' has no attribute {name!r}")


__all__ = [
    "EXPORTERS",
    "export_formats",
    "export_model",
    "get_exporter",
    *_SAVED_MODEL_NAMES,
]
