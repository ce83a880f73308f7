"""Presets converted on the fly, cached under `$KSER_HOME`.

A hub checkpoint (`hf://ORG/NAME[@REVISION]`, see `kser.convert.hub`) is
converted once into `$KSER_HOME/hub/ORG--NAME/COMMIT/`, keyed by the
repository and the commit its revision resolved to; the revision's last
known commit is kept in `$KSER_HOME/hub/ORG--NAME/refs/REVISION`, so a
later run can reuse the conversion when the hub cannot be reached.

A local transformers checkpoint folder (a `config.json` with a
`model_type`, no `model.weights.h5`) given as a preset is converted into
`$KSER_HOME/converted/KEY/`, where KEY is the sha256 of the folder's
absolute path and its files' sizes and modification times: editing or
replacing the checkpoint makes a new conversion.

Every conversion is written to a temporary folder beside its target and
renamed into place, so an interrupted conversion leaves nothing behind and
two processes converting at once both end up with one complete folder.
"""

import hashlib
import json
import os
import shutil
import tempfile
from urllib.parse import quote

from kser.errors import ConversionError
from kser.models.preset_utils import kser_home

PRESET_WEIGHTS_FILE = "model.weights.h5"
SOURCE_FILE = "kser_source.json"


def _is_done(folder):
    return os.path.isfile(os.path.join(folder, "config.json")) and os.path.isfile(
        os.path.join(folder, PRESET_WEIGHTS_FILE)
    )


def hub_repo_dir(repo_id):
    """`$KSER_HOME/hub/ORG--NAME`: the conversions of one hub repository."""
    return os.path.join(kser_home(), "hub", repo_id.replace("/", "--"))


def hub_preset_dir(repo_id, commit):
    """Where the conversion of `repo_id` at `commit` lives."""
    return os.path.join(hub_repo_dir(repo_id), commit)


def _ref_path(repo_id, revision):
    return os.path.join(hub_repo_dir(repo_id), "refs", quote(revision, safe=""))


def read_ref(repo_id, revision):
    """The commit `revision` last resolved to here, or None."""
    try:
        with open(_ref_path(repo_id, revision)) as f:
            commit = f.read().strip()
    except OSError:
        return None
    return commit or None


def write_ref(repo_id, revision, commit):
    """Remember that `revision` of `repo_id` resolved to `commit`."""
    path = _ref_path(repo_id, revision)
    if read_ref(repo_id, revision) == commit:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ref-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        f.write(commit)
    os.replace(tmp, path)


def cached_hub_preset(repo_id, commit):
    """The converted folder of `repo_id` at `commit`, or None."""
    folder = hub_preset_dir(repo_id, commit)
    return folder if _is_done(folder) else None


def is_transformers_checkpoint(folder):
    """Whether `folder` is a transformers checkpoint rather than a preset.

    True for a folder whose `config.json` has a `model_type` and that has
    no `model.weights.h5` (which every kser preset has).
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return False
    if os.path.exists(os.path.join(folder, PRESET_WEIGHTS_FILE)):
        return False
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "model_type" in config


def local_checkpoint_key(folder):
    """sha256 of the folder's absolute path and its files' sizes and mtimes."""
    folder = os.path.realpath(os.fspath(folder))
    digest = hashlib.sha256(folder.encode())
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        stat = os.stat(path)
        digest.update(f"\0{name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def local_preset_dir(folder):
    """Where the conversion of the checkpoint folder `folder` lives."""
    return os.path.join(kser_home(), "converted", local_checkpoint_key(folder))


def convert_into_cache(hf_dir, target, source):
    """Convert a checkpoint folder into the cache folder `target`, once.

    Args:
        hf_dir: str. The transformers checkpoint folder.
        target: str. The cache folder; returned at once when complete.
        source: dict. Where the checkpoint came from, written as
            `kser_source.json` in the preset.

    Returns:
        `target`.
    """
    from kser.convert import convert_checkpoint

    if _is_done(target):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".kser-cache-", dir=parent)
    try:
        out = os.path.join(work, "preset")
        convert_checkpoint(hf_dir, out)
        with open(os.path.join(out, SOURCE_FILE), "w") as f:
            json.dump(source, f, indent=2)
        if os.path.isdir(target) and not _is_done(target):
            shutil.rmtree(target, ignore_errors=True)  # a broken leftover
        try:
            os.rename(out, target)
        except OSError as error:
            if not _is_done(target):  # no other process won the race
                raise ConversionError(
                    f"cannot move the converted preset to {target} ({error})"
                ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def local_checkpoint_preset(folder):
    """The preset converted from a local transformers checkpoint folder."""
    folder = os.path.abspath(os.fspath(folder))
    return convert_into_cache(
        folder, local_preset_dir(folder), {"checkpoint_dir": folder}
    )
