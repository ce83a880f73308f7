"""Any corpus listed in a manifest file: one row per clip with its path,
canonical label and speaker.

Formats:

- CSV with a header: `path,label,speaker[,split]`; any other column
  (e.g. `gender`, `text`) goes into each clip's metadata.
- JSONL: one JSON object per line with the same keys.

`root` is the manifest file itself, or a folder holding `manifest.csv` or
`manifest.jsonl` (not both). Paths are relative to the manifest file's
folder (absolute paths are kept). Labels must be canonical names
(`kser.labels.CANONICAL_LABELS`), or be mapped by `label_map={"ang":
"angry", ...}`; an unknown label or a missing audio file is a one-line
error naming the row (skipped under `skip_invalid`). The index's
`label_names` are the canonical labels found, in `CANONICAL_LABELS` order.

Protocols (they need the index):

- `speaker-5fold` (default): k = min(5, speakers) folds over the sorted
  speakers; `balanced_speaker_kfold` by gender when the manifest has a
  `gender` column, else `speaker_kfold`. Fold k tests speaker group k+1
  and validates on group k (the previous group).
- `split`: the `split` column: train, validation (or val, dev) and test
  rows, by speaker; every row needs a split, and a speaker in two splits
  is an error.
"""

import csv
import json
import os
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.corpora.base import speaker_key
from kser.data.folds import Fold
from kser.data.folds import balanced_speaker_kfold
from kser.data.folds import speaker_kfold
from kser.errors import DataError
from kser.labels import CANONICAL_LABELS

FILENAMES = ("manifest.csv", "manifest.jsonl")
REQUIRED = ("path", "label", "speaker")
SPLITS = {"train": "train", "validation": "validation", "val": "validation",
          "valid": "validation", "dev": "validation", "development":
          "validation", "test": "test"}
LAYOUT = ("expected a manifest (CSV with a path,label,speaker[,split] header, "
          "or JSONL objects with those keys), or a folder holding "
          "manifest.csv or manifest.jsonl")


class ManifestIndex(CorpusIndex):
    """A `CorpusIndex` that remembers the manifest's columns.

    Args:
        columns: tuple of str. The keys found (CSV header or JSONL keys).
    """

    def __init__(self, utterances, label_names, root=None, skipped=(),
                 columns=()):
        super().__init__(utterances, label_names, root=root,
                         corpus="manifest", skipped=skipped)
        self.columns = tuple(columns)


def find_manifest(root):
    """str. The manifest file `root` names or holds.

    Raises:
        DataError: no such file or folder, or a folder with no manifest or
            with both.
    """
    root = os.fspath(root)
    if os.path.isfile(root):
        return root
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such file or folder; {LAYOUT}")
    found = [n for n in FILENAMES if os.path.isfile(os.path.join(root, n))]
    if not found:
        raise DataError(f"{root}: no manifest.csv or manifest.jsonl; {LAYOUT}")
    if len(found) > 1:
        raise DataError(f"{root}: holds both manifest.csv and manifest.jsonl; "
                        "pass the one to use")
    return os.path.join(root, found[0])


def _rows(path):
    """(columns, [(line number, dict)]) of a CSV or JSONL manifest."""
    rows, columns = [], []
    if path.lower().endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataError(f"{path}:{number}: not a JSON object "
                                    f"({error.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{number}: not a JSON object")
                columns.extend(k for k in row if k not in columns)
                rows.append((number, row))
        return columns, rows
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise DataError(f"{path}: the header lacks {', '.join(missing)}; "
                            f"{LAYOUT}")
        reader.fieldnames = columns
        for row in reader:
            rows.append((reader.line_num, row))
    return columns, rows


def index_manifest(root, skip_invalid=False, label_map=None):
    """Index the clips a manifest lists.

    Args:
        root: str or path-like. A manifest file, or a folder holding
            manifest.csv or manifest.jsonl.
        skip_invalid: bool. Skip rows with an unknown label or a missing
            audio file, with one warning, instead of raising.
        label_map: dict or None. The manifest's label -> canonical name.

    Returns:
        A `ManifestIndex` sorted by path relative to the manifest.

    Raises:
        DataError: no manifest, a missing key, an empty path or speaker,
            an unknown label or split, a missing audio file, a path listed
            twice, or no rows.
    """
    path = find_manifest(root)
    base = os.path.dirname(os.path.abspath(path))
    label_map = dict(label_map or {})
    for source, target in label_map.items():
        if target not in CANONICAL_LABELS:
            raise DataError(f"label_map maps {source!r} to {target!r}, not a "
                            f"canonical label ({', '.join(CANONICAL_LABELS)})")
    columns, rows = _rows(path)
    clips, skipped, seen = [], [], {}
    for number, row in rows:
        where = f"{path}:{number}"
        missing = [k for k in REQUIRED if row.get(k) in (None, "")]
        if missing:
            raise DataError(f"{where}: no {', '.join(missing)}; {LAYOUT}")
        rel = str(row["path"]).strip()
        audio = rel if os.path.isabs(rel) else os.path.join(base, rel)
        audio = os.path.normpath(audio)
        raw_label = str(row["label"]).strip()
        label = label_map.get(raw_label, raw_label)
        problem = None
        if label not in CANONICAL_LABELS:
            problem = (f"{where}: {rel}: unknown label {raw_label!r}; use a "
                       f"canonical label ({', '.join(CANONICAL_LABELS)}) or "
                       "pass label_map")
        elif not os.path.isfile(audio):
            problem = f"{where}: audio file {rel} not found"
        if problem:
            if not skip_invalid:
                raise DataError(f"{problem}; fix the row, or pass "
                                "skip_invalid=True (--skip-invalid)")
            skipped.append(audio)
            continue
        if audio in seen:
            raise DataError(f"{where}: {rel} is also listed at line "
                            f"{seen[audio]}")
        seen[audio] = number
        speaker = row["speaker"]
        speaker = speaker.strip() if isinstance(speaker, str) else speaker
        metadata = {k: v for k, v in row.items() if k not in REQUIRED}
        if row.get("split") not in (None, ""):
            split = SPLITS.get(str(row["split"]).strip().lower())
            if split is None:
                raise DataError(f"{where}: unknown split {row['split']!r}; "
                                "use train, validation (val, dev) or test")
            metadata["split"] = split
        else:
            metadata.pop("split", None)
        if raw_label != label:
            metadata["original_label"] = raw_label
        rel_key = os.path.relpath(audio, base)
        clips.append((rel_key, Utterance(audio, label, speaker, metadata)))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} manifest rows with an unknown "
                      "label or a missing audio file", stacklevel=2)
    if not clips:
        raise DataError(f"{path}: no usable rows; {LAYOUT}")
    clips.sort(key=lambda c: c[0])
    found = {u.label for _, u in clips}
    label_names = tuple(n for n in CANONICAL_LABELS if n in found)
    return ManifestIndex([u for _, u in clips], label_names, root=path,
                         skipped=skipped, columns=columns)


