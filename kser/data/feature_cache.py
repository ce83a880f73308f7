"""On-disk cache of frozen-backbone features, one file per clip and noise copy.

The backbone is frozen, so its output for a clip never changes: compute it
once, store it, and reuse it across folds, epochs and model variants. An
entry's key is a SHA-256 over everything that determines it: the audio
file's bytes, the backbone weights' fingerprint, every preprocessing
setting, the noise copy (and for noisy copies the SNR and seed), which
layers are kept and the storage dtype. Change any of them and the entry
simply misses; the one exception is a float16 entry missing where the
float32 entry of the same clip and settings is there: it is rounded from
that entry (what extraction would store) instead of running the backbone.

Layout: `DIR/v1/ab/abcdef....npz` (`ab` = the key's first two hex digits),
each holding `features` (valid frames only, padding trimmed) and `meta` (a
JSON string with the settings, the number of samples and frames, and a
SHA-256 of the features). An entry whose `meta` does not match the request
is stale, one that does not load or fails its checksum is corrupt: both are
recomputed and overwritten. Entries are written to a temporary file
(`.tmp-*.npz` beside the entry, locked with `flock` while written) and
renamed, so an interrupted extraction keeps every entry finished before it.
A temporary file that a killed process left behind (no longer locked and
over a minute old, or over an hour old) is removed when a cache over the
folder is opened.

The cache knows no backbone: pass any encode function that maps a batch
`{"waveform", "padding_mask"}` to the backbone's output dict, and the
backbone's `num_frames(samples)` (frames per clip length). It imports only
the Keras-free `kser.models.fingerprint` (`weights_fingerprint`, re-exported
here).
"""

import collections
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile

try:  # POSIX only; elsewhere temporary files are removed by age alone.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

import numpy as np

from kser.data.audio import content_hash
from kser.data.audio import read_bytes
from kser.data.clips import Clip
from kser.data.clips import Preprocessing
from kser.data.clips import load_clips
from kser.data.clips import prepare_waveform
from kser.errors import AudioError
from kser.errors import DataError
from kser.models.fingerprint import weights_fingerprint  # noqa: F401

FORMAT_VERSION = 1
# Batches are padded to a multiple of this many seconds: a clip's padding
# (which the group-norm conv layer of base models sees) then depends on its
# own length only, and the backbone meets few distinct shapes.
DEFAULT_PAD_SECONDS = 0.5
DTYPES = ("float32", "float16")
TMP_PREFIX = ".tmp-"
# A temporary entry file is removed when nothing holds its lock and it is
# older than the first age, or in any case when older than the second.
STALE_UNLOCKED_SECONDS = 60
STALE_SECONDS = 3600
# Cache folders already swept by this process.
_SWEPT = set()


