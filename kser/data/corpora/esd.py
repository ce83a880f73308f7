"""ESD (Emotional Speech Dataset): 20 speakers, 5 emotions, 350 parallel
sentences per emotion.

Layout (as distributed, the root may also be the one folder above it):

    0011/Angry/0011_000351.wav
    0011/0011.txt              (optional transcript: id, text, emotion)

Speakers `"0001"` .. `"0010"` speak Mandarin, `"0011"` .. `"0020"` English
(speaker ids are strings, with their zeros). Emotion folders and labels:
Neutral -> neutral, Angry -> angry, Happy -> happy, Sad -> sad,
Surprise -> surprised (folder names matched case-insensitively). File
numbers follow the emotion: Neutral 000001-000350, Angry 000351-000700,
Happy 000701-001050, Sad 001051-001400, Surprise 001401-001750 (checked:
a file numbered outside its folder's range is an error, never relabelled).
Emotion folders may hold `train/`, `evaluation/`, `test/` subfolders (an
older release); that split is kept in metadata. Speaker genders are not
used: kser does not know them with certainty.

Protocols (they need the index, except `emobox`):

- `speaker-5fold` (default): `speaker_kfold` over the sorted speakers
  found (k = min(5, speakers)): fold k tests group k+1 and validates on
  group k (the previous group; fold 1 validates on the last group). With
  all 20 speakers: groups 0001-0004, 0005-0008, 0009-0012, 0013-0016,
  0017-0020.
- `emobox`: EmoBox's 5 folds of 4 test speakers (its
  data/esd/fold_*/esd_test_fold_*.jsonl), speaker-independent; EmoBox has
  no validation split, kser validates fold k on EmoBox fold k-1's test
  speakers (fold 1 on fold 5's), so 12 speakers train.
"""

import os
import re
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.folds import Fold
from kser.data.folds import speaker_kfold
from kser.errors import DataError

MANDARIN = tuple(f"{i:04d}" for i in range(1, 11))
ENGLISH = tuple(f"{i:04d}" for i in range(11, 21))
SPEAKERS = MANDARIN + ENGLISH
LANGUAGES = {"all": SPEAKERS, "mandarin": MANDARIN, "english": ENGLISH}
# Folder -> (label, first and last file number).
EMOTIONS = {
    "neutral": ("neutral", 1, 350),
    "angry": ("angry", 351, 700),
    "happy": ("happy", 701, 1050),
    "sad": ("sad", 1051, 1400),
    "surprise": ("surprised", 1401, 1750),
}
FOLDERS = ("Neutral", "Angry", "Happy", "Sad", "Surprise")
LABEL_NAMES = ("neutral", "happy", "sad", "angry", "surprised")
SPLITS = ("train", "evaluation", "test")
# EmoBox's ESD test speakers per fold.
EMOBOX_TEST_SPEAKERS = (
    ("0005", "0011", "0016", "0018"),
    ("0012", "0014", "0015", "0019"),
    ("0003", "0004", "0006", "0009"),
    ("0007", "0008", "0013", "0020"),
    ("0001", "0002", "0010", "0017"),
)
_NAME_RE = re.compile(r"^(\d{4})_(\d{6})\.wav$", re.IGNORECASE)
_SPEAKER_RE = re.compile(r"^\d{4}$")
HINT = ("expected <speaker>/<Emotion>/<speaker>_<NNNNNN>.wav, e.g. "
        "0011/Angry/0011_000351.wav")
LAYOUT = ("expected the ESD layout: speaker folders 0001..0020, each with "
          "Angry, Happy, Neutral, Sad and Surprise folders of wav files")


def language_of(speaker):
    """str. `"mandarin"` for 0001-0010, `"english"` for 0011-0020."""
    return "mandarin" if speaker in MANDARIN else "english"


def _speaker_dirs(root):
    return sorted(
        name for name in os.listdir(root)
        if _SPEAKER_RE.match(name) and os.path.isdir(os.path.join(root, name))
    )


