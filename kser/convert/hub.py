"""Presets straight from the Hugging Face Hub: `hf://ORG/NAME[@REVISION]`.

`resolve_preset(preset)` turns what a user passes as a preset into a kser
preset folder: an `hf://` URI is downloaded with `huggingface_hub` and
converted once into `$KSER_HOME/hub/ORG--NAME/COMMIT/`; a local
transformers checkpoint folder is converted into `$KSER_HOME/converted/`
(see `kser.convert.preset_cache`); anything else is returned unchanged.
`kser.models.load_backbone` and `load_audio_converter` call it, so every
`--preset` option accepts both.

Only `config.json`, `preprocessor_config.json` and the weights are
fetched: safetensors (single or sharded) when the repository has them,
else `pytorch_model.bin`. `huggingface_hub` reads `HF_ENDPOINT`, `HF_HOME`
/ `HF_HUB_CACHE`, `HF_TOKEN` and `HF_HUB_OFFLINE` itself; kser passes no
endpoint, cache or token of its own and reads `huggingface_hub.constants`
only when it runs. A branch or tag is resolved to its commit with one
metadata request; a commit hash, or `HF_HUB_OFFLINE=1`, needs none once
converted. When the hub cannot be reached, the revision's last converted
commit is used.

Examples:
```python
from kser.convert.hub import resolve_preset

folder = resolve_preset("hf://facebook/hubert-base-ls960@main")
```
"""

import json
import os
import re
import time

from kser.convert.preset_cache import cached_hub_preset
from kser.convert.preset_cache import convert_into_cache
from kser.convert.preset_cache import hub_preset_dir
from kser.convert.preset_cache import is_transformers_checkpoint
from kser.convert.preset_cache import local_checkpoint_preset
from kser.convert.preset_cache import read_ref
from kser.convert.preset_cache import SOURCE_FILE
from kser.convert.preset_cache import write_ref
from kser.errors import ConversionError
from kser.errors import PresetError

HUB_PREFIX = "hf://"
DEFAULT_REVISION = "main"
CONFIG_FILE = "config.json"
METADATA_FILES = ["config.json", "preprocessor_config.json"]
SAFETENSORS_PATTERNS = [
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
]
TORCH_FILE = "pytorch_model.bin"
ALLOW_PATTERNS = METADATA_FILES + SAFETENSORS_PATTERNS + [TORCH_FILE]

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"{_NAME}/{_NAME}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SAFETENSORS_FILE = re.compile(r"model(-[0-9]+-of-[0-9]+)?\.safetensors(\.index\.json)?")


def parse_hub_uri(uri):
    """`(repo_id, revision_or_None)` of `hf://ORG/NAME[@REVISION]`.

    Raises:
        PresetError: one line, for anything else.
    """
    text = os.fspath(uri)
    if not text.startswith(HUB_PREFIX):
        raise PresetError(f"{text!r} is not a hub URI: write hf://ORG/NAME[@REVISION]")
    repo_id, at, revision = text[len(HUB_PREFIX) :].partition("@")
    bad = (
        not _REPO_ID.fullmatch(repo_id)
        or "--" in repo_id
        or ".." in repo_id
        or (at and (not revision or any(c.isspace() for c in revision)))
    )
    if bad:
        raise PresetError(
            f"{text!r} is not a hub URI: write hf://ORG/NAME or "
            "hf://ORG/NAME@REVISION (a branch, tag or commit), e.g. "
            "hf://facebook/hubert-base-ls960@main"
        )
    return repo_id, (revision or None)


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise PresetError(
            "hf:// presets need huggingface_hub: `pip install "
            "'huggingface_hub>=0.23'`, or download the checkpoint folder and "
            "run `kser convert DIR OUT`"
        ) from None
    return huggingface_hub


def _offline():
    """`HF_HUB_OFFLINE`, as huggingface_hub sees it now (or the env says)."""
    _hub()
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in {"1", "ON", "YES", "TRUE"}


def _endpoint():
    _hub()
    from huggingface_hub import constants

    return constants.ENDPOINT


def _offline_help(uri):
    return (
        f"to convert offline, download the checkpoint folder of {uri} "
        "(config.json, model.safetensors, preprocessor_config.json) on a "
        "machine with network and run `kser convert DIR OUT`, then use OUT "
        "as the preset"
    )


def _names(error):
    return {cls.__name__ for cls in type(error).__mro__}


class HubUnreachableError(PresetError):
    """The hub could not be reached (no network, a proxy, a timeout)."""


