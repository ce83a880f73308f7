"""Checks every wav2vec2-style family's tests share (wav2vec2,
data2vec-audio): parity with a committed transformers fixture, conversion
to a preset, loading it back through kser and keras-hub, config round
trips, saving a classifier, named presets and one-line refusals."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from kser.convert import convert_checkpoint
from kser.convert import load_transformers_checkpoint
from kser.errors import ConversionError
from tests.models.helpers import FIXTURES
from tests.models.helpers import backbone_outputs
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import max_abs_diff

TOLERANCE = 1e-4
REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def fixture_dir(name):
    return os.path.join(FIXTURES, name)


def expected(name):
    return dict(np.load(os.path.join(FIXTURES, f"{name}_expected.npz")))


def hf_config(name):
    with open(os.path.join(fixture_dir(name), "config.json")) as f:
        return json.load(f)


def outputs(backbone, waveform, padding_mask):
    return backbone_outputs(
        backbone, {"waveform": waveform, "padding_mask": padding_mask}
    )


def check_parity(backbone, ref, batch):
    """Every hidden state and the last one within `TOLERANCE` of the
    fixture's, for the unpadded clip (`batch=False`) or the padded batch.
    Returns `(outputs, largest difference)`."""
    if batch:
        waveform, mask = ref["batch_input_values"], ref["batch_attention_mask"]
        prefix = "batch"
    else:
        waveform = ref["single_input_values"]
        mask = np.ones_like(waveform, dtype="int32")
        prefix = "single"
    out = outputs(backbone, waveform, mask)
    hidden = ref[f"{prefix}_hidden_states"]
    assert out["hidden_states"].shape == hidden.shape
    worst = 0.0
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(out["hidden_states"][:, i], hidden[:, i])
        assert diff < TOLERANCE, f"hidden state {i}: max abs diff {diff}"
        worst = max(worst, diff)
    diff = max_abs_diff(out["sequence_output"], ref[f"{prefix}_last_hidden_state"])
    assert diff < TOLERANCE, f"last hidden state: max abs diff {diff}"
    return out, max(worst, diff)


def check_frame_mask(backbone, ref, out):
    frames = backbone.num_frames(int(ref["padded_length"]))
    mask = out["frame_padding_mask"]
    assert mask[0].all()
    assert mask[1, :frames].all() and not mask[1, frames:].any()


def check_audio_converter(converter, ref):
    raw = ref["raw_audio"].copy()
    length = int(ref["padded_length"])
    raw[1, length:] = 0.0
    mask = np.ones_like(raw, dtype="int32")
    mask[1, length:] = 0
    got = ops.convert_to_numpy(converter(raw, mask)["waveform"])
    assert max_abs_diff(got, ref["batch_input_values"]) < 1e-5
    assert np.all(got[1, length:] == 0.0)


def check_convert_and_load(name, tmp_path, backbone_cls, converter_cls):
    """`convert_checkpoint` writes a preset that `load_backbone` and
    `load_audio_converter` read back as the family's classes."""
    from kser.models import load_audio_converter
    from kser.models import load_backbone

    out_dir = str(tmp_path / "preset")
    report = convert_checkpoint(fixture_dir(name), out_dir)
    assert "parameters" in report and "\n" not in report
    backbone = load_backbone(out_dir)
    assert type(backbone) is backbone_cls
    converter = load_audio_converter(out_dir)
    assert type(converter) is converter_cls and converter.do_normalize
    assert type(backbone_cls.from_preset(out_dir)) is backbone_cls
    check_parity(backbone, expected(name), batch=True)
    low = load_backbone(out_dir, dtype="mixed_bfloat16")
    assert low.dtype_policy.name == "mixed_bfloat16"
    return out_dir


def check_keras_hub_loads(out_dir, family_module, class_name):
    code = (
        f"import sys, keras_hub, {family_module}\n"
        "b = keras_hub.models.Backbone.from_preset(sys.argv[1])\n"
        "print(type(b).__name__, b.hidden_dim)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, out_dir],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == [class_name, "32"]


def check_config_round_trip(backbone):
    config = backbone.get_config()
    json.dumps(config)  # plain data
    restored = type(backbone).from_config(config)
    assert restored.get_config() == config
    restored.set_weights(backbone.get_weights())
    waveform = np.random.default_rng(0).standard_normal((2, 4000)).astype("float32")
    mask = np.ones_like(waveform, dtype="int32")
    mask[1, 3000:] = 0
    a = outputs(restored, waveform, mask)["hidden_states"]
    b = outputs(backbone, waveform, mask)["hidden_states"]
    assert max_abs_diff(a, b) == 0.0


def check_classifier_save_load(backbone, tmp_path):
    from kser.models import EmotionClassifier

    keras.utils.set_random_seed(0)
    model = EmotionClassifier(backbone, head="dense", layers="weighted")
    rng = np.random.default_rng(0)
    x = {
        "waveform": (0.1 * rng.standard_normal((2, 4000))).astype("float32"),
        "padding_mask": np.ones((2, 4000), "int32"),
    }
    x["padding_mask"][1, 2500:] = 0
    x["waveform"][1, 2500:] = 0.0
    logits = model.predict(x, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EmotionClassifier)
    assert type(loaded.backbone) is type(backbone)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), logits, atol=1e-5)


