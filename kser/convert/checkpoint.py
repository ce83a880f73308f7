"""Reading transformers checkpoint folders with numpy.

A checkpoint folder holds `config.json` and the weights as
`model.safetensors`, a sharded `model.safetensors.index.json`, or
`pytorch_model.bin`; `preprocessor_config.json` is read when present.
Safetensors are read with numpy alone; torch is needed only for `.bin`.

`CheckpointWeights` hands the tensors to a family's `convert_weights`
(see `kser.convert.hubert`), in the shape of keras-hub's `SafetensorLoader`
(`get_tensor`, `port_weight`), and keeps count of what was used.
"""

import json
import os
import struct

import numpy as np

from kser.errors import ConversionError
from kser.text import count_noun

CONFIG_FILE = "config.json"
PREPROCESSOR_CONFIG_FILE = "preprocessor_config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"

_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def read_safetensors(path):
    """Read a `.safetensors` file into a dict of numpy arrays.

    The format is an 8-byte little-endian header size, a JSON header of
    `{name: {dtype, shape, data_offsets}}`, then the raw tensor bytes.
    bfloat16 tensors are widened to float32.

    Args:
        path: str. The file.
    """
    try:
        with open(path, "rb") as f:
            (header_size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_size))
            data = f.read()
    except (OSError, struct.error, ValueError) as error:
        raise ConversionError(f"{path}: not a readable safetensors file ({error})")
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        shape = tuple(info["shape"])
        dtype = info["dtype"]
        if dtype == "BF16":
            # bfloat16 is the top half of a float32.
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif dtype in _SAFETENSORS_DTYPES:
            array = np.frombuffer(raw, dtype=_SAFETENSORS_DTYPES[dtype])
        else:
            raise ConversionError(
                f"{path}: tensor {name} has unsupported dtype {dtype}"
            )
        if array.size != int(np.prod(shape)):
            raise ConversionError(f"{path}: tensor {name} is truncated")
        tensors[name] = array.reshape(shape)
    return tensors


