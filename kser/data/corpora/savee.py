"""SAVEE (Surrey Audio-Visual Expressed Emotion): names, indexing, folds.

Four male speakers, DC, JE, JK and KL, each with 120 clips: 15 sentences
in each of 6 emotions and 30 neutral. Two layouts are in use:

- `AudioData/<speaker>/<emotion><NN>.wav`, the official archive, e.g.
  `AudioData/DC/a01.wav` (its `Info.txt` and other non-`.wav` files are
  ignored);
- `ALL/<speaker>_<emotion><NN>.wav`, the flat copy many mirrors share,
  e.g. `ALL/DC_a01.wav`.

The layout is detected from which folder the root holds. A root holding
both is refused (they normally hold the same clips twice): pass
`layout="audiodata"` or `layout="all"` to pick one.

Emotion codes map onto canonical labels: a angry, d disgust, f fearful,
h happy, n neutral, sa sad, su surprised. Numbers run 01..15 (01..30 for
neutral).

Protocol `loso` (default): leave one speaker out, 4 folds, with
`speaker_kfold(speakers, 4)` semantics: sorted speakers DC, JE, JK, KL;
fold k validates on the k-th speaker and tests on the (k+1)-th, wrapping
(fold 1: validation DC, test JE; 2: JE, JK; 3: JK, KL; 4: KL, DC); the
other two speakers train.
"""

import os
import re
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.corpora.base import check_root
from kser.data.corpora.base import wav_files
from kser.errors import DataError
from kser.labels import CANONICAL_LABELS
from kser.text import count_noun

NAME = "savee"
AUDIO_EXTENSION = ".wav"
SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
# Sentences per emotion code (neutral has 30).
NUM_SENTENCES = {code: (30 if code == "n" else 15) for code in EMOTIONS}
LAYOUTS = {"audiodata": "AudioData", "all": "ALL"}
# Class order: the canonical order of the labels the corpus uses.
LABEL_NAMES = tuple(name for name in CANONICAL_LABELS if name in EMOTIONS.values())
_CLIP_RE = re.compile(r"^([a-z]{1,2})(\d{2})$")
_FLAT_RE = re.compile(r"^([A-Z]{2})_([a-z]{1,2})(\d{2})$")
_HINTS = {
    "audiodata": "expected AudioData/<DC|JE|JK|KL>/<emotion><NN>.wav, e.g. "
                 "AudioData/DC/a01.wav",
    "all": "expected ALL/<DC|JE|JK|KL>_<emotion><NN>.wav, e.g. ALL/DC_a01.wav",
}
_LAYOUT = (
    "expected the SAVEE root holding AudioData/ (AudioData/DC/a01.wav) or "
    "ALL/ (ALL/DC_a01.wav)"
)


def _parse_code(path, emotion, number, hint):
    if emotion not in EMOTIONS:
        raise DataError(
            f"{path}: not a SAVEE file name: emotion {emotion!r} is not one of "
            f"{', '.join(EMOTIONS)} ({hint})"
        )
    number = int(number)
    if not 1 <= number <= NUM_SENTENCES[emotion]:
        raise DataError(
            f"{path}: not a SAVEE file name: {emotion}{number:02d} is outside "
            f"{emotion}01..{emotion}{NUM_SENTENCES[emotion]:02d} ({hint})"
        )
    return emotion, number


