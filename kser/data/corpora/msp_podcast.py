"""MSP-Podcast: podcast segments with consensus labels and an official,
speaker-independent split.

Layout (as distributed):

    Audios/MSP-PODCAST_0001_0008.wav
    Labels/labels_consensus.csv

`labels_consensus.csv` has the columns FileName, EmoClass, EmoAct, EmoVal,
EmoDom, SpkrID, Gender, Split_Set (Train, Development, Test1, Test2,
Test3); FileName, EmoClass, SpkrID and Split_Set are required. EmoClass
codes: A angry, S sad, H happy, U surprised, F fearful, D disgust,
C contempt, N neutral; O (other) is left out unless `keep_other=True`
(then "other"); X (no agreement) is always left out. Left-out rows are
counted in `index.excluded`, not errors; an unknown code is an error.

Speakers are the SpkrID values as strings. Rows whose speaker is
`Unknown` get the speaker `"Unknown-<Split_Set>"` (e.g. `Unknown-Train`):
they can be placed only by the official split, which assigns them, not
speaker-independently in any other fold scheme. A CSV row whose audio
file is missing is a one-line error (skipped under `skip_invalid`); wav
files without a row are ignored (counted in `index.unlabelled`).

Protocols (they need the index):

- `official` (default): one fold, train = the speakers of Train,
  validation = Development, test = Test1.
- `official-test2`, `official-test3`: the same with Test2 or Test3.

A speaker found in two Split_Set values is an error naming it: the
official split is speaker-independent by design. EmoBox's MSP-Podcast
protocol is the same official split (Test1; it keeps O and X as classes).
"""

import collections
import csv
import os
import re
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.corpora.base import speaker_key
from kser.data.folds import Fold
from kser.errors import DataError
from kser.text import count_noun

CODES = {
    "A": "angry", "S": "sad", "H": "happy", "U": "surprised",
    "F": "fearful", "D": "disgust", "C": "contempt", "N": "neutral",
    "O": "other", "X": None,
}
LABEL_NAMES = ("neutral", "happy", "sad", "angry", "fearful", "disgust",
               "surprised", "contempt")
SPLIT_SETS = ("Train", "Development", "Test1", "Test2", "Test3")
REQUIRED = ("FileName", "EmoClass", "SpkrID", "Split_Set")
LABELS_CSV = os.path.join("Labels", "labels_consensus.csv")
AUDIO_DIR = "Audios"
_NAME_RE = re.compile(r"^MSP-PODCAST_[0-9_]+\.wav$", re.IGNORECASE)
LAYOUT = ("expected the MSP-Podcast layout: Audios/<FileName>.wav and "
          "Labels/labels_consensus.csv")


