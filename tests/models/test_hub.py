"""`hf://ORG/NAME[@REVISION]` presets and transformers folders as presets.

Fully offline: `tests.models.fake_hub` serves a tiny HuBERT checkpoint
(`tests/fixtures/hubert_tiny_base`) on 127.0.0.1, `HF_ENDPOINT` points at
it, `HF_HOME` and `KSER_HOME` are temporary folders, and a guard refuses
any connection to another address.
"""

import json
import os
import shutil
import socket

import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.convert.checkpoint import read_safetensors
from kser.errors import ConversionError
from kser.errors import PresetError
from tests.models.fake_hub import FakeHub
from tests.models.fake_hub import FakeRepo
from tests.models.helpers import fixture_dir
from tests.models.helpers import write_safetensors

LAYOUT = "hubert_tiny_base"


def _fixture_files():
    folder = fixture_dir(LAYOUT)
    files = {}
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            files[name] = f.read()
    return files


def _scaled_weights(tmp_dir, factor):
    tensors = read_safetensors(os.path.join(fixture_dir(LAYOUT), "model.safetensors"))
    path = os.path.join(tmp_dir, "scaled.safetensors")
    write_safetensors(path, {k: v * factor for k, v in tensors.items()})
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    files = _fixture_files()
    tiny = FakeRepo()
    old = dict(files, **{"model.safetensors": _scaled_weights(
        str(tmp_path_factory.mktemp("weights")), 0.5)})
    tiny.add_commit(old, refs=["v1"])
    # The newest commit also has a .bin, which must never be fetched.
    tiny.add_commit(dict(files, **{"pytorch_model.bin": b"not a pickle"}), refs=["main"])
    other = FakeRepo()
    config = json.loads(files["config.json"])
    config["model_type"] = "bert"  # a model_type kser will never convert
    other.add_commit(
        dict(files, **{"config.json": json.dumps(config).encode()}), refs=["main"]
    )
    server = FakeHub()
    server.repos = {"org/tiny": tiny, "org/bert": other}
    yield server
    server.stop()