def _need(index, protocol):
    if index is None:
        raise DataError(f"manifest protocol {protocol} needs the corpus index "
                        "(its speakers come from the manifest)")


def speaker_5fold(index=None):
    """k = min(5, speakers) speaker folds, gender-balanced when the manifest
    has a `gender` column."""
    _need(index, "speaker-5fold")
    speakers = index.speakers
    if len(speakers) < 3:
        raise DataError(f"manifest protocol speaker-5fold needs at least 3 "
                        f"speakers, the manifest has {len(speakers)}")
    k = min(5, len(speakers))
    columns = getattr(index, "columns", ())
    if "gender" not in columns:
        return speaker_kfold(speakers, k, protocol="speaker-5fold")
    genders = {}
    for clip in index:
        value = clip.metadata.get("gender")
        value = str(value).strip().lower() if value not in (None, "") else None
        if genders.setdefault(clip.speaker, value) != value:
            raise DataError(f"manifest: speaker {clip.speaker} has genders "
                            f"{genders[clip.speaker]!r} and {value!r}")
    return balanced_speaker_kfold(genders, k, protocol="speaker-5fold")


def split_folds(index=None):
    """One fold from the `split` column (train / validation / test)."""
    _need(index, "split")
    if "split" not in getattr(index, "columns", ("split",)):
        raise DataError("manifest protocol split needs a split column "
                        "(train, validation or test per row)")
    owner = {}
    for clip in index:
        split = clip.metadata.get("split")
        if split is None:
            raise DataError(f"manifest protocol split: {clip.path} has no "
                            "split (train, validation or test)")
        if owner.setdefault(clip.speaker, split) != split:
            raise DataError(f"manifest protocol split: speaker {clip.speaker} "
                            f"is in both {owner[clip.speaker]} and {split}")
    groups = {name: sorted((s for s, v in owner.items() if v == name),
                           key=speaker_key)
              for name in ("train", "validation", "test")}
    return [Fold(1, groups["train"], groups["validation"], groups["test"],
                 protocol="split")]


def synthesize(root, speakers=6, sample_rate=16000, clip_seconds=0.5,
               seed=0, overwrite=False):
    """Write a small synthetic manifest corpus (`audio/<speaker>/*.wav` and
    `manifest.csv` with gender, split and text columns) and return its
    index. Speakers alternate female/male; the last two are validation and
    test; 4 labels x 2 takes each.

    Args:
        speakers: int. At least 3.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    speakers = int(speakers)
    if speakers < 3:
        raise DataError("a synthetic manifest corpus needs at least 3 speakers")
    files = []
    rows = ["path,label,speaker,gender,split,text"]
    for i in range(1, speakers + 1):
        speaker = f"spk{i:02d}"
        female = i % 2 == 1
        split = ("validation" if i == speakers - 1 else
                 "test" if i == speakers else "train")
        for label in ("neutral", "happy", "sad", "angry"):
            for take in range(2):
                rel = f"audio/{speaker}/{speaker}_{label}_{take}.wav"
                files.append(SyntheticFile(rel, label, speaker, female, take))
                rows.append(f"{rel},{label},{speaker},"
                            f"{'female' if female else 'male'},{split},"
                            f"take {take}")
    write_synthetic_tree(root, files, {"manifest.csv": "\n".join(rows) + "\n"},
                         sample_rate=sample_rate, clip_seconds=clip_seconds,
                         seed=seed, overwrite=overwrite,
                         generator="kser.data.corpora.manifest")
    return index_manifest(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["manifest"]`).
# `label_names` is every canonical label; an index's `label_names` are the
# labels its manifest uses.
CORPUS = Corpus(
    "manifest",
    label_names=CANONICAL_LABELS,
    index_fn=index_manifest,
    protocols={"speaker-5fold": speaker_5fold, "split": split_folds},
    default_protocol="speaker-5fold",
    description="Any corpus listed in a CSV or JSONL manifest",
    synthesize_fn=synthesize,
)