def read_torch_bin(path):
    """Read a PyTorch `state_dict` pickle into numpy float32 arrays (torch)."""
    try:
        import torch
    except ImportError:
        raise ConversionError(
            f"{path} is a PyTorch pickle and reading it needs torch: "
            "`pip install torch==2.13.0`, or save the checkpoint as "
            "safetensors (`save_pretrained(..., safe_serialization=True)`)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for bad files.
        raise ConversionError(f"{path}: cannot read PyTorch weights ({error})")
    return {k: v.detach().float().numpy() for k, v in state.items()}


def load_checkpoint_weights(hf_dir):
    """All tensors of a transformers checkpoint folder, as numpy arrays.

    Looks for `model.safetensors`, then `model.safetensors.index.json`
    (shards), then `pytorch_model.bin`.

    Args:
        hf_dir: str. The checkpoint folder.
    """
    single = os.path.join(hf_dir, SAFETENSORS_FILE)
    index = os.path.join(hf_dir, SAFETENSORS_INDEX_FILE)
    torch_bin = os.path.join(hf_dir, TORCH_FILE)
    if os.path.exists(single):
        return read_safetensors(single)
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = os.path.join(hf_dir, shard)
            if not os.path.exists(shard_path):
                raise ConversionError(
                    f"{shard_path} is listed in {index} but missing"
                )
            tensors.update(read_safetensors(shard_path))
        return tensors
    if os.path.exists(torch_bin):
        return read_torch_bin(torch_bin)
    raise ConversionError(
        f"{hf_dir} has no weights: expected {SAFETENSORS_FILE}, "
        f"{SAFETENSORS_INDEX_FILE} or {TORCH_FILE}"
    )


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as error:
        raise ConversionError(f"{path}: invalid JSON ({error})")


def load_hf_config(hf_dir):
    """The checkpoint's `config.json` as a dict."""
    if not os.path.isdir(hf_dir):
        raise ConversionError(f"{hf_dir}: no such checkpoint folder")
    path = os.path.join(hf_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise ConversionError(
            f"{hf_dir} is not a transformers checkpoint (no {CONFIG_FILE})"
        )
    return _read_json(path)


def load_preprocessor_config(hf_dir):
    """`(path, dict)`: the checkpoint's `preprocessor_config.json`, or `{}`
    when the folder has none."""
    path = os.path.join(hf_dir, PREPROCESSOR_CONFIG_FILE)
    if not os.path.exists(path):
        return path, {}
    return path, _read_json(path)


def audio_converter_config(preset, port_name, default_normalize=True):
    """Audio converter arguments from a checkpoint's
    `preprocessor_config.json` (16 kHz mono waveforms only).

    Without that file, transformers' `Wav2Vec2FeatureExtractor` defaults
    apply (16 kHz, pad with 0), with `do_normalize=default_normalize`.

    Args:
        preset: str. The checkpoint folder.
        port_name: str. The port named in errors, e.g. "kser's HuBERT port".
        default_normalize: bool. `do_normalize` when the file does not say.
    """
    path, config = load_preprocessor_config(preset)
    sampling_rate = config.get("sampling_rate", 16000)
    if sampling_rate != 16000:
        raise ConversionError(
            f"{path} expects {sampling_rate} Hz audio; {port_name} runs at "
            "16000 Hz"
        )
    if config.get("feature_size", 1) != 1:
        raise ConversionError(f"{path}: feature_size must be 1 (raw waveform)")
    return {
        "do_normalize": bool(config.get("do_normalize", default_normalize)),
        "sampling_rate": sampling_rate,
        "padding_value": float(config.get("padding_value", 0.0)),
    }


class CheckpointWeights:
    """A checkpoint's tensors, each handed out once, for `convert_weights`.

    Keys lose the first matching `model_prefixes` entry (the base model
    inside a task checkpoint, e.g. `hubert.` in `HubertForCTC`); keys then
    starting with one of `ignored_prefixes` (task heads, training-only
    tensors) are set aside in `ignored`.

    Args:
        tensors: dict of str to numpy array. The checkpoint's tensors.
        model_prefixes: tuple of str. Prefixes to strip.
        ignored_prefixes: tuple of str. Keys the model does not use.
    """

    def __init__(self, tensors, model_prefixes=(), ignored_prefixes=()):
        self._tensors = {}
        ignored = []
        for key, value in tensors.items():
            for prefix in model_prefixes:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
                    break
            if ignored_prefixes and key.startswith(tuple(ignored_prefixes)):
                ignored.append(key)
                continue
            self._tensors[key] = value
        self.ignored = sorted(ignored)

    def __contains__(self, key):
        return key in self._tensors

    def pop_tensor(self, key):
        """The tensor `key` as stored, removed (so it counts as used)."""
        return self._tensors.pop(key)

    def set_tensor(self, key, value):
        """Store a tensor derived from others (e.g. a folded weight norm)."""
        self._tensors[key] = value

    def get_tensor(self, key):
        """The tensor `key` as float32, removed (so it counts as used)."""
        if key not in self._tensors:
            raise ConversionError(f"checkpoint is missing tensor {key}")
        return np.asarray(self._tensors.pop(key), dtype=np.float32)

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        """Assign a checkpoint tensor to a Keras variable.

        Args:
            keras_variable: the variable to fill.
            hf_weight_key: str. The tensor's key (prefix stripped).
            hook_fn: callable `(tensor, keras_shape) -> tensor`, e.g. a
                transpose from torch's layout to Keras's.
        """
        value = self.get_tensor(hf_weight_key)
        shape = tuple(keras_variable.shape)
        if hook_fn is not None:
            value = hook_fn(value, shape)
        if shape != value.shape:
            raise ConversionError(
                f"tensor {hf_weight_key} has shape {value.shape}, the model "
                f"expects {shape}: config.json does not match the weights"
            )
        keras_variable.assign(value)

    def check_all_used(self, port_name):
        """Raise `ConversionError` naming the tensors nothing used.

        Anything left is a tensor the port does not know: say so rather
        than silently dropping weights the model may need.

        Args:
            port_name: str. Who converted, for the message.
        """
        unknown = sorted(self._tensors)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise ConversionError(
                f"checkpoint has {count_noun(len(unknown), 'tensor')} "
                f"{port_name} does "
                f"not use: {shown}"
            )