def _is_locked(path):
    """bool. Whether a live process holds the flock of a file."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops a lock just taken
    return False


def remove_stale_temporaries(directory, now=None):
    """Remove the temporary entry files that killed extractions left.

    A file `.tmp-*.npz` is stale when no process holds its lock and it is
    over `STALE_UNLOCKED_SECONDS` old, or when it is over `STALE_SECONDS`
    old; a live writer locks its file and renames it within seconds.

    Args:
        directory: str. The cache folder (`FeatureCache.directory`).
        now: float or None. The current time (default `time.time()`).

    Returns:
        int. The number of files removed.
    """
    now = time.time() if now is None else now
    root = os.path.join(os.fspath(directory), f"v{FORMAT_VERSION}")
    removed = 0
    try:
        shards = list(os.scandir(root))
    except OSError:
        return 0
    for shard in shards:
        if not shard.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(shard.path))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(TMP_PREFIX) and entry.name.endswith(".npz")):
                continue
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age > STALE_SECONDS or (
                age > STALE_UNLOCKED_SECONDS and not _is_locked(entry.path)
            ):
                try:
                    os.remove(entry.path)
                    removed += 1
                except OSError:
                    pass
    return removed


def min_samples(num_frames, limit=1 << 24):
    """int or None. The fewest samples from which `num_frames` makes a
    frame (None if none up to `limit` does)."""
    if num_frames(limit) < 1:
        return None
    lo, hi = 0, 1
    while num_frames(hi) < 1:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if num_frames(mid) < 1:
            lo = mid
        else:
            hi = mid
    return hi


def _to_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    if "keras" in sys.modules:
        import keras

        return keras.ops.convert_to_numpy(x)
    return np.asarray(x)


def _layers_setting(layers):
    if layers in ("last", "all"):
        return layers
    try:
        picked = [int(i) for i in layers]
    except (TypeError, ValueError):
        raise DataError(
            f"unknown layers {layers!r}: use 'last', 'all' or a list of "
            "hidden-state indices"
        ) from None
    if not picked:
        raise DataError("layers must not be empty")
    return picked


class FeatureCache:
    """Computes backbone features once and keeps them on disk.

    Args:
        directory: str or path-like. Where entries live (created if needed).
        encode_fn: callable. Maps `{"waveform": float32 [batch, samples],
            "padding_mask": int32 [batch, samples]}` to a dict with
            `"sequence_output"` `[batch, frames, hidden]`, `"hidden_states"`
            `[batch, layers + 1, frames, hidden]` and optionally
            `"frame_padding_mask"`; tensors of any backend or numpy arrays.
            A frozen backbone (e.g. from `kser.models.load_backbone`) works as is.
        fingerprint: str. Identifies the backbone's weights, e.g.
            `weights_fingerprint(backbone)`. If `encode_fn` itself changes
            the input (e.g. a normalising audio converter), add that to the
            string.
        layers: str or list of int. `"last"` stores `sequence_output`
            (`[frames, hidden]` per clip); `"all"` stores every hidden state
            (`[layers + 1, frames, hidden]`); a list stores those hidden
            states.
        dtype: str. `"float32"` (default) or `"float16"` (half the disk).
        preprocessing: `Preprocessing` or None. Crop length, sample rate,
            normalisation.
        batch_size: int. Clips per call of `encode_fn`.
        pad_seconds: float. Clips of similar length are batched together
            and padded to a multiple of this duration.
        progress: bool. Show a progress bar while extracting.
        num_frames: callable or None. Maps a clip's number of samples to
            the number of frames the backbone makes from it, e.g.
            `backbone.num_frames`; None takes `encode_fn.num_frames`.

    Raises:
        DataError: no `num_frames` given and `encode_fn` has none.

    Examples:
    ```python
    backbone = load_backbone("presets/hubert_base_ls960")
    cache = FeatureCache(
        "~/.cache/kser/features", backbone, weights_fingerprint(backbone)
    )
    train_x = cache.extract(train_files)            # clean
    noisy_x = cache.extract(train_files, noise=NoiseAugmentation(
        mode="cached"), copy_index=1)               # noisy copy 1
    ```
    """

    def __init__(
        self,
        directory,
        encode_fn,
        fingerprint,
        layers="last",
        dtype="float32",
        preprocessing=None,
        batch_size=8,
        pad_seconds=DEFAULT_PAD_SECONDS,
        progress=True,
        num_frames=None,
    ):
        if not isinstance(fingerprint, str) or not fingerprint:
            raise DataError("fingerprint must be a non-empty string")
        if dtype not in DTYPES:
            raise DataError(
                f"unknown dtype {dtype!r}: choose float32 or float16"
            )
        if int(batch_size) < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        if num_frames is None:
            num_frames = getattr(encode_fn, "num_frames", None)
        if not callable(num_frames):
            raise DataError(
                "pass num_frames=backbone.num_frames (samples -> frames) to "
                "FeatureCache: encode_fn has no num_frames"
            )
        self.num_frames = num_frames
        self.directory = os.path.expanduser(os.fspath(directory))
        self.encode_fn = encode_fn
        self.fingerprint = fingerprint
        self.layers = _layers_setting(layers)
        self.dtype = dtype
        self.preprocessing = preprocessing or Preprocessing()
        self.batch_size = int(batch_size)
        self.pad_multiple = max(
            1, int(round(float(pad_seconds) * self.preprocessing.sample_rate))
        )
        self.progress = progress
        self.stats = collections.Counter()
        if self.directory not in _SWEPT:
            _SWEPT.add(self.directory)
            removed = remove_stale_temporaries(self.directory)
            if removed:
                self.stats["stale_temporaries_removed"] = removed

    def _frames(self, num_samples):
        """int. Frames the backbone makes from `num_samples` samples."""
        num_samples = int(num_samples)
        if num_samples < 1:
            return 0
        return int(self.num_frames(num_samples))

    # --- keys and entries -------------------------------------------------

    def settings(self, audio_hash, copy_index=0, noise=None):
        """dict. Everything an entry depends on; its key hashes this."""
        copy_index = int(copy_index)
        if copy_index and noise is None:
            raise DataError("noise copy requested without a NoiseAugmentation")
        if copy_index and noise.mode != "cached":
            raise DataError(
                "only mode='cached' noise can be cached; online noise is "
                "fresh every epoch"
            )
        return {
            "format": FORMAT_VERSION,
            "audio": audio_hash,
            "weights": self.fingerprint,
            **self.preprocessing.cache_settings(),
            "pad_multiple": self.pad_multiple,
            "noise_copy": copy_index,
            # The clean clip does not depend on noise settings, so clean
            # features are shared by augmented and plain runs.
            "noise_snr_db": float(noise.snr_db) if copy_index else None,
            "noise_seed": int(noise.seed) if copy_index else None,
            "layers": self.layers,
            "dtype": self.dtype,
        }

    @staticmethod
    def key(settings):
        """str. The SHA-256 hex key of a settings dict."""
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key):
        """str. The entry file of a key."""
        return os.path.join(
            self.directory, f"v{FORMAT_VERSION}", key[:2], key + ".npz"
        )

    def _lookup(self, settings):
        """`("hits", features, meta)`, or `(why, None, None)` where why is
        `misses`, `stale` or `corrupt`."""
        path = self.path(self.key(settings))
        if not os.path.exists(path):
            return "misses", None, None
        try:
            with np.load(path, allow_pickle=False) as entry:
                meta = json.loads(str(entry["meta"]))
                features = entry["features"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return "corrupt", None, None
        if meta.get("settings") != settings:
            return "stale", None, None
        checksum = hashlib.sha256(
            np.ascontiguousarray(features).tobytes()
        ).hexdigest()
        frame_axis = 0 if self.layers == "last" else 1
        if (
            checksum != meta.get("sha256")
            or list(features.shape) != meta.get("shape")
            or features.shape[frame_axis]
            != self._frames(meta.get("num_samples", -1))
        ):
            return "corrupt", None, None
        return "hits", features, meta

    def _derive(self, settings):
        """A narrower entry rounded from the float32 one, or None.

        The float32 entry of the same clip and settings holds exactly what
        the backbone gave; casting it is what extraction would have stored.
        The new entry is written, so the next run reads it directly.
        """
        _, wide, meta = self._lookup(dict(settings, dtype="float32"))
        if wide is None:
            return None
        narrow = self._narrow(wide, "")
        self._write(settings, narrow, meta["num_samples"])
        self.stats["derived"] += 1
        return narrow

    def _narrow(self, features, name):
        """`features` in the storage dtype; out of its range is an error."""
        with np.errstate(over="ignore"):  # reported below, in one line
            narrow = np.asarray(features, self.dtype)
        if not np.all(np.isfinite(narrow)):
            where = f"{name}: " if name else ""
            if np.all(np.isfinite(features)):
                raise DataError(
                    f"{where}features reach {float(np.max(np.abs(features))):.4g}, "
                    f"beyond {self.dtype}'s range: cache them as float32"
                )
            raise RuntimeError(f"{where}the backbone produced NaN or Inf features")
        return narrow

    def _write(self, settings, features, num_samples):
        path = self.path(self.key(settings))
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        features = np.ascontiguousarray(features)
        meta = {
            "settings": settings,
            "num_samples": int(num_samples),
            "shape": list(features.shape),
            "sha256": hashlib.sha256(features.tobytes()).hexdigest(),
        }
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".npz", dir=folder)
        try:
            if fcntl is not None:
                # Held until the file is renamed: a sweep leaves it alone.
                fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, features=features, meta=np.array(json.dumps(meta)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        self.stats["written"] += 1

    # --- extraction -------------------------------------------------------

    def _hashes(self, items):
        hashes = []
        for item in items:
            if isinstance(item, Clip):
                hashes.append(item.content_hash)
            else:
                path = os.fspath(getattr(item, "path", None) or item)
                hashes.append(content_hash(read_bytes(path)))
        return hashes

    def extract(self, items, noise=None, copy_index=0):
        """Features of some clips for one noise copy, from cache or computed.

        Args:
            items: sequence of `Clip`, `RavdessFile` or paths. Files are
                hashed; only those missing from the cache are decoded.
            noise: `NoiseAugmentation` or None. Needed for `copy_index` >= 1
                (its mode must be `"cached"`).
            copy_index: int. 0 for the clean clips, k >= 1 for noisy copy k.

        Returns:
            A list of float arrays in the order of `items`: `[frames,
            hidden]` for `layers="last"`, else `[layers, frames, hidden]`.
        """
        return self.extract_copies(items, noise, copies=(copy_index,))[0]

    def extract_copies(self, items, noise=None, copies=(0,)):
        """Features for several noise copies at once.

        Args:
            items: sequence of `Clip`, `RavdessFile` or paths.
            noise: `NoiseAugmentation` or None.
            copies: sequence of int. Copy indices (0 = clean).

        Returns:
            A list (one per copy index) of lists of arrays (one per item).
        """
        items = list(items)
        hashes = self._hashes(items)
        results = [[None] * len(items) for _ in copies]
        todo = []
        for c, copy_index in enumerate(copies):
            for i, audio_hash in enumerate(hashes):
                settings = self.settings(audio_hash, copy_index, noise)
                found, features, _ = self._lookup(settings)
                if features is None and self.dtype != "float32":
                    features = self._derive(settings)  # counts as derived
                if features is None or found == "hits":
                    self.stats[found] += 1
                if features is None:
                    todo.append((c, i, int(copy_index), settings))
                else:
                    results[c][i] = features
        if todo:
            self._compute(items, todo, noise, results)
        return results

    def extract_training(self, items, noise=None, labels=None):
        """Training features: clean clips and cached noisy copies, flattened.

        Args:
            items: sequence of `Clip` or `RavdessFile` (or paths with
                `labels`).
            noise: `NoiseAugmentation` (mode `"cached"`) or None for clean
                clips only.
            labels: sequence of int or None. Labels when `items` are paths.

        Returns:
            A tuple `(features, labels)` of two lists: for every clip, its
            copies in `noise.copy_indices` order.
        """
        items = list(items)
        if labels is None:
            labels = [getattr(item, "label", None) for item in items]
        if any(label is None for label in labels):
            raise DataError("no labels; pass labels= or Clip/RavdessFile items")
        copies = noise.copy_indices if noise is not None else (0,)
        if noise is not None and noise.mode != "cached":
            raise DataError(
                "cached features need NoiseAugmentation(mode='cached'); online "
                "noise must go through the waveform pipeline"
            )
        per_copy = self.extract_copies(items, noise, copies)
        features, out_labels = [], []
        for i, label in enumerate(labels):
            for c in range(len(copies)):
                features.append(per_copy[c][i])
                out_labels.append(int(label))
        return features, out_labels

    def _compute(self, items, todo, noise, results):
        clips = {}
        needed = sorted({i for _, i, _, _ in todo})
        loadable = [i for i in needed if not isinstance(items[i], Clip)]
        if loadable:
            loaded = load_clips(
                [items[i] for i in loadable],
                labels=[0] * len(loadable),
                preprocessing=self.preprocessing,
                progress=False,
            )
            clips.update(zip(loadable, loaded))
        for i in needed:
            if isinstance(items[i], Clip):
                clips[i] = items[i]
        max_samples = self.preprocessing.max_samples
        jobs = []
        for c, i, copy_index, settings in todo:
            length = len(clips[i].waveform)
            if max_samples is not None:
                length = min(length, max_samples)
            if self._frames(length) < 1:
                need = min_samples(self._frames)
                need = f"; at least {need} are needed" if need else ""
                raise AudioError(
                    f"{clips[i].path or clips[i].name}: too short for the "
                    f"backbone ({length} samples make no frame{need})"
                )
            padded = -(-length // self.pad_multiple) * self.pad_multiple
            jobs.append((padded, length, c, i, copy_index, settings))
        # Similar lengths together: each batch is padded to one length.
        jobs.sort(key=lambda job: (job[0], job[1], job[3], job[2]))
        batches = []
        for padded in sorted({job[0] for job in jobs}):
            group = [job for job in jobs if job[0] == padded]
            for start in range(0, len(group), self.batch_size):
                batches.append((padded, group[start : start + self.batch_size]))
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc="extracting features", unit="clip")
        try:
            for padded, batch in batches:
                self._run_batch(padded, batch, clips, noise, results)
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()

    def _run_batch(self, padded, batch, clips, noise, results):
        waveform = np.zeros((self.batch_size, padded), np.float32)
        mask = np.zeros((self.batch_size, padded), np.int32)
        lengths = []
        for row, (_, length, _, i, copy_index, _) in enumerate(batch):
            samples = prepare_waveform(
                clips[i], self.preprocessing, noise, copy_index
            )
            waveform[row, :length] = samples
            mask[row, :length] = 1
            lengths.append(length)
        # Fill a short last batch with copies of its first row: one batch
        # shape per padded length, and no all-padding rows for attention.
        for row in range(len(batch), self.batch_size):
            waveform[row] = waveform[0]
            mask[row] = mask[0]
        outputs = self.encode_fn({"waveform": waveform, "padding_mask": mask})
        if not isinstance(outputs, dict):
            outputs = {"sequence_output": outputs}
        if self.layers == "last":
            values = _to_numpy(outputs["sequence_output"])
        else:
            values = _to_numpy(outputs["hidden_states"])
            if self.layers != "all":
                values = values[:, self.layers]
        frame_mask = outputs.get("frame_padding_mask")
        if frame_mask is not None:
            frame_mask = _to_numpy(frame_mask)
        for row, (_, length, c, i, copy_index, settings) in enumerate(batch):
            frames = self._frames(length)
            if (
                frame_mask is not None
                and int(np.sum(frame_mask[row])) != frames
            ):
                raise RuntimeError(
                    f"encode_fn marks {int(np.sum(frame_mask[row]))} valid frames "
                    f"for {length} samples; the conv stack gives {frames}"
                )
            if self.layers == "last":
                features = values[row, :frames]
            else:
                features = values[row, :, :frames]
            features = self._narrow(features, clips[i].name)
            self._write(settings, features, length)
            results[c][i] = features