_NETWORK_ERRORS = {
    "ConnectError", "ConnectionError", "TimeoutException", "Timeout",
    "NetworkError", "TransportError", "ProxyError", "OfflineModeIsEnabled",
    "LocalEntryNotFoundError",
}


def _hub_error(error, uri, repo_id, revision):
    """A one-line kser error for an error of huggingface_hub, or None."""
    names = _names(error)
    where = _endpoint()
    if "RevisionNotFoundError" in names:
        return PresetError(
            f"{uri}: revision {revision or DEFAULT_REVISION!r} not found in "
            f"{repo_id} on {where}"
        )
    if names & {"RepositoryNotFoundError", "GatedRepoError"} or (
        "HfHubHTTPError" in names
        and getattr(getattr(error, "response", None), "status_code", None) == 401
    ):
        return PresetError(
            f"{uri}: repository {repo_id} not found on {where} (a private or "
            "gated repository needs a token: set HF_TOKEN)"
        )
    if names & {"EntryNotFoundError", "RemoteEntryNotFoundError"}:
        return ConversionError(f"{uri}: a listed file is missing on {where}")
    if names & _NETWORK_ERRORS:
        return HubUnreachableError(
            f"{uri}: cannot reach the hub at {where} ({type(error).__name__}) "
            f"and nothing is cached; {_offline_help(uri)}"
        )
    if "HfHubHTTPError" in names:
        status = getattr(getattr(error, "response", None), "status_code", "?")
        return PresetError(f"{uri}: the hub at {where} answered HTTP {status}")
    return None


def _call(function, uri, repo_id, revision):
    try:
        return function()
    except Exception as error:
        translated = _hub_error(error, uri, repo_id, revision)
        if translated is None:
            raise
        raise translated from None


def _weight_patterns(files, uri):
    """The allow patterns: safetensors when present, else the `.bin`."""
    if any(_SAFETENSORS_FILE.fullmatch(name) for name in files):
        return SAFETENSORS_PATTERNS
    if TORCH_FILE in files:
        return [TORCH_FILE]
    raise ConversionError(
        f"{uri} has no weights kser reads: expected model.safetensors, "
        f"model.safetensors.index.json or {TORCH_FILE}"
    )


def _download(uri, repo_id, commit):
    """Download the checkpoint of `repo_id` at `commit`; its folder."""
    from kser.convert.checkpoint import load_hf_config
    from kser.convert.registry import get_converter

    hub = _hub()
    files = _call(
        lambda: hub.HfApi().list_repo_files(repo_id, revision=commit),
        uri, repo_id, commit,
    )
    if CONFIG_FILE not in files:
        raise ConversionError(
            f"{uri} is not a transformers checkpoint (no {CONFIG_FILE})"
        )
    patterns = _weight_patterns(files, uri)
    config_path = _call(
        lambda: hub.hf_hub_download(repo_id, CONFIG_FILE, revision=commit),
        uri, repo_id, commit,
    )
    # Refuse an unsupported model_type before fetching the weights.
    get_converter(load_hf_config(os.path.dirname(config_path)).get("model_type"))
    return _call(
        lambda: hub.snapshot_download(
            repo_id, revision=commit, allow_patterns=METADATA_FILES + patterns
        ),
        uri, repo_id, commit,
    )


def download_checkpoint(uri):
    """Download a hub checkpoint; the local snapshot folder.

    Fetches `config.json`, `preprocessor_config.json` and the weights
    (safetensors when the repository has them, else `pytorch_model.bin`)
    into huggingface_hub's cache (`$HF_HOME/hub`). With `HF_HUB_OFFLINE=1`
    only that cache is read.

    Args:
        uri: str. `hf://ORG/NAME[@REVISION]`.

    Raises:
        PresetError: one line, when the repository or revision does not
            exist or the hub cannot be reached.
        ConversionError: one line, for an unsupported `model_type` or a
            repository without weights.
    """
    repo_id, revision = parse_hub_uri(uri)
    ref = revision or DEFAULT_REVISION
    unreachable = None
    if not _offline():
        try:
            commit = _resolve_commit(uri, repo_id, revision)
            snapshot = _download(uri, repo_id, commit)
        except HubUnreachableError as error:
            unreachable = error
        else:
            if commit != revision:
                write_ref(repo_id, ref, commit)
            return snapshot
    known = read_ref(repo_id, ref) or revision
    return _cached_snapshot(uri, repo_id, known, unreachable)