def _find_root(root):
    if _speaker_dirs(root):
        return root
    nested = [
        os.path.join(root, name) for name in sorted(os.listdir(root))
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name))
        and _speaker_dirs(os.path.join(root, name))
    ]
    if len(nested) == 1:
        return nested[0]
    raise DataError(f"{root}: no ESD speaker folders (0001 ... 0020); {LAYOUT}")


def _read_transcript(path):
    """dict. Utterance id -> text, from `<speaker>.txt` (any encoding the
    releases use); empty if unreadable."""
    for encoding in ("utf-8-sig", "gb18030", "utf-16"):
        try:
            with open(path, encoding=encoding) as f:
                lines = f.read().splitlines()
            break
        except (UnicodeError, OSError):
            continue
    else:
        return {}
    texts = {}
    for line in lines:
        parts = line.strip().split("\t")
        if len(parts) >= 2 and re.match(r"^\d{4}_\d{6}$", parts[0]):
            texts[parts[0]] = parts[1].strip()
    return texts


def index_esd(root, skip_invalid=False, language="all"):
    """Index the ESD clips under `root`.

    Args:
        root: str or path-like. The folder holding 0001 ... 0020 (or the
            one folder above it).
        skip_invalid: bool. Skip wav files (and unknown emotion folders)
            that do not follow ESD, with one warning, instead of raising.
        language: str. `"all"`, `"english"` (0011-0020) or `"mandarin"`
            (0001-0010).

    Returns:
        A `CorpusIndex` sorted by relative path.

    Raises:
        DataError: a missing root, no speaker folders, an unknown speaker
            or emotion folder, a bad file name, a file of another speaker,
            or a file numbered outside its emotion's range.
    """
    root = os.fspath(root)
    if language not in LANGUAGES:
        raise DataError(f"unknown ESD language {language!r}: choose "
                        f"{', '.join(LANGUAGES)}")
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such folder; {LAYOUT}")
    base = _find_root(root)
    keep = set(LANGUAGES[language])
    clips, skipped = [], []

    def bad(message, path):
        if not skip_invalid:
            raise DataError(f"{message}; rename or remove it, or pass "
                            "skip_invalid=True (--skip-invalid)")
        skipped.append(path)

    for speaker in _speaker_dirs(base):
        speaker_dir = os.path.join(base, speaker)
        if speaker not in SPEAKERS:
            raise DataError(f"{speaker_dir}: unknown ESD speaker {speaker}; "
                            "speakers are 0001 ... 0020")
        if speaker not in keep:
            continue
        texts = {}
        transcript = os.path.join(speaker_dir, f"{speaker}.txt")
        if os.path.isfile(transcript):
            texts = _read_transcript(transcript)
        for folder in sorted(os.listdir(speaker_dir)):
            emotion_dir = os.path.join(speaker_dir, folder)
            if folder.startswith(".") or not os.path.isdir(emotion_dir):
                continue
            emotion = EMOTIONS.get(folder.lower())
            for dirpath, dirnames, filenames in os.walk(emotion_dir):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for filename in sorted(filenames):
                    if filename.startswith(".") or \
                            not filename.lower().endswith(".wav"):
                        continue
                    path = os.path.join(dirpath, filename)
                    if emotion is None:
                        bad(f"{path}: unknown ESD emotion folder {folder!r} "
                            f"(expected {', '.join(FOLDERS)})", path)
                        continue
                    match = _NAME_RE.match(filename)
                    if not match:
                        bad(f"{path}: not an ESD file name ({HINT})", path)
                        continue
                    if match.group(1) != speaker:
                        bad(f"{path}: the name says speaker {match.group(1)} "
                            f"but the file is in {speaker}/", path)
                        continue
                    number = int(match.group(2))
                    label, first, last = emotion
                    if not first <= number <= last:
                        bad(f"{path}: ESD {folder} files are numbered "
                            f"{first:06d}-{last:06d}, not {number:06d}", path)
                        continue
                    rel = os.path.relpath(dirpath, emotion_dir)
                    stem = filename[:-4]
                    metadata = {
                        "language": language_of(speaker),
                        "number": number,
                        "sentence": (number - 1) % 350 + 1,
                        "emotion_folder": folder,
                    }
                    if rel.lower() in SPLITS:
                        metadata["split"] = rel.lower()
                    if stem in texts:
                        metadata["text"] = texts[stem]
                    clips.append((os.path.relpath(path, root),
                                  Utterance(path, label, speaker, metadata)))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} ESD files that do not follow "
                      "the corpus", stacklevel=2)
    if not clips:
        raise DataError(f"{root}: no ESD clips found (language {language}); "
                        f"{LAYOUT}")
    clips.sort(key=lambda c: c[0])
    return CorpusIndex([u for _, u in clips], LABEL_NAMES, root=root,
                       corpus="esd", skipped=skipped)


