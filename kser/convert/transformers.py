"""Convert a local transformers HuBERT checkpoint into a kser preset.

A checkpoint folder holds `config.json` and the weights as
`model.safetensors`, a sharded `model.safetensors.index.json`, or
`pytorch_model.bin`; `preprocessor_config.json` is read when present.
Safetensors are read with numpy alone; torch is needed only for `.bin`.

The result is a keras-hub style preset folder (`config.json`,
`model.weights.h5`, `metadata.json`, `audio_converter.json`) that
`HubertBackbone.from_preset(OUT_DIR)` loads.
"""

import json
import os
import shutil
import struct
import tempfile

import numpy as np

from kser.data.feature_cache import weights_fingerprint
from kser.errors import ConversionError

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

# Prefixes of the HuBERT model inside task checkpoints (HubertForCTC,
# HubertForSequenceClassification) and keys that are not part of HubertModel.
_MODEL_PREFIXES = ("hubert.",)
_IGNORED_PREFIXES = ("lm_head.", "classifier.", "projector.", "masked_spec_embed")

_SUPPORTED_ACTIVATIONS = ("gelu",)


# === Reading checkpoints ===


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


def _read_torch_bin(path):
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
    single = os.path.join(hf_dir, "model.safetensors")
    index = os.path.join(hf_dir, "model.safetensors.index.json")
    torch_bin = os.path.join(hf_dir, "pytorch_model.bin")
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
        return _read_torch_bin(torch_bin)
    raise ConversionError(
        f"{hf_dir} has no weights: expected model.safetensors, "
        "model.safetensors.index.json or pytorch_model.bin"
    )


def load_hf_config(hf_dir):
    """The checkpoint's `config.json` as a dict."""
    if not os.path.isdir(hf_dir):
        raise ConversionError(f"{hf_dir}: no such checkpoint folder")
    path = os.path.join(hf_dir, "config.json")
    if not os.path.exists(path):
        raise ConversionError(
            f"{hf_dir} is not a transformers checkpoint (no config.json)"
        )
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as error:
        raise ConversionError(f"{path}: invalid JSON ({error})")


# === Configs ===


def convert_backbone_config(hf_config):
    """`HubertBackbone` arguments from a transformers `HubertConfig` dict.

    Refuses, with one line naming the field, configurations the port does
    not implement.

    Args:
        hf_config: dict. The checkpoint's `config.json`.
    """
    model_type = hf_config.get("model_type")
    if model_type != "hubert":
        raise ConversionError(
            f"config.json has model_type {model_type!r}; kser converts "
            "HuBERT checkpoints (model_type 'hubert') only"
        )
    if hf_config.get("conv_pos_batch_norm", False):
        raise ConversionError(
            "config.json sets conv_pos_batch_norm, which kser's HuBERT port "
            "does not implement"
        )
    norm = hf_config.get("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise ConversionError(
            f"config.json has feat_extract_norm {norm!r}; kser implements "
            "'group' and 'layer'"
        )
    for key in ("feat_extract_activation", "hidden_act"):
        act = hf_config.get(key, "gelu")
        if act not in _SUPPORTED_ACTIVATIONS:
            raise ConversionError(
                f"config.json has {key} {act!r}; kser implements 'gelu' only"
            )
    if hf_config.get("num_conv_pos_embeddings", 128) < 1:
        raise ConversionError("config.json: num_conv_pos_embeddings < 1")
    conv_dims = list(hf_config.get("conv_dim", [512] * 7))
    return {
        "conv_dims": conv_dims,
        "conv_kernel_sizes": list(
            hf_config.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2])
        ),
        "conv_strides": list(hf_config.get("conv_stride", [5, 2, 2, 2, 2, 2, 2])),
        "conv_bias": bool(hf_config.get("conv_bias", False)),
        "feature_norm": norm,
        "feature_projection_norm": bool(
            hf_config.get("feat_proj_layer_norm", True)
        ),
        "hidden_dim": hf_config.get("hidden_size", 768),
        "num_layers": hf_config.get("num_hidden_layers", 12),
        "num_heads": hf_config.get("num_attention_heads", 12),
        "intermediate_dim": hf_config.get("intermediate_size", 3072),
        "pos_conv_kernel_size": hf_config.get("num_conv_pos_embeddings", 128),
        "pos_conv_groups": hf_config.get("num_conv_pos_embedding_groups", 16),
        "normalize_first": bool(hf_config.get("do_stable_layer_norm", False)),
        "layer_norm_epsilon": hf_config.get("layer_norm_eps", 1e-5),
        "dropout": hf_config.get("hidden_dropout", 0.1),
        "attention_dropout": hf_config.get("attention_dropout", 0.1),
    }


