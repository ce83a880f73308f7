"""Mixed precision for the frozen backbone; the head and loss stay float32.

The backbone is frozen, so no gradient flows through it and bfloat16 needs
no loss scaling: it only makes the forward pass cheaper on hardware with
fast bfloat16 (TPUs, recent GPUs; on CPU it is mostly slower). The
backbone's variables stay float32 (`"mixed_bfloat16"` computes in bfloat16),
`FrozenFeatureExtractor` casts the features it hands the head to float32,
and the head is built under the global float32 policy.

Importing this module does not import Keras.
"""

from kser.errors import KserError

# What users type (`kser train --dtype`) -> the backbone's Keras dtype policy.
DTYPE_CHOICES = ("float32", "bfloat16")
_BACKBONE_POLICIES = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "mixed_bfloat16": "mixed_bfloat16",
}


def backbone_dtype(dtype):
    """Map a user dtype to the backbone's Keras dtype policy name.

    Args:
        dtype: str or None. `"float32"` (default when None) or
            `"bfloat16"`; `"mixed_bfloat16"` is accepted as an alias.

    Returns:
        str. `"float32"` or `"mixed_bfloat16"`, for the backbone's `dtype`
        argument (`load_backbone(..., dtype=...)` or a family's
        `from_preset(..., dtype=...)`).

    Examples:
    ```python
    backbone = load_backbone(
        "presets/hubert_base_ls960", dtype=backbone_dtype("bfloat16")
    )
    model = EmotionClassifier(backbone, head="lstm")  # head in float32
    ```
    """
    if dtype is None:
        return "float32"
    try:
        return _BACKBONE_POLICIES[dtype]
    except (KeyError, TypeError):
        raise KserError(
            f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPE_CHOICES)}"
        ) from None