def check_bfloat16_tracks_float32(backbone):
    config = backbone.get_config()
    config["dtype"] = "mixed_bfloat16"
    low = type(backbone).from_config(config)
    low.set_weights(backbone.get_weights())
    rng = np.random.default_rng(0)
    waveform = rng.standard_normal((2, 4000)).astype("float32")
    mask = np.ones_like(waveform, dtype="int32")
    ref = outputs(backbone, waveform, mask)["sequence_output"]
    inputs = {"waveform": waveform, "padding_mask": mask}
    out = backbone_outputs(low, inputs)["sequence_output"]
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    got = out.astype("float32")
    assert np.all(np.isfinite(got))
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert rel < 0.05, rel


def check_named_presets(backbone_cls, presets, family):
    """Each distinct preset architecture builds with `load_weights=False`
    and has the parameter count its metadata states."""
    from kser.models import preset_family

    built = {}
    for name, preset in presets.items():
        key = json.dumps(preset["config"], sort_keys=True)
        if key not in built:
            backbone = backbone_cls.from_preset(name, load_weights=False)
            config = backbone.get_config()
            for option, value in preset["config"].items():
                assert config[option] == value, (name, option)
            built[key] = backbone.count_params()
            del backbone
        assert built[key] == preset["metadata"]["params"], name
        assert preset_family(name)[0] == family


def check_refused(convert_backbone_config, config, update, message):
    config = dict(config)
    config.update(update)
    with pytest.raises(ConversionError, match=message) as info:
        convert_backbone_config(config)
    assert "\n" not in str(info.value)


def check_refused_end_to_end(name, tmp_path, update, message):
    """A refused config.json stops `load_transformers_checkpoint` with one
    line."""
    folder = copy_checkpoint(name, str(tmp_path / "refused"), config_update=update)
    with pytest.raises(ConversionError, match=message) as info:
        load_transformers_checkpoint(folder)
    assert "\n" not in str(info.value)


# === Live comparisons (torch and transformers installed) ===

LIVE_TOLERANCE = 1e-3
LIVE_SAMPLES = 32000  # 2 s at 16 kHz
LIVE_VALID = 24000  # the second clip is 1.5 s, padded


def live_compare(model, tmp_path):
    """Save a transformers model with random weights, convert it with kser
    and compare every hidden state on a padded 2-clip batch. Returns the
    largest difference."""
    import torch
    import transformers

    model.save_pretrained(str(tmp_path))
    extractor = transformers.Wav2Vec2FeatureExtractor(
        do_normalize=True, return_attention_mask=True
    )
    extractor.save_pretrained(str(tmp_path))
    rng = np.random.default_rng(0)
    raw = [
        (0.1 * rng.standard_normal(LIVE_SAMPLES)).astype("float32"),
        (0.1 * rng.standard_normal(LIVE_VALID)).astype("float32"),
    ]
    batch = extractor(raw, sampling_rate=16000, padding=True, return_tensors="np")
    with torch.no_grad():
        ref = model(
            torch.from_numpy(batch["input_values"]),
            attention_mask=torch.from_numpy(batch["attention_mask"]),
            output_hidden_states=True,
        )
    ref_hidden = np.stack([h.numpy() for h in ref.hidden_states], axis=1)
    ref_last = ref.last_hidden_state.numpy()

    backbone, converter, _ = load_transformers_checkpoint(str(tmp_path))
    padded = np.zeros((2, LIVE_SAMPLES), "float32")
    padded[0], padded[1, :LIVE_VALID] = raw[0], raw[1]
    mask = np.zeros((2, LIVE_SAMPLES), "int32")
    mask[0], mask[1, :LIVE_VALID] = 1, 1
    inputs = converter(padded, mask)
    assert max_abs_diff(
        ops.convert_to_numpy(inputs["waveform"]), batch["input_values"]
    ) < 1e-5
    out = backbone(inputs)
    hidden = ops.convert_to_numpy(out["hidden_states"])
    assert hidden.shape == ref_hidden.shape
    worst = 0.0
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(hidden[:, i], ref_hidden[:, i])
        assert diff < LIVE_TOLERANCE, f"hidden state {i}: {diff}"
        worst = max(worst, diff)
    diff = max_abs_diff(ops.convert_to_numpy(out["sequence_output"]), ref_last)
    assert diff < LIVE_TOLERANCE, f"last hidden state: {diff}"
    return max(worst, diff)


def transformers_param_count(model_cls, config):
    """Parameters of `model_cls(config)`, built on the meta device (no
    memory, no initialisation)."""
    import torch

    with torch.device("meta"):
        model = model_cls(config)
    return sum(p.numel() for p in model.parameters())