def parse_filename(path, layout="all", speaker=None):
    """dict. The fields of a SAVEE clip name.

    Args:
        path: str or path-like. The file; its base name is parsed (and, in
            the `audiodata` layout, `speaker` is its folder's name).
        layout: str. `"all"` (`DC_a01.wav`) or `"audiodata"` (`a01.wav` in
            a speaker folder).
        speaker: str or None. The speaker folder (`audiodata` layout); None
            reads the parent folder's name.

    Returns:
        A dict with `speaker`, `emotion_code`, `number` (int), `label`.

    Raises:
        DataError: not a SAVEE name, an unknown speaker or emotion, or a
            number out of range; one line naming the file and the pattern.

    Examples:
    ```python
    parse_filename("ALL/KL_su07.wav")["label"]                  # "surprised"
    parse_filename("AudioData/JE/sa03.wav", "audiodata")["speaker"]  # "JE"
    ```
    """
    path = os.fspath(path)
    if layout not in LAYOUTS:
        raise DataError(f"SAVEE layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    hint = _HINTS[layout]
    stem, ext = os.path.splitext(os.path.basename(path))
    if layout == "all":
        match = _FLAT_RE.match(stem)
        groups = match.groups() if match else None
    else:
        match = _CLIP_RE.match(stem)
        if speaker is None:
            speaker = os.path.basename(os.path.dirname(path))
        groups = (speaker,) + match.groups() if match else None
    if ext.lower() != AUDIO_EXTENSION or groups is None:
        raise DataError(f"{path}: not a SAVEE file name ({hint})")
    speaker, emotion, number = groups
    if speaker not in SPEAKERS:
        raise DataError(
            f"{path}: not a SAVEE file: speaker {speaker!r} is not one of "
            f"{', '.join(SPEAKERS)} ({hint})"
        )
    emotion, number = _parse_code(path, emotion, number, hint)
    return {
        "speaker": speaker,
        "emotion_code": emotion,
        "number": number,
        "label": EMOTIONS[emotion],
    }


def detect_layout(root, layout=None):
    """str. `"audiodata"` or `"all"`: which SAVEE layout `root` holds.

    Raises:
        DataError: a missing root, neither folder, both folders without a
            `layout` choice, or an unknown `layout`.
    """
    root = check_root(root, _LAYOUT)
    present = [k for k, d in LAYOUTS.items() if os.path.isdir(os.path.join(root, d))]
    if layout is not None:
        if layout not in LAYOUTS:
            raise DataError(
                f"SAVEE layout {layout!r}: choose one of {', '.join(LAYOUTS)}"
            )
        if layout not in present:
            raise DataError(f"{root}: no {LAYOUTS[layout]}/ folder; {_LAYOUT}")
        return layout
    if not present:
        raise DataError(f"{root}: neither AudioData/ nor ALL/; {_LAYOUT}")
    if len(present) > 1:
        raise DataError(
            f"{root}: holds both AudioData/ and ALL/ (likely the same clips "
            "twice); pass layout='audiodata' or layout='all' to choose one"
        )
    return present[0]


def _parse_in_layout(path, rel, layout):
    parts = rel.replace(os.sep, "/").split("/")
    if layout == "all":
        if len(parts) != 1:
            raise DataError(
                f"{path}: not where SAVEE keeps clips ({_HINTS['all']})"
            )
        return parse_filename(path, "all")
    if len(parts) != 2:
        raise DataError(
            f"{path}: not where SAVEE keeps clips ({_HINTS['audiodata']})"
        )
    return parse_filename(path, "audiodata", speaker=parts[0])


def index_savee(root, skip_invalid=False, layout=None):
    """Index the SAVEE clips under a dataset root.

    Args:
        root: str or path-like. The folder holding `AudioData/` or `ALL/`.
        skip_invalid: bool. Skip `.wav` files whose names or places are not
            SAVEE's (one warning with their count) instead of raising.
        layout: str or None. `"audiodata"` or `"all"`; None detects it
            (and refuses a root holding both).

    Returns:
        A `CorpusIndex` of `Utterance`s (speaker "DC", "JE", "JK" or "KL";
        metadata: `emotion_code`, `number`, `gender` "male", `layout`,
        `language` "en"), sorted by relative path.

    Raises:
        DataError: see `detect_layout`; a bad name (unless `skip_invalid`),
            the same clip twice, or no clips.

    Examples:
    ```python
    index = index_savee("SAVEE")
    folds = CORPUS.folds("loso", index=index)
    ```
    """
    root = os.fspath(root)
    layout = detect_layout(root, layout)
    audio = os.path.join(root, LAYOUTS[layout])
    clips, skipped, seen = [], [], {}
    for rel in wav_files(audio):
        path = os.path.join(audio, rel)
        try:
            fields = _parse_in_layout(path, rel, layout)
        except DataError as error:
            if not skip_invalid:
                raise DataError(
                    f"{error}; rename or remove it, or pass skip_invalid=True "
                    "(--skip-invalid) to skip such files"
                ) from None
            skipped.append(path)
            continue
        key = (fields["speaker"], fields["emotion_code"], fields["number"])
        if key in seen:
            raise DataError(
                f"{path}: the same clip is also at {seen[key]}; point to a "
                "folder holding one copy of the corpus"
            )
        seen[key] = path
        speaker = fields.pop("speaker")
        label = fields.pop("label")
        metadata = dict(fields, gender="male", layout=layout, language="en")
        clips.append(Utterance(path, label, speaker, metadata))
    if skipped:
        warnings.warn(
            f"{NAME}: skipped {count_noun(len(skipped), 'file')} not named or "
            f"placed as in SAVEE ({_HINTS[layout]})",
            stacklevel=2,
        )
    if not clips:
        raise DataError(f"{audio}: no SAVEE clips found; {_HINTS[layout]}")
    return CorpusIndex(clips, LABEL_NAMES, root=root, corpus=NAME, skipped=skipped)


def loso(index=None):
    """The `loso` protocol: one fold per speaker (see the module docstring);
    all 4 speakers when `index` is None."""
    from kser.data.folds import speaker_kfold

    speakers = SPEAKERS if index is None else index.speakers
    if len(speakers) < 3:
        raise DataError(
            f"{NAME}: protocol loso needs at least 3 speakers (train, "
            f"validation, test), found {len(speakers)}"
        )
    return speaker_kfold(speakers, len(speakers), protocol="loso")


def synthesize(root, speakers=None, sample_rate=16000, clip_seconds=0.5, seed=0,
               overwrite=False, layout="audiodata"):
    """Write a small synthetic SAVEE and return its index.

    Default: the 4 speakers x 7 emotions x 3 clips (neutral 6) = 96 clips
    in the official `AudioData/<speaker>/` layout (`layout="all"` writes
    `ALL/<speaker>_<code><NN>.wav`).

    Args:
        root: str. The corpus folder to write (atomically).
        speakers: iterable of "DC", "JE", "JK", "KL", an int (the first
            n), or None (all 4).
        sample_rate, clip_seconds, seed, overwrite: see
            `kser.data.synthesis.write_synthetic_tree`.
        layout: str. `"audiodata"` or `"all"`.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if layout not in LAYOUTS:
        raise DataError(f"SAVEE layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if speakers is None:
        speakers = SPEAKERS
    elif isinstance(speakers, int):
        speakers = SPEAKERS[:speakers]
    speakers = sorted({str(s).upper() for s in speakers})
    if not speakers:
        raise DataError(f"{NAME}: synthesize needs at least one speaker")
    unknown = [s for s in speakers if s not in SPEAKERS]
    if unknown:
        raise DataError(f"{NAME}: unknown speakers {unknown}; choose from "
                        f"{', '.join(SPEAKERS)}")
    files = []
    for speaker in speakers:
        for code, label in EMOTIONS.items():
            for number in range(1, (6 if code == "n" else 3) + 1):
                name = f"{code}{number:02d}.wav"
                rel = (f"AudioData/{speaker}/{name}" if layout == "audiodata"
                       else f"ALL/{speaker}_{name}")
                files.append(SyntheticFile(rel, label, speaker, female=False,
                                           take=number - 1))
    texts = {"AudioData/Info.txt": "Synthetic SAVEE stand-in (kser).\n"} \
        if layout == "audiodata" else None
    write_synthetic_tree(root, files, texts=texts, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite, generator=f"kser.data.corpora.{NAME}")
    return index_savee(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["savee"]`).
CORPUS = Corpus(
    NAME,
    label_names=LABEL_NAMES,
    index_fn=index_savee,
    protocols={"loso": loso},
    default_protocol="loso",
    description="SAVEE: 4 male speakers, 480 clips, 7 emotions (English)",
    synthesize_fn=synthesize,
)
