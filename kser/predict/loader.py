"""Finding and loading a saved `EmotionClassifier` (`--model PATH`).

`resolve_model_path` checks a path without Keras; `load_classifier`
imports Keras and loads. `kser.export` uses both too.
"""

import os
import zipfile

from kser.errors import ModelError


def resolve_model_path(path):
    """The `.keras` file a `--model` path names, checked without Keras.

    Args:
        path: str or path-like. A `.keras` file, or a folder holding
            `model.keras` (a fold folder written by `kser train`).

    Returns:
        str. The `.keras` file.

    Raises:
        ModelError: a missing path, a folder without `model.keras`, or a
            file that is not a `.keras` archive.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        candidate = os.path.join(path, "model.keras")
        if not os.path.isfile(candidate):
            # A cross-validation run holds one model per fold: name them
            # rather than guess which one the user meant.
            nested = sorted(
                os.path.join(root, "model.keras")
                for root, _, names in os.walk(path)
                if "model.keras" in names
            )
            if nested:
                hint = (
                    f"; it holds {len(nested)} in subfolders, pick one, "
                    f"e.g. --model {nested[0]}"
                )
            else:
                hint = (
                    "; pass a .keras file or a fold folder holding "
                    "model.keras"
                )
            raise ModelError(f"{path}: no model.keras in this folder{hint}")
        path = candidate
    elif not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    # A `.keras` file is a zip archive; saying so here is clearer than
    # Keras' error, and needs no Keras import.
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path}: not a .keras model file; pass a file saved by "
            "`kser train --save-model` or `EmotionClassifier.save`"
        )
    return path


def load_classifier(path):
    """Load a saved `EmotionClassifier` from a `.keras` file or a run folder.

    Args:
        path: str or path-like. A `.keras` file, or a folder holding
            `model.keras` (a fold folder written by `kser train`).

    Returns:
        The `EmotionClassifier`, uncompiled.

    Raises:
        ModelError: a missing path, a folder without `model.keras`, a file
            Keras cannot load, or a model that is not an `EmotionClassifier`.
    """
    path = resolve_model_path(path)

    import keras

    # Registers kser's classes with Keras' deserialisation.
    from kser.models import EmotionClassifier

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for bad files.
        reason = str(error).strip().splitlines()
        reason = reason[0] if reason else type(error).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise ModelError(
            f"{path}: cannot load it as a Keras model ({reason}); pass a "
            "file saved by `kser train --save-model` or "
            "`EmotionClassifier.save`"
        ) from None
    if not isinstance(model, EmotionClassifier):
        raise ModelError(
            f"{path}: holds a {type(model).__name__}, not a kser "
            "EmotionClassifier"
        )
    return model