def _point_at(monkeypatch, url, hf_home, offline=False):
    """Env AND huggingface_hub's import-time constants, for this test."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", hf_home)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        url + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(constants, "HF_HOME", hf_home)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", os.path.join(hf_home, "hub"))
    monkeypatch.setattr(
        constants, "AGENT_HARNESSES_PATH",
        os.path.join(hf_home, ".agent_harnesses.json"), raising=False,
    )
    set_offline(monkeypatch, offline)


def set_offline(monkeypatch, offline):
    from huggingface_hub import constants

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    """Refuse connections to anything but 127.0.0.1."""
    connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise OSError(f"test tried to reach {address[0]}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def env(hub, tmp_path, monkeypatch):
    _point_at(monkeypatch, hub.url, str(tmp_path / "hf"))
    monkeypatch.setenv("KSER_HOME", str(tmp_path / "kser"))
    hub.clear()
    return tmp_path


def _commit(hub, ref):
    return hub.repos["org/tiny"].refs[ref]


def _one_line(error):
    message = str(error)
    assert "\n" not in message, message
    return message


def _fingerprint(folder):
    with open(os.path.join(folder, "kser_conversion.json")) as f:
        return json.load(f)["weights_fingerprint"]


def _dead_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("hf://org/tiny", ("org/tiny", None)),
        ("hf://facebook/hubert-base-ls960@main", ("facebook/hubert-base-ls960", "main")),
        ("hf://org/tiny@" + "a" * 40, ("org/tiny", "a" * 40)),
        ("hf://org/tiny@refs/pr/1", ("org/tiny", "refs/pr/1")),
    ],
)
def test_parse_hub_uri(uri, expected):
    from kser.convert.hub import parse_hub_uri

    assert parse_hub_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    ["hf://tiny", "hf://org/tiny/extra", "hf://org/tiny@", "hf://org/ti ny",
     "hf://org--x/tiny", "hf:/org/tiny", "hf://-org/tiny", "hf://org/tiny@a b"],
)
def test_malformed_uri_is_one_line(uri):
    from kser.convert.hub import parse_hub_uri

    with pytest.raises(PresetError) as info:
        parse_hub_uri(uri)
    assert "hf://ORG/NAME" in _one_line(info.value)


def test_cli_convert_from_hub(env, hub):
    from kser.convert import convert_checkpoint

    out = env / "preset"
    result = CliRunner().invoke(main, ["convert", "hf://org/tiny", str(out)])
    assert result.exit_code == 0, result.output
    assert f"hf://org/tiny (commit {_commit(hub, 'main')[:12]})" in result.output
    for name in ("config.json", "model.weights.h5", "audio_converter.json",
                 "kser_source.json"):
        assert (out / name).exists(), name
    source = json.loads((out / "kser_source.json").read_text())
    assert source["commit"] == _commit(hub, "main")
    assert source["endpoint"] == hub.url
    # Safetensors preferred: the .bin is never asked for, not even a HEAD.
    assert not hub.file_requests("pytorch_model.bin", "GET")
    assert not hub.file_requests("pytorch_model.bin", "HEAD")
    local = env / "local"
    convert_checkpoint(fixture_dir(LAYOUT), str(local))
    assert _fingerprint(out) == _fingerprint(local)
    # An existing OUT_DIR is refused before anything is downloaded.
    hub.clear()
    result = CliRunner().invoke(main, ["convert", "hf://org/tiny", str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert hub.requests == []


def test_cli_convert_errors_are_one_line(env, hub):
    runner = CliRunner()
    for args, message in [
        (["convert", "hf://org/nope", str(env / "a")], "repository org/nope not found"),
        (["convert", "hf://org/tiny@v9", str(env / "b")], "revision 'v9' not found"),
        (["convert", "hf://bad", str(env / "c")], "hf://ORG/NAME"),
        (["convert", str(env / "missing"), str(env / "d")], "no such checkpoint folder"),
    ]:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
        assert message in lines[0]


def test_load_backbone_converts_once(env, hub):
    from kser.models import load_audio_converter
    from kser.models import load_backbone

    backbone = load_backbone("hf://org/tiny")
    commit = _commit(hub, "main")
    folder = env / "kser" / "hub" / "org--tiny" / commit
    assert (folder / "model.weights.h5").exists()
    assert len(hub.file_requests("model.safetensors")) == 1
    mtime = os.path.getmtime(folder / "model.weights.h5")
    hub.clear()
    again = load_backbone("hf://org/tiny")
    converter = load_audio_converter("hf://org/tiny")
    # Only the branch is resolved again: no file is fetched, nothing converted.
    assert hub.file_requests() == [] and hub.file_requests(method="HEAD") == []
    assert all(path == "/api/models/org/tiny" or "agent" in path
               for _, path in hub.requests), hub.requests
    assert os.path.getmtime(folder / "model.weights.h5") == mtime
    for a, b in zip(backbone.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert converter.do_normalize is True  # from preprocessor_config.json


def test_revision_pinning(env, hub):
    from kser.convert.hub import resolve_preset

    old, new = _commit(hub, "v1"), _commit(hub, "main")
    tagged = resolve_preset("hf://org/tiny@v1")
    assert os.path.basename(tagged) == old
    pinned = resolve_preset(f"hf://org/tiny@{new}")
    assert os.path.basename(pinned) == new
    assert _fingerprint(tagged) != _fingerprint(pinned)
    hub.clear()
    # A commit hash is immutable: once converted, no request at all.
    assert resolve_preset(f"hf://org/tiny@{new}") == pinned
    assert hub.requests == []
    assert resolve_preset("hf://org/tiny") == pinned  # main -> same commit
    assert not hub.file_requests()


def test_offline_reuse(env, hub, monkeypatch):
    from kser.convert.hub import resolve_preset
    from kser.models import load_backbone

    folder = resolve_preset("hf://org/tiny@v1")
    set_offline(monkeypatch, True)
    hub.clear()
    assert resolve_preset("hf://org/tiny@v1") == folder
    assert load_backbone("hf://org/tiny@v1").count_params() > 0
    assert hub.requests == []
    # Offline, never converted, but downloaded by huggingface_hub before:
    # converted from its cache, still without a request.
    set_offline(monkeypatch, False)
    from kser.convert.hub import download_checkpoint

    download_checkpoint("hf://org/tiny")
    set_offline(monkeypatch, True)
    hub.clear()
    converted = resolve_preset("hf://org/tiny")
    assert os.path.basename(converted) == _commit(hub, "main")
    assert hub.requests == []
    # Offline with nothing cached: one line saying how to convert offline.
    with pytest.raises(PresetError) as info:
        resolve_preset("hf://org/bert")
    message = _one_line(info.value)
    assert "HF_HUB_OFFLINE" in message and "kser convert DIR OUT" in message


def test_unknown_repo_and_revision_are_one_line(env, hub):
    from kser.models import load_backbone

    with pytest.raises(PresetError) as info:
        load_backbone("hf://org/nope")
    assert "repository org/nope not found" in _one_line(info.value)
    with pytest.raises(PresetError) as info:
        load_backbone("hf://org/tiny@nope")
    assert "revision 'nope' not found" in _one_line(info.value)


def test_server_down_is_one_line(env, hub, monkeypatch):
    from kser.convert.hub import resolve_preset

    folder = resolve_preset("hf://org/tiny")
    _point_at(monkeypatch, _dead_url(), str(env / "hf"))
    # Converted before: the revision's last commit is reused.
    assert resolve_preset("hf://org/tiny") == folder
    with pytest.raises(PresetError) as info:
        resolve_preset("hf://org/tiny@v1")
    message = _one_line(info.value)
    assert "cannot reach the hub" in message and "kser convert DIR OUT" in message
    result = CliRunner().invoke(main, ["convert", "hf://org/tiny@v1", str(env / "o")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "kser convert DIR OUT" in result.output


def test_unsupported_model_type_before_weights(env, hub):
    from kser.convert.hub import resolve_preset

    with pytest.raises(ConversionError) as info:
        resolve_preset("hf://org/bert")
    message = _one_line(info.value)
    assert "has model_type 'bert'" in message
    assert "supported model types:" in message and "'hubert'" in message
    assert not hub.file_requests("model.safetensors")


def test_transformers_folder_as_preset(env):
    from kser.models import load_backbone
    from kser.models.loader import preset_family

    checkpoint = env / "checkpoint"
    shutil.copytree(fixture_dir(LAYOUT), checkpoint)
    backbone = load_backbone(str(checkpoint))
    converted = sorted((env / "kser" / "converted").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.weights.h5").exists()
    assert load_backbone(str(checkpoint)).count_params() == backbone.count_params()
    assert preset_family(str(checkpoint)) == ("hubert", str(converted[0]))
    assert len(list((env / "kser" / "converted").iterdir())) == 1
    # A changed checkpoint is a new conversion.
    weights = checkpoint / "model.safetensors"
    os.utime(weights, ns=(0, os.stat(weights).st_mtime_ns + 10**9))
    load_backbone(str(checkpoint))
    assert len(list((env / "kser" / "converted").iterdir())) == 2


def test_train_with_hub_preset(env, hub):
    from kser.data.synthetic import write_corpus

    corpus = env / "ravdess"
    write_corpus(str(corpus), actors=6, clip_seconds=0.4, seed=1, progress=False)
    out = env / "run"
    result = CliRunner().invoke(
        main,
        ["train", "--data", str(corpus), "--preset", "hf://org/tiny",
         "--variant", "dense", "--fold", "1", "--epochs", "1",
         "--batch-size", "8", "--max-seconds", "1", "--no-save-model",
         "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "| 1 |" in result.output
    run_config = json.loads((out / "run_config.json").read_text())
    assert run_config["configs"][0]["preset"] == "hf://org/tiny"
    assert (out / "dense" / "fold_01" / "result.json").exists()
    assert len(hub.file_requests("model.safetensors")) == 1
