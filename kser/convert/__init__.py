"""Converting local transformers checkpoints into kser presets.

- `checkpoint`: reading a checkpoint folder with numpy (`config.json`,
  safetensors single or sharded, `pytorch_model.bin` with torch).
- `registry`: `CONVERTERS`, transformers `model_type` -> converter module,
  one line per family (today `hubert`).
- `hubert`: the HuBERT converter (config, weights, audio converter).
- `preset_writer`: the preset folder, written atomically.

The result is a keras-hub style preset folder (`config.json`,
`model.weights.h5`, `metadata.json`, `audio_converter.json`) that
`kser.models.load_backbone(OUT_DIR)` and the family's `from_preset` load.
Importing this package does not import Keras; converting does.

Examples:
```python
from kser.convert import convert_checkpoint

print(convert_checkpoint("hubert-base-ls960/", "presets/hubert_base_ls960"))
```
"""

import os

from kser.convert.checkpoint import load_checkpoint_weights
from kser.convert.checkpoint import load_hf_config
from kser.convert.preset_writer import check_out_dir
from kser.convert.preset_writer import write_preset
from kser.convert.registry import CONVERTERS
from kser.convert.registry import get_converter
from kser.convert.registry import supported_model_types


def _load(hf_dir, dtype=None):
    transformers_config = load_hf_config(hf_dir)
    converter = get_converter(transformers_config.get("model_type"))
    backbone_config = converter.convert_backbone_config(transformers_config)
    audio_config = converter.load_audio_converter_config(
        hf_dir, transformers_config
    )
    weights = load_checkpoint_weights(hf_dir)
    backbone = converter.backbone_cls(**backbone_config, dtype=dtype)
    ignored = converter.convert_weights(backbone, weights, transformers_config)
    audio_converter = converter.audio_converter_cls(**audio_config)
    return converter, backbone, audio_converter, ignored


def load_transformers_checkpoint(hf_dir, dtype=None):
    """Build a backbone and its audio converter from a checkpoint folder.

    The family comes from `config.json`'s `model_type` (see `CONVERTERS`).

    Args:
        hf_dir: str. A transformers checkpoint folder.
        dtype: str or None. Backbone dtype policy (e.g. "mixed_bfloat16").

    Returns:
        `(backbone, audio_converter, ignored_keys)`.
    """
    _, backbone, audio_converter, ignored = _load(os.fspath(hf_dir), dtype)
    return backbone, audio_converter, ignored


def convert_checkpoint(hf_dir, out_dir, overwrite=False):
    """Convert a transformers checkpoint folder into a kser preset.

    The preset is written to a temporary folder beside `out_dir` and moved
    into place at the end, so a failed conversion leaves nothing behind.

    Args:
        hf_dir: str. The transformers checkpoint folder.
        out_dir: str. The preset folder to create.
        overwrite: bool. Replace an existing `out_dir`.

    Returns:
        A short human-readable report (str).
    """
    from kser.models.fingerprint import weights_fingerprint

    hf_dir = os.fspath(hf_dir)
    out_dir = check_out_dir(out_dir, overwrite)
    converter, backbone, audio_converter, ignored = _load(hf_dir)
    fingerprint = weights_fingerprint(backbone)
    write_preset(
        out_dir,
        backbone,
        audio_converter,
        {
            "source": os.path.abspath(hf_dir),
            "weights_fingerprint": fingerprint,
            "ignored_keys": ignored,
            "parameters": int(backbone.count_params()),
        },
    )
    return (
        f"converted {hf_dir} -> {out_dir}: "
        f"{converter.describe(backbone, audio_converter)}, "
        f"fingerprint {fingerprint[:16]}"
        + (f", ignored {len(ignored)} task tensors" if ignored else "")
    )


__all__ = [
    "CONVERTERS",
    "convert_checkpoint",
    "get_converter",
    "load_checkpoint_weights",
    "load_hf_config",
    "load_transformers_checkpoint",
    "supported_model_types",
]