def speaker_5fold(index=None):
    """`speaker_kfold` over the index's sorted speakers, k = min(5, n)."""
    if index is None:
        raise DataError("ESD protocol speaker-5fold needs the corpus index "
                        "(its speakers depend on the language chosen)")
    speakers = list(index.speakers)
    if len(speakers) < 3:
        raise DataError(f"ESD protocol speaker-5fold needs at least 3 "
                        f"speakers, the index has {len(speakers)}")
    return speaker_kfold(speakers, min(5, len(speakers)),
                         protocol="speaker-5fold")


def emobox_folds(index=None):
    """EmoBox's 5 ESD folds; fold k validates on fold k-1's test speakers."""
    folds = []
    groups = EMOBOX_TEST_SPEAKERS
    for k, test in enumerate(groups):
        val = groups[k - 1]
        train = [s for s in SPEAKERS if s not in test and s not in val]
        folds.append(Fold(k + 1, train, val, test, protocol="emobox"))
    return folds


def synthesize(root, speakers=10, sample_rate=16000, clip_seconds=0.5,
               seed=0, overwrite=False, clips_per_emotion=2):
    """Write a small synthetic ESD and return `index_esd(root)`.

    Args:
        speakers: an int n (speakers taken alternately from Mandarin and
            English: 0001, 0011, 0002, 0012, ...; default 10) or an
            iterable of speaker ids.
        clips_per_emotion: int. Clips per speaker and emotion.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if isinstance(speakers, int):
        if not 1 <= speakers <= len(SPEAKERS):
            raise DataError(f"ESD has 1..{len(SPEAKERS)} speakers, not "
                            f"{speakers}")
        order = [s for pair in zip(MANDARIN, ENGLISH) for s in pair]
        chosen = sorted(order[:speakers])
    else:
        chosen = sorted(str(s) for s in speakers)
        unknown = [s for s in chosen if s not in SPEAKERS]
        if unknown:
            raise DataError(f"unknown ESD speakers {unknown}: 0001 ... 0020")
    words = {"Neutral": "中立", "Angry": "生气", "Happy": "快乐",
             "Sad": "伤心", "Surprise": "惊喜"}
    files, texts = [], {}
    for speaker in chosen:
        lines = []
        for folder in FOLDERS:
            label, first, _ = EMOTIONS[folder.lower()]
            for n in range(clips_per_emotion):
                stem = f"{speaker}_{first + n:06d}"
                files.append(SyntheticFile(
                    f"{speaker}/{folder}/{stem}.wav", label, speaker,
                    female=int(speaker) % 2 == 0, take=n))
                word = words[folder] if speaker in MANDARIN else folder
                lines.append(f"{stem}\tSynthetic sentence {n + 1}.\t{word}")
        texts[f"{speaker}/{speaker}.txt"] = "\n".join(lines) + "\n"
    write_synthetic_tree(root, files, texts, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite, generator="kser.data.corpora.esd")
    return index_esd(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["esd"]`).
CORPUS = Corpus(
    "esd",
    label_names=LABEL_NAMES,
    index_fn=index_esd,
    protocols={"speaker-5fold": speaker_5fold, "emobox": emobox_folds},
    default_protocol="speaker-5fold",
    description="ESD: 10 Mandarin + 10 English speakers, 5 emotions",
    synthesize_fn=synthesize,
)