def transformers_config_kwargs(preset):
    """`transformers.HubertConfig` keyword arguments of a kser preset's
    architecture (the inverse of `convert_backbone_config`), to build the
    matching transformers model, e.g. with random weights for a comparison.
    """
    from kser.models import backbone_presets

    config = backbone_presets[preset]["config"]
    return {
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "feat_extract_norm": config["feature_norm"],
        "do_stable_layer_norm": config["normalize_first"],
        "conv_bias": config["conv_bias"],
    }


def convert_audio_converter_config(hf_dir):
    """`HubertAudioConverter` arguments from `preprocessor_config.json`.

    Without that file, transformers' `Wav2Vec2FeatureExtractor` defaults
    apply (normalise, 16 kHz, pad with 0).

    Args:
        hf_dir: str. The checkpoint folder.
    """
    path = os.path.join(hf_dir, "preprocessor_config.json")
    config = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                config = json.load(f)
        except ValueError as error:
            raise ConversionError(f"{path}: invalid JSON ({error})")
    sampling_rate = config.get("sampling_rate", 16000)
    if sampling_rate != 16000:
        raise ConversionError(
            f"{path} expects {sampling_rate} Hz audio; kser's HuBERT port "
            "runs at 16000 Hz"
        )
    if config.get("feature_size", 1) != 1:
        raise ConversionError(f"{path}: feature_size must be 1 (raw waveform)")
    return {
        "do_normalize": bool(config.get("do_normalize", True)),
        "sampling_rate": sampling_rate,
        "padding_value": float(config.get("padding_value", 0.0)),
    }


# === Weights ===


def _strip_prefix(weights):
    out = {}
    ignored = []
    for key, value in weights.items():
        for prefix in _MODEL_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        if key.startswith(_IGNORED_PREFIXES):
            ignored.append(key)
            continue
        out[key] = value
    return out, ignored


def fold_weight_norm(weight_g, weight_v):
    """Fold PyTorch weight norm (dim=2) into a plain conv weight.

    `W[:, :, k] = g[k] * v[:, :, k] / ||v[:, :, k]||`, the norm taken over
    the output and input axes.
    """
    v = weight_v.astype(np.float64)
    norm = np.sqrt(np.sum(v * v, axis=(0, 1), keepdims=True))
    return (weight_g.astype(np.float64) * v / norm).astype(np.float32)


def _pos_conv_weight(weights):
    base = "encoder.pos_conv_embed.conv."
    spellings = (
        ("weight_g", "weight_v"),
        ("parametrizations.weight.original0", "parametrizations.weight.original1"),
    )
    for g_key, v_key in spellings:
        if base + g_key in weights and base + v_key in weights:
            return fold_weight_norm(
                weights.pop(base + g_key), weights.pop(base + v_key)
            )
    if base + "weight" in weights:
        return weights.pop(base + "weight")
    raise ConversionError(
        "checkpoint has no positional conv weight (expected "
        f"{base}weight_g/weight_v or {base}parametrizations.weight.original0/1)"
    )


