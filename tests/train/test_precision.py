"""Mixed precision: a bfloat16 backbone under a float32 head and loss."""

import keras
import numpy as np
import pytest

from kser.errors import KserError
from kser.models import EmotionClassifier
from kser.models import HubertBackbone
from kser.train.precision import DTYPE_CHOICES
from kser.train.precision import backbone_dtype
from tests.models.helpers import TINY_BACKBONE


def test_backbone_dtype_mapping():
    assert DTYPE_CHOICES == ("float32", "bfloat16")
    assert backbone_dtype("float32") == "float32"
    assert backbone_dtype(None) == "float32"
    assert backbone_dtype("bfloat16") == "mixed_bfloat16"
    assert backbone_dtype("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(KserError, match="unknown dtype 'float16'"):
        backbone_dtype("float16")


def batch(seed=0, samples=1600):
    rng = np.random.default_rng(seed)
    waveform = rng.normal(size=(4, samples)).astype("float32")
    mask = np.ones((4, samples), "int32")
    mask[1::2, samples * 3 // 4 :] = 0
    labels = np.array([0, 3, 5, 7], "int32")
    return {"waveform": waveform * mask, "padding_mask": mask}, labels


def test_bfloat16_backbone_trains_a_float32_head():
    keras.utils.set_random_seed(0)
    backbone = HubertBackbone(**TINY_BACKBONE, dtype=backbone_dtype("bfloat16"))
    model = EmotionClassifier(backbone, head="dense", hidden_units=8)
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    assert backbone.compute_dtype == "bfloat16"
    # Variables stay float32 everywhere; the head also computes in float32.
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model.head.dtype_policy.name == "float32"
    assert all(layer.compute_dtype == "float32" for layer in model.head.layers)

    x, y = batch()
    out = backbone(x)
    assert keras.backend.standardize_dtype(out["sequence_output"].dtype) == "bfloat16"
    features = model.feature_extractor(x)
    assert keras.backend.standardize_dtype(features["features"].dtype) == "float32"
    logits = model(x)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"

    model.compile(learning_rate=1e-2)
    head_before = model.head.get_weights()
    backbone_before = backbone.get_weights()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    head_after = model.head.get_weights()
    assert max(np.max(np.abs(a - b)) for a, b in zip(head_after, head_before)) > 0
    for a, b in zip(backbone.get_weights(), backbone_before):
        np.testing.assert_array_equal(a, b)


def test_bfloat16_features_stay_close_to_float32():
    """bfloat16 keeps about 3 significant digits: close, not equal.

    Seen on CPU: 1.5-3% of the largest feature value.
    """
    keras.utils.set_random_seed(0)
    full = HubertBackbone(**TINY_BACKBONE)
    half = HubertBackbone(**TINY_BACKBONE, dtype=backbone_dtype("bfloat16"))
    half.set_weights(full.get_weights())
    x, _ = batch(seed=1)
    a = keras.ops.convert_to_numpy(full(x)["sequence_output"]).astype("float32")
    b = keras.ops.convert_to_numpy(
        keras.ops.cast(half(x)["sequence_output"], "float32")
    )
    mask = keras.ops.convert_to_numpy(full(x)["frame_padding_mask"])
    err = np.max(np.abs(a - b)[mask])
    assert err < 0.1 * np.max(np.abs(a[mask])), err


def test_emulated_bfloat16_warning_only_on_cpus_without_bf16():
    from kser.cpu import parse_cpuinfo
    from kser.train.precision import emulated_bfloat16_warning

    avx2 = parse_cpuinfo("model name\t: AMD EPYC 7B13\nflags\t\t: avx avx2 fma\n")
    amx = parse_cpuinfo("model name\t: Xeon 8481C\nflags\t\t: avx2 amx_bf16 amx_tile\n")
    unknown = parse_cpuinfo("model name\t: M2\n")
    warning = emulated_bfloat16_warning("bfloat16", cpu=avx2, accelerator=False)
    assert warning == (
        "this CPU (AMD EPYC 7B13) has no bfloat16 instructions (AVX512_BF16 "
        "or AMX): bfloat16 is emulated and slower than float32 here"
    )
    assert emulated_bfloat16_warning("mixed_bfloat16", cpu=avx2, accelerator=False)
    assert emulated_bfloat16_warning("float32", cpu=avx2, accelerator=False) is None
    assert emulated_bfloat16_warning(None, cpu=avx2, accelerator=False) is None
    assert emulated_bfloat16_warning("bfloat16", cpu=avx2, accelerator=True) is None
    assert emulated_bfloat16_warning("bfloat16", cpu=amx, accelerator=False) is None
    assert emulated_bfloat16_warning("bfloat16", cpu=unknown, accelerator=False) is None
    with pytest.raises(KserError, match="unknown dtype"):
        emulated_bfloat16_warning("float16", cpu=avx2, accelerator=False)


def test_load_backbone_warns_once_for_emulated_bfloat16(
    tmp_path, monkeypatch, capsys
):
    """The training loader warns on stderr, once per process, and only for
    bfloat16 (this test's CPU is faked: no bfloat16 instructions)."""
    import kser.cpu
    from kser.train import features
    from kser.train import precision

    assert precision.accelerator_visible() is False  # the test machine
    monkeypatch.setattr(precision, "_warned", [])
    fake = kser.cpu.parse_cpuinfo("model name\t: Fake CPU\nflags\t\t: avx2\n")
    monkeypatch.setattr(kser.cpu, "cpu_info", lambda: fake)
    monkeypatch.setattr(precision, "accelerator_visible", lambda: False)
    from kser.convert.transformers import convert_checkpoint
    from tests.models.helpers import fixture_dir

    preset = tmp_path / "preset"
    convert_checkpoint(fixture_dir("hubert_tiny_base"), str(preset))

    features.load_backbone(str(preset), "float32")
    assert capsys.readouterr().err == ""
    half, _ = features.load_backbone(str(preset), "bfloat16")
    assert half.dtype_policy.name == "mixed_bfloat16"
    err = capsys.readouterr().err
    assert err == (
        "kser: warning: this CPU (Fake CPU) has no bfloat16 instructions "
        "(AVX512_BF16 or AMX): bfloat16 is emulated and slower than float32 "
        "here\n"
    )
    features.load_backbone(str(preset), "bfloat16")
    assert capsys.readouterr().err == ""


def test_bfloat16_backend_note_on_native_cpus_off_torch(monkeypatch):
    """On a CPU with native bfloat16, bfloat16 off the torch backend gets a
    one-line note naming the faster backend; elsewhere nothing (or the
    emulation warning), once per process."""
    import io

    from kser.cpu import parse_cpuinfo
    from kser.train import precision

    zen4 = parse_cpuinfo("model name\t: AMD EPYC 9B14\nflags\t\t: avx2 avx512_bf16\n")
    avx2 = parse_cpuinfo("model name\t: AMD EPYC 7B13\nflags\t\t: avx avx2 fma\n")
    unknown = parse_cpuinfo("model name\t: M2\n")
    note = precision.bfloat16_backend_note(
        "bfloat16", backend="jax", cpu=zen4, accelerator=False
    )
    assert note == (
        "bfloat16 on this CPU (AMD EPYC 9B14) runs about twice as fast on the "
        "torch backend as on jax (--backend torch; BENCHMARKS.md)"
    )
    assert "on tensorflow" in precision.bfloat16_backend_note(
        "mixed_bfloat16", backend="tensorflow", cpu=zen4, accelerator=False
    )
    for kwargs in (
        {"backend": "torch", "cpu": zen4, "accelerator": False},
        {"backend": "jax", "cpu": zen4, "accelerator": True},
        {"backend": "jax", "cpu": avx2, "accelerator": False},
        {"backend": "jax", "cpu": unknown, "accelerator": False},
    ):
        assert precision.bfloat16_backend_note("bfloat16", **kwargs) is None
    assert (
        precision.bfloat16_backend_note(
            "float32", backend="jax", cpu=zen4, accelerator=False
        )
        is None
    )

    monkeypatch.setattr(precision, "_warned", [])
    stream = io.StringIO()
    line = precision.warn_if_emulated_bfloat16(
        "bfloat16", cpu=zen4, accelerator=False, stream=stream, backend="jax"
    )
    assert line == f"kser: note: {note}"
    assert stream.getvalue() == line + "\n"
    # Once per process.
    assert (
        precision.warn_if_emulated_bfloat16(
            "bfloat16", cpu=zen4, accelerator=False, stream=stream, backend="jax"
        )
        is None
    )
    assert stream.getvalue() == line + "\n"
    # On an emulating CPU the warning wins.
    monkeypatch.setattr(precision, "_warned", [])
    line = precision.warn_if_emulated_bfloat16(
        "bfloat16", cpu=avx2, accelerator=False, stream=io.StringIO(), backend="jax"
    )
    assert line.startswith("kser: warning: this CPU (AMD EPYC 7B13)")
