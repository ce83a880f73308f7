"""EmoDB (Berlin Database of Emotional Speech): names, indexing, folds.

The distributed layout keeps the clips in `wav/`, named `SSTTTEV.wav`:
speaker (two digits), text code (a01..b10), emotion letter (German
initial) and version letter, e.g. `wav/03a01Fa.wav` is speaker 03 saying
text a01 in happiness (Freude), version a. Other folders of the archive
(`lablaut/`, `labsilb/`, `silb/`) are ignored.

Emotion letters map onto canonical labels: W (Wut) angry, L (Langeweile)
boredom, E (Ekel) disgust, A (Angst) fearful, F (Freude) happy, T (Trauer)
sad, N neutral.

Speakers (str ids) and genders: male 03, 10, 11, 12, 15; female 08, 09,
13, 14, 16.

Protocol `loso` (default): leave one speaker out, one fold per speaker
(10 on the full corpus), with `speaker_kfold(speakers, n)` semantics: the
speakers are sorted; fold k validates on the k-th speaker and tests on the
(k+1)-th; the last fold validates on the last speaker and tests on the
first. So every speaker is tested exactly once, and its validation speaker
is the one before it in sorted order (wrapping). Built from the index's
speakers, or from all 10 when no index is given.

Protocol `emobox-leaky` (needs the index): EmoBox's EmoDB folds, offered
only so results compare with EmoBox's numbers. They are NOT
speaker-independent: 5 clip-level folds of 107 test clips each (428 train),
the test sets partitioning the 535 clips, with all 10 speakers in every
fold's train and test. The test clips are listed in
`kser/data/corpora/emobox_splits/emodb.json` (EmoBox commit 08280f2); every
other clip trains; validation is empty (the best epoch is picked on
training accuracy). A listed clip missing from the index is an error. See
`kser.data.clip_folds`.
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

NAME = "emodb"
AUDIO_DIR = "wav"
AUDIO_EXTENSION = ".wav"
GENDERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}
SPEAKERS = tuple(sorted(GENDERS))
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
EMOTIONS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
EMOTION_WORDS = {
    "W": "Wut",
    "L": "Langeweile",
    "E": "Ekel",
    "A": "Angst",
    "F": "Freude",
    "T": "Trauer",
    "N": "neutral",
}
VERSIONS = "abcdefg"
# Class order: the canonical order of the labels the corpus uses.
LABEL_NAMES = tuple(name for name in CANONICAL_LABELS if name in EMOTIONS.values())
_NAME_RE = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")
_HINT = "expected SSTTTEV.wav, e.g. 03a01Fa.wav"
_LAYOUT = "expected the EmoDB root holding wav/ (clips such as wav/03a01Fa.wav)"


def parse_filename(path):
    """dict. The fields of an EmoDB clip name.

    Args:
        path: str or path-like. Only the base name is parsed; the
            extension must be `.wav` (any case). Letters are case-sensitive.

    Returns:
        A dict with `speaker` (str), `text`, `emotion_code`, `version`,
        `label` (canonical).

    Raises:
        DataError: not an EmoDB name or an unknown speaker, text, emotion or
            version; one line naming the file and the expected pattern.

    Examples:
    ```python
    parse_filename("wav/03a01Fa.wav")["label"]  # "happy"
    ```
    """
    path = os.fspath(path)
    stem, ext = os.path.splitext(os.path.basename(path))
    match = _NAME_RE.match(stem)
    if ext.lower() != AUDIO_EXTENSION or not match:
        raise DataError(f"{path}: not an EmoDB file name ({_HINT})")
    speaker, text, emotion, version = match.groups()
    checks = (
        ("speaker", speaker, SPEAKERS),
        ("text", text, TEXTS),
        ("emotion", emotion, EMOTIONS),
        ("version", version, VERSIONS),
    )
    for field, value, allowed in checks:
        if value not in allowed:
            raise DataError(
                f"{path}: not an EmoDB file name: {field} {value} is not one of "
                f"{', '.join(allowed)} ({_HINT})"
            )
    return {
        "speaker": speaker,
        "text": text,
        "emotion_code": emotion,
        "version": version,
        "label": EMOTIONS[emotion],
    }


def index_emodb(root, skip_invalid=False):
    """Index the EmoDB clips under a dataset root.

    Args:
        root: str or path-like. The folder holding `wav/`.
        skip_invalid: bool. Skip `.wav` files whose names are not EmoDB
            names (one warning with their count) instead of raising.

    Returns:
        A `CorpusIndex` of `Utterance`s (speaker: str, e.g. "03"; metadata:
        `gender`, `text`, `text_type` ("short" for a.., "long" for b..),
        `emotion_code`, `emotion_word`, `version`, `language` "de"), sorted
        by relative path.

    Raises:
        DataError: a missing root or `wav/`, a bad name (unless
            `skip_invalid`), the same clip twice, or no clips.

    Examples:
    ```python
    index = index_emodb("emodb")
    folds = CORPUS.folds("loso", index=index)
    ```
    """
    root, audio = check_root(root, _LAYOUT, AUDIO_DIR)
    clips, skipped, seen = [], [], {}
    for rel in wav_files(audio):
        path = os.path.join(audio, rel)
        try:
            fields = parse_filename(path)
        except DataError as error:
            if not skip_invalid:
                raise DataError(
                    f"{error}; rename or remove it, or pass skip_invalid=True "
                    "(--skip-invalid) to skip such files"
                ) from None
            skipped.append(path)
            continue
        stem = os.path.splitext(os.path.basename(rel))[0]
        if stem in seen:
            raise DataError(
                f"{path}: the same clip is also at {seen[stem]}; point to a "
                "folder holding one copy of the corpus"
            )
        seen[stem] = path
        speaker = fields.pop("speaker")
        label = fields.pop("label")
        metadata = dict(
            fields,
            gender=GENDERS[speaker],
            text_type="short" if fields["text"].startswith("a") else "long",
            emotion_word=EMOTION_WORDS[fields["emotion_code"]],
            language="de",
        )
        clips.append(Utterance(path, label, speaker, metadata))
    if skipped:
        warnings.warn(
            f"{NAME}: skipped {count_noun(len(skipped), 'file')} not named "
            f"in EmoDB's pattern ({_HINT})",
            stacklevel=2,
        )
    if not clips:
        raise DataError(f"{audio}: no EmoDB clips found; {_LAYOUT}")
    return CorpusIndex(clips, LABEL_NAMES, root=root, corpus=NAME, skipped=skipped)


def loso(index=None):
    """The `loso` protocol: one fold per speaker (see the module docstring);
    all 10 speakers when `index` is None."""
    from kser.data.folds import speaker_kfold

    speakers = SPEAKERS if index is None else index.speakers
    if len(speakers) < 3:
        raise DataError(
            f"{NAME}: protocol loso needs at least 3 speakers (train, "
            f"validation, test), found {len(speakers)}"
        )
    return speaker_kfold(speakers, len(speakers), protocol="loso")


def emobox_leaky(index):
    """The `emobox-leaky` protocol: EmoBox's 5 clip-level folds (NOT
    speaker-independent; see the module docstring)."""
    from kser.data.clip_folds import emobox_leaky_folds

    return emobox_leaky_folds(NAME, index)


def synthesize(root, speakers=None, sample_rate=16000, clip_seconds=0.5, seed=0,
               overwrite=False):
    """Write a small synthetic EmoDB (`wav/`) and return its index.

    Default: the 10 speakers x 7 emotions x 2 clips (two texts, versions a
    and b) = 140 clips.

    Args:
        root: str. The corpus folder to write (atomically).
        speakers: iterable of speaker ids ("03", ...), an int (the first n
            speakers), or None (all 10).
        sample_rate, clip_seconds, seed, overwrite: see
            `kser.data.synthesis.write_synthetic_tree`.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if speakers is None:
        speakers = SPEAKERS
    elif isinstance(speakers, int):
        speakers = SPEAKERS[:speakers]
    speakers = sorted(f"{int(s):02d}" for s in speakers)
    if not speakers:
        raise DataError(f"{NAME}: synthesize needs at least one speaker")
    unknown = [s for s in speakers if s not in SPEAKERS]
    if unknown:
        raise DataError(f"{NAME}: unknown speakers {unknown}; choose from "
                        f"{', '.join(SPEAKERS)}")
    files = []
    for s, speaker in enumerate(speakers):
        for e, (code, label) in enumerate(EMOTIONS.items()):
            for take, version in enumerate("ab"):
                text = TEXTS[(s + e + 5 * take) % len(TEXTS)]
                files.append(SyntheticFile(
                    f"{AUDIO_DIR}/{speaker}{text}{code}{version}.wav", label,
                    speaker, female=GENDERS[speaker] == "female", take=take))
    write_synthetic_tree(root, files, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite, generator=f"kser.data.corpora.{NAME}")
    return index_emodb(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["emodb"]`).
CORPUS = Corpus(
    NAME,
    label_names=LABEL_NAMES,
    index_fn=index_emodb,
    protocols={"loso": loso, "emobox-leaky": emobox_leaky},
    default_protocol="loso",
    description="EmoDB (Berlin): 10 speakers, 535 clips, 7 emotions (German)",
    synthesize_fn=synthesize,
)
