"""Small text helpers for messages and reports (no Keras, no numpy)."""


def count_noun(count, noun, plural=None):
    """A count with its noun in the right number: `"1 file"`, `"2 files"`.

    Args:
        count: int.
        noun: str. The singular.
        plural: str or None. The plural (default: `noun + "s"`).

    Returns:
        str.
    """
    word = noun if count == 1 else (plural or noun + "s")
    return f"{count} {word}"