class MspPodcastIndex(CorpusIndex):
    """A `CorpusIndex` that also counts rows left out by code and wav files
    without a label row.

    Args:
        excluded: dict. EmoClass code -> rows left out (X; O by default).
        unlabelled: int. Wav files in Audios/ without a CSV row.
    """

    def __init__(self, utterances, label_names, root=None, skipped=(),
                 excluded=None, unlabelled=0):
        super().__init__(utterances, label_names, root=root,
                         corpus="msp_podcast", skipped=skipped)
        self.excluded = dict(sorted((excluded or {}).items()))
        self.unlabelled = int(unlabelled)

    def split_speakers(self):
        """dict. Split_Set -> sorted speakers with clips in it."""
        sets = collections.defaultdict(set)
        for clip in self.utterances:
            sets[clip.metadata.get("split")].add(clip.speaker)
        return {name: tuple(sorted(sets[name], key=speaker_key))
                for name in SPLIT_SETS if name in sets}

    def report(self):
        lines = [super().report()]
        if self.excluded:
            shown = ", ".join(f"{c} {n}" for c, n in self.excluded.items())
            left_out = count_noun(sum(self.excluded.values()), "row")
            lines.append(f"left out {left_out} by code: {shown}")
        if self.unlabelled:
            have = "has" if self.unlabelled == 1 else "have"
            lines.append(
                f"{count_noun(self.unlabelled, 'wav file')} {have} no label row"
            )
        return "\n".join(lines)


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def index_msp_podcast(root, skip_invalid=False, keep_other=False):
    """Index MSP-Podcast from `labels_consensus.csv` and `Audios/`.

    Args:
        root: str or path-like. The folder holding Audios/ and Labels/.
        skip_invalid: bool. Skip rows whose audio is missing and wav files
            whose names are not MSP-Podcast names, with one warning.
        keep_other: bool. Keep EmoClass O as the class "other".

    Returns:
        An `MspPodcastIndex` sorted by relative path.

    Raises:
        DataError: a missing root, Audios/ or labels CSV, a missing
            column, an unknown EmoClass or Split_Set, a duplicate row, a
            row without audio, or a wav file with another kind of name.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such folder; {LAYOUT}")
    audio_dir = os.path.join(root, AUDIO_DIR)
    labels_csv = os.path.join(root, LABELS_CSV)
    if not os.path.isdir(audio_dir):
        raise DataError(f"{root}: no {AUDIO_DIR}/ folder; {LAYOUT}")
    if not os.path.isfile(labels_csv):
        raise DataError(f"{root}: no {LABELS_CSV}; {LAYOUT}")
    skipped, clips = [], []
    excluded = collections.Counter()

    def bad(message, item):
        if not skip_invalid:
            raise DataError(f"{message}; fix it, or pass skip_invalid=True "
                            "(--skip-invalid) to skip it")
        skipped.append(item)

    on_disk = set()
    for name in sorted(os.listdir(audio_dir)):
        if name.startswith(".") or not name.lower().endswith(".wav"):
            continue
        if not _NAME_RE.match(name):
            bad(f"{os.path.join(audio_dir, name)}: not an MSP-Podcast file "
                "name (expected MSP-PODCAST_<NNNN>_<NNNN>.wav)",
                os.path.join(audio_dir, name))
            continue
        on_disk.add(name)
    with open(labels_csv, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise DataError(f"{labels_csv}: missing column(s) "
                            f"{', '.join(missing)}; expected "
                            f"{', '.join(REQUIRED)} (and EmoAct, EmoVal, "
                            "EmoDom, Gender)")
        reader.fieldnames = columns
        seen = set()
        for row in reader:
            where = f"{labels_csv}:{reader.line_num}"
            name = (row.get("FileName") or "").strip()
            if not name.lower().endswith(".wav"):
                name += ".wav"
            if name in seen:
                raise DataError(f"{where}: {name} is listed twice")
            seen.add(name)
            code = (row.get("EmoClass") or "").strip()
            if code not in CODES:
                raise DataError(f"{where}: {name}: unknown EmoClass {code!r}; "
                                f"expected one of {', '.join(CODES)}")
            split = (row.get("Split_Set") or "").strip()
            if split not in SPLIT_SETS:
                raise DataError(f"{where}: {name}: unknown Split_Set "
                                f"{split!r}; expected one of "
                                f"{', '.join(SPLIT_SETS)}")
            label = CODES[code]
            if label is None or (label == "other" and not keep_other):
                excluded[code] += 1
                continue
            path = os.path.join(audio_dir, name)
            if name not in on_disk and not os.path.isfile(path):
                bad(f"{where}: audio file {AUDIO_DIR}/{name} not found", path)
                continue
            raw = (row.get("SpkrID") or "").strip()
            known = bool(raw) and raw.lower() != "unknown"
            speaker = raw if known else f"Unknown-{split}"
            metadata = {
                "split": split,
                "emotion_code": code,
                "speaker_id": raw or "Unknown",
                "speaker_known": known,
                "gender": (row.get("Gender") or "").strip().lower() or None,
                "activation": _float(row.get("EmoAct")),
                "valence": _float(row.get("EmoVal")),
                "dominance": _float(row.get("EmoDom")),
            }
            clips.append(Utterance(path, label, speaker, metadata))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} MSP-Podcast rows or files that "
                      "do not follow the corpus", stacklevel=2)
    if not clips:
        raise DataError(f"{root}: no labelled MSP-Podcast clips found; {LAYOUT}")
    clips.sort(key=lambda u: u.path)
    unlabelled = len(on_disk - seen)
    label_names = LABEL_NAMES + (("other",) if keep_other else ())
    return MspPodcastIndex(clips, label_names, root=root, skipped=skipped,
                           excluded=excluded, unlabelled=unlabelled)


def _official(test_set, protocol):
    def folds(index=None):
        if index is None:
            raise DataError(f"MSP-Podcast protocol {protocol} needs the "
                            "corpus index (its speakers come from the labels)")
        if hasattr(index, "split_speakers"):
            sets = index.split_speakers()
        else:
            sets = MspPodcastIndex(index, LABEL_NAMES).split_speakers()
        owner = {}
        for name, speakers in sets.items():
            for speaker in speakers:
                owner.setdefault(speaker, []).append(name)
        shared = [f"{s} ({', '.join(n)})" for s, n in owner.items()
                  if len(n) > 1]
        if shared:
            raise DataError(
                f"MSP-Podcast: speaker(s) in two Split_Set values: "
                f"{'; '.join(shared[:5])}; the official split must be "
                "speaker-independent"
            )
        for name in ("Train", test_set):
            if not sets.get(name):
                raise DataError(f"MSP-Podcast protocol {protocol}: no "
                                f"{name} clips in the index")
        return [Fold(1, sets["Train"], sets.get("Development", ()),
                     sets[test_set], protocol=protocol)]

    folds.__doc__ = (f"The official split: Train / Development / {test_set} "
                     "speakers, one fold.")
    return folds


official_folds = _official("Test1", "official")
official_test2_folds = _official("Test2", "official-test2")
official_test3_folds = _official("Test3", "official-test3")
# Split_Set of synthetic speaker i (1-based), cycling.
_SYNTH_SPLITS = ("Train", "Train", "Development", "Test1", "Train", "Test2",
                 "Train", "Test1", "Development", "Test3")


def synthesize(root, speakers=10, sample_rate=16000, clip_seconds=0.5,
               seed=0, overwrite=False):
    """Write a small synthetic MSP-Podcast and return its index.

    Args:
        speakers: int. Known speakers, at least 4 (Split_Set by speaker:
            Train, Train, Development, Test1, Train, Test2, Train, Test1,
            Development, Test3, cycling); Unknown-speaker rows are added
            to Train and Test1. Every EmoClass code appears.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    speakers = int(speakers)
    if speakers < 4:
        raise DataError("a synthetic MSP-Podcast needs at least 4 speakers "
                        "(Train, Development and Test1)")
    extras = ("U", "F", "D", "C", "O", "X")
    rows, files = [], []
    people = [(str(100 + i), _SYNTH_SPLITS[(i - 1) % len(_SYNTH_SPLITS)],
               "Female" if i % 2 else "Male") for i in range(1, speakers + 1)]
    people += [("Unknown", "Train", "Unknown"), ("Unknown", "Test1", "Unknown")]
    for p, (spkr, split, gender) in enumerate(people, start=1):
        codes = ("N", "H", "S", "A", extras[p % len(extras)],
                 extras[(p + 3) % len(extras)])
        for n, code in enumerate(codes, start=1):
            name = f"MSP-PODCAST_{p:04d}_{n:04d}.wav"
            rows.append(f"{name},{code},4.0,3.5,4.5,{spkr},{gender},{split}")
            voice = CODES[code] or "neutral"
            speaker = spkr if spkr != "Unknown" else f"Unknown-{split}"
            files.append(SyntheticFile(f"{AUDIO_DIR}/{name}", voice, speaker,
                                       female=gender == "Female", take=n))
    text = ("FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
            + "\n".join(rows) + "\n")
    write_synthetic_tree(root, files, {"Labels/labels_consensus.csv": text},
                         sample_rate=sample_rate, clip_seconds=clip_seconds,
                         seed=seed, overwrite=overwrite,
                         generator="kser.data.corpora.msp_podcast")
    return index_msp_podcast(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["msp_podcast"]`).
CORPUS = Corpus(
    "msp_podcast",
    label_names=LABEL_NAMES,
    index_fn=index_msp_podcast,
    protocols={"official": official_folds,
               "official-test2": official_test2_folds,
               "official-test3": official_test3_folds},
    default_protocol="official",
    description="MSP-Podcast: consensus labels, official speaker-independent split",
    synthesize_fn=synthesize,
)