def _resolve_commit(uri, repo_id, revision):
    if revision is not None and _COMMIT.fullmatch(revision):
        return revision
    hub = _hub()
    info = _call(
        lambda: hub.HfApi().model_info(repo_id, revision=revision),
        uri, repo_id, revision,
    )
    if not info.sha:
        raise PresetError(f"{uri}: the hub at {_endpoint()} gave no commit")
    return info.sha


def _cached_snapshot(uri, repo_id, revision, network_error=None):
    """A snapshot folder already in huggingface_hub's cache (no network)."""
    hub = _hub()
    try:
        return hub.snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=[CONFIG_FILE],
            local_files_only=True,
        )
    except Exception as error:
        if _hub_error(error, uri, repo_id, revision) is None:
            raise
    if network_error is not None:
        raise network_error
    raise HubUnreachableError(
        f"{uri}: HF_HUB_OFFLINE is set and no converted copy or downloaded "
        f"snapshot of it is cached; {_offline_help(uri)}"
    ) from None


def _source(uri, repo_id, revision, commit):
    return {
        "uri": uri,
        "repo_id": repo_id,
        "revision": revision,
        "commit": commit,
        "endpoint": _endpoint(),
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def hub_preset(uri):
    """The kser preset folder of a hub checkpoint, converted once.

    The conversion lives in `$KSER_HOME/hub/ORG--NAME/COMMIT/`. A commit
    hash is used as is; a branch or tag (default `main`) costs one metadata
    request, or none with `HF_HUB_OFFLINE=1`, where the last commit the
    revision resolved to here is used. When the commit is converted
    already nothing is downloaded.

    Args:
        uri: str. `hf://ORG/NAME[@REVISION]`.

    Returns:
        str. The preset folder.
    """
    uri = os.fspath(uri)
    repo_id, revision = parse_hub_uri(uri)
    ref = revision or DEFAULT_REVISION
    pinned = revision is not None and bool(_COMMIT.fullmatch(revision))
    offline = _offline()
    commit = revision if pinned else None
    unreachable = None
    if commit is None and not offline:
        try:
            commit = _resolve_commit(uri, repo_id, revision)
        except HubUnreachableError as error:
            unreachable = error
    online = not offline and unreachable is None
    if commit is None:
        commit = read_ref(repo_id, ref)
    if commit is not None:
        folder = cached_hub_preset(repo_id, commit)
        if folder is not None:
            if online and not pinned:
                write_ref(repo_id, ref, commit)
            return folder
    if online:
        try:
            snapshot = _download(uri, repo_id, commit)
        except HubUnreachableError as error:
            online, unreachable = False, error
    if not online:
        snapshot = _cached_snapshot(uri, repo_id, commit or revision, unreachable)
        commit = os.path.basename(os.path.normpath(snapshot))
        folder = cached_hub_preset(repo_id, commit)
        if folder is not None:
            return folder
    folder = convert_into_cache(
        snapshot,
        hub_preset_dir(repo_id, commit),
        _source(uri, repo_id, revision, commit),
    )
    if not pinned:
        write_ref(repo_id, ref, commit)
    return folder


def convert_hub_checkpoint(uri, out_dir, overwrite=False):
    """`kser convert hf://ORG/NAME OUT_DIR`: download, then convert.

    Returns:
        A short human-readable report (str).
    """
    from kser.convert import convert_checkpoint
    from kser.convert.preset_writer import check_out_dir

    check_out_dir(out_dir, overwrite)
    repo_id, revision = parse_hub_uri(uri)
    snapshot = download_checkpoint(uri)
    report = convert_checkpoint(snapshot, out_dir, overwrite=overwrite)
    commit = os.path.basename(os.path.normpath(snapshot))
    with open(os.path.join(out_dir, SOURCE_FILE), "w") as f:
        json.dump(_source(uri, repo_id, revision, commit), f, indent=2)
    return report.replace(snapshot, f"{uri} (commit {commit[:12]})", 1)


def resolve_preset(preset):
    """A kser preset folder or name for whatever a user passed as preset.

    `hf://...` becomes its converted hub preset (see `hub_preset`); a local
    transformers checkpoint folder its converted copy under
    `$KSER_HOME/converted/`; anything else is returned unchanged.
    """
    preset = os.fspath(preset)
    if preset.startswith(HUB_PREFIX):
        return hub_preset(preset)
    if is_transformers_checkpoint(preset):
        return local_checkpoint_preset(preset)
    return preset