def convert_weights(backbone, weights):
    """Copy transformers `HubertModel` weights into a `HubertBackbone`.

    Args:
        backbone: `HubertBackbone`. Built with `convert_backbone_config`.
        weights: dict of str to numpy array. The checkpoint's tensors.

    Returns:
        The list of checkpoint keys that were not used (task heads and
        training-only tensors).
    """
    weights, ignored = _strip_prefix(dict(weights))

    def take(key):
        if key not in weights:
            raise ConversionError(f"checkpoint is missing tensor {key}")
        return np.asarray(weights.pop(key), dtype=np.float32)

    def port(variable, key, hook=None):
        value = take(key)
        if hook is not None:
            value = hook(value)
        if tuple(variable.shape) != value.shape:
            raise ConversionError(
                f"tensor {key} has shape {value.shape}, the model expects "
                f"{tuple(variable.shape)}: config.json does not match the weights"
            )
        variable.assign(value)

    def conv(value):  # torch (out, in, k) -> keras (k, in, out)
        return value.transpose(2, 1, 0)

    def dense(value):  # torch (out, in) -> keras (in, out)
        return value.T

    encoder = backbone.feature_encoder
    for i, (conv_layer, norm_layer) in enumerate(
        zip(encoder.conv_layers, encoder.norm_layers)
    ):
        prefix = f"feature_extractor.conv_layers.{i}."
        port(conv_layer.kernel, prefix + "conv.weight", conv)
        if conv_layer.use_bias:
            port(conv_layer.bias, prefix + "conv.bias")
        if norm_layer is not None:
            port(norm_layer.gamma, prefix + "layer_norm.weight")
            port(norm_layer.beta, prefix + "layer_norm.bias")

    if backbone.feature_projection_norm is not None:
        port(backbone.feature_projection_norm.gamma, "feature_projection.layer_norm.weight")
        port(backbone.feature_projection_norm.beta, "feature_projection.layer_norm.bias")
    port(backbone.feature_projection.kernel, "feature_projection.projection.weight", dense)
    port(backbone.feature_projection.bias, "feature_projection.projection.bias")

    pos_conv = backbone.pos_conv_embedding.conv
    weights["encoder.pos_conv_embed.conv.weight"] = _pos_conv_weight(weights)
    port(pos_conv.kernel, "encoder.pos_conv_embed.conv.weight", conv)
    port(pos_conv.bias, "encoder.pos_conv_embed.conv.bias")
    port(backbone.encoder_norm.gamma, "encoder.layer_norm.weight")
    port(backbone.encoder_norm.beta, "encoder.layer_norm.bias")

    for i, layer in enumerate(backbone.encoder_layers):
        prefix = f"encoder.layers.{i}."
        for dense_layer, name in (
            (layer.query_dense, "attention.q_proj"),
            (layer.key_dense, "attention.k_proj"),
            (layer.value_dense, "attention.v_proj"),
            (layer.output_dense, "attention.out_proj"),
            (layer.intermediate_dense, "feed_forward.intermediate_dense"),
            (layer.ffn_output_dense, "feed_forward.output_dense"),
        ):
            port(dense_layer.kernel, f"{prefix}{name}.weight", dense)
            port(dense_layer.bias, f"{prefix}{name}.bias")
        port(layer.attention_norm.gamma, prefix + "layer_norm.weight")
        port(layer.attention_norm.beta, prefix + "layer_norm.bias")
        port(layer.ffn_norm.gamma, prefix + "final_layer_norm.weight")
        port(layer.ffn_norm.beta, prefix + "final_layer_norm.bias")

    # Anything left is a tensor this port does not know: say so rather than
    # silently dropping weights the model may need.
    unknown = sorted(weights)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ConversionError(
            f"checkpoint has {len(unknown)} tensors kser's HuBERT port does "
            f"not use: {shown}"
        )
    return sorted(ignored)


# === Whole checkpoints ===


def load_transformers_checkpoint(hf_dir, dtype=None):
    """Build a `HubertBackbone` and `HubertAudioConverter` from a checkpoint.

    Args:
        hf_dir: str. A transformers checkpoint folder.
        dtype: str or None. Backbone dtype policy (e.g. "mixed_bfloat16").

    Returns:
        `(backbone, audio_converter, ignored_keys)`.
    """
    from kser.models import HubertAudioConverter
    from kser.models import HubertBackbone

    hf_config = load_hf_config(hf_dir)
    backbone_config = convert_backbone_config(hf_config)
    converter_config = convert_audio_converter_config(hf_dir)
    weights = load_checkpoint_weights(hf_dir)
    backbone = HubertBackbone(**backbone_config, dtype=dtype)
    ignored = convert_weights(backbone, weights)
    return backbone, HubertAudioConverter(**converter_config), ignored


def convert_checkpoint(hf_dir, out_dir, overwrite=False):
    """Convert a transformers HuBERT checkpoint folder into a kser preset.

    The preset is written to a temporary folder beside `out_dir` and moved
    into place at the end, so a failed conversion leaves nothing behind.

    Args:
        hf_dir: str. The transformers checkpoint folder.
        out_dir: str. The preset folder to create.
        overwrite: bool. Replace an existing `out_dir`.

    Returns:
        A short human-readable report (str).
    """
    hf_dir = os.fspath(hf_dir)
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not overwrite:
        raise ConversionError(
            f"{out_dir} already exists; pass --overwrite to replace it"
        )
    backbone, converter, ignored = load_transformers_checkpoint(hf_dir)
    fingerprint = weights_fingerprint(backbone)

    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".kser-convert-", dir=parent)
    try:
        backbone.save_to_preset(tmp_dir)
        converter.save_to_preset(tmp_dir)
        source = {
            "source": os.path.abspath(hf_dir),
            "weights_fingerprint": fingerprint,
            "ignored_keys": ignored,
            "parameters": int(backbone.count_params()),
        }
        with open(os.path.join(tmp_dir, "kser_conversion.json"), "w") as f:
            json.dump(source, f, indent=2)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp_dir, out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    layout = "large (pre-LN)" if backbone.normalize_first else "base (post-LN)"
    return (
        f"converted {hf_dir} -> {out_dir}: HuBERT {layout}, "
        f"{backbone.num_layers} layers x {backbone.hidden_dim}, "
        f"{backbone.count_params():,} parameters, normalize="
        f"{converter.do_normalize}, fingerprint {fingerprint[:16]}"
        + (f", ignored {len(ignored)} task tensors" if ignored else "")
    )
