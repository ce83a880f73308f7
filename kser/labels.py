"""The canonical emotion label set that every corpus maps its labels into.

Keras-free and corpus-free: models take their `label_names` from a corpus
index, and fall back to `PAPER_EMOTIONS` (RAVDESS's eight, in code order),
the classes of the paper this package reproduces.

Examples:
```python
from kser.labels import CANONICAL_LABELS, check_label

check_label("angry")  # "angry"
```
"""

from kser.errors import DataError

# The eight RAVDESS emotions in code order (code 01 is "neutral", class 0):
# the paper's classes and the default of `EmotionClassifier`.
PAPER_EMOTIONS = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

# Every label name a corpus may use. Corpora map their own codes onto these
# names (e.g. EmoDB's "Langeweile" -> "boredom", IEMOCAP's "exc" ->
# "excited"), so labels compare across corpora in cross-corpus tests.
CANONICAL_LABELS = PAPER_EMOTIONS + (
    "contempt",
    "boredom",
    "excited",
    "frustrated",
    "pleasant_surprise",
    "other",
)


def check_label(name, where=None):
    """str. `name` if it is a canonical label, else a one-line DataError.

    Args:
        name: str. A label name.
        where: str or None. What to name in the message (a file, a corpus).
    """
    if name not in CANONICAL_LABELS:
        prefix = f"{where}: " if where else ""
        raise DataError(
            f"{prefix}unknown label {name!r}; canonical labels are "
            f"{', '.join(CANONICAL_LABELS)}"
        )
    return name
