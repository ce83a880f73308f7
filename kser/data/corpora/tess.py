"""TESS (Toronto Emotional Speech Set): names, indexing, folds, `CORPUS`.

Two actresses, OAF (older adult female) and YAF (younger adult female),
say "Say the word ..." with 200 target words in 7 emotions. The
distributed layout has one folder per speaker and emotion holding
`<speaker>_<word>_<emotion>.wav`, e.g. `OAF_angry/OAF_back_angry.wav`.
The archive spells folder names inconsistently (`OAF_Fear`, `YAF_fear`,
`OAF_Pleasant_surprise`, `YAF_pleasant_surprised`), so speaker and emotion
words are read case-insensitively. The root is searched recursively, so an
extra wrapping folder or a flat folder of clips also works; a clip inside
a `<speaker>_<emotion>` folder must agree with it.

Emotion words map onto canonical labels: angry angry, disgust disgust,
fear fearful, happy happy, neutral neutral, sad sad, and `ps`
(`pleasant_surprise`, `pleasant_surprised`; pleasant surprise) ->
`surprised`. The word as written in the file name is kept in metadata
(`emotion_word`), so pleasant surprise stays recoverable.

Protocol `loso` (default): 2 folds, train on one speaker and test on the
other (fold 1 tests YAF, fold 2 tests OAF). No third speaker is left for
validation, so the validation split is empty: the best epoch cannot be
chosen on held-out speakers (kser then picks it on training accuracy).
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

NAME = "tess"
AUDIO_EXTENSION = ".wav"
SPEAKERS = ("OAF", "YAF")
AGE_GROUPS = {"OAF": "older", "YAF": "younger"}
# Emotion words (lower case) as the corpus writes them -> canonical label.
EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "sad": "sad",
}
# Class order: the canonical order of the labels the corpus uses.
LABEL_NAMES = tuple(name for name in CANONICAL_LABELS if name in EMOTIONS.values())
_NAME_RE = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z_]+)$", re.IGNORECASE)
_FOLDER_RE = re.compile(r"^(OAF|YAF)_([A-Za-z_]+)$", re.IGNORECASE)
_HINT = "expected <OAF|YAF>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav"
_LAYOUT = (
    "expected the TESS root holding <OAF|YAF>_<emotion>/ folders of clips "
    "such as OAF_angry/OAF_back_angry.wav"
)


def parse_filename(path):
    """dict. The fields of a TESS clip name.

    Args:
        path: str or path-like. Only the base name is parsed; the
            extension must be `.wav`; speaker and emotion in any case.

    Returns:
        A dict with `speaker` ("OAF" or "YAF"), `word` (as written),
        `emotion_word` (as written) and `label` (canonical).

    Raises:
        DataError: not a TESS name or an unknown emotion word; one line
            naming the file and the expected pattern.

    Examples:
    ```python
    parse_filename("OAF_Pleasant_surprise/OAF_back_ps.wav")["label"]  # "surprised"
    ```
    """
    path = os.fspath(path)
    stem, ext = os.path.splitext(os.path.basename(path))
    match = _NAME_RE.match(stem)
    if ext.lower() != AUDIO_EXTENSION or not match:
        raise DataError(f"{path}: not a TESS file name ({_HINT})")
    speaker, word, emotion = match.groups()
    if emotion.lower() not in EMOTIONS:
        raise DataError(
            f"{path}: not a TESS file name: emotion {emotion!r} is not one of "
            f"{', '.join(EMOTIONS)} ({_HINT})"
        )
    return {
        "speaker": speaker.upper(),
        "word": word,
        "emotion_word": emotion,
        "label": EMOTIONS[emotion.lower()],
    }


def _folder_check(path, folder, fields):
    """Raise unless a clip agrees with its `<speaker>_<emotion>` folder."""
    match = _FOLDER_RE.match(folder)
    if not match:
        return
    speaker, emotion = match.group(1).upper(), match.group(2).lower()
    if emotion not in EMOTIONS:
        raise DataError(
            f"{path}: folder {folder} is not a TESS emotion folder (emotion "
            f"{match.group(2)!r} is not one of {', '.join(EMOTIONS)}; {_LAYOUT})"
        )
    if speaker != fields["speaker"] or EMOTIONS[emotion] != fields["label"]:
        raise DataError(
            f"{path}: the name says {fields['speaker']} {fields['label']} but "
            f"the file is in {folder}; move it to its speaker's emotion folder"
        )


def index_tess(root, skip_invalid=False):
    """Index the TESS clips under a dataset root.

    Args:
        root: str or path-like. The folder holding the `<speaker>_<emotion>`
            folders (searched recursively).
        skip_invalid: bool. Skip `.wav` files whose names are not TESS names,
            or that sit in a folder of another speaker or emotion (one
            warning with their count), instead of raising.

    Returns:
        A `CorpusIndex` of `Utterance`s (speaker "OAF" or "YAF"; metadata:
        `word`, `emotion_word` as written, `folder`, `gender` "female",
        `age_group` "older"/"younger", `language` "en"), sorted by relative
        path.

    Raises:
        DataError: a missing root, a bad name or folder (unless
            `skip_invalid`), the same clip twice, or no clips.

    Examples:
    ```python
    index = index_tess("TESS Toronto emotional speech set data")
    folds = CORPUS.folds("loso", index=index)
    ```
    """
    root = check_root(root, _LAYOUT)
    clips, skipped, seen = [], [], {}
    for rel in wav_files(root):
        path = os.path.join(root, rel)
        folder = os.path.basename(os.path.dirname(path))
        try:
            fields = parse_filename(path)
            _folder_check(path, folder, fields)
        except DataError as error:
            if not skip_invalid:
                raise DataError(
                    f"{error}; rename or remove it, or pass skip_invalid=True "
                    "(--skip-invalid) to skip such files"
                ) from None
            skipped.append(path)
            continue
        key = (fields["speaker"], fields["word"].lower(), fields["label"])
        if key in seen:
            raise DataError(
                f"{path}: the same clip is also at {seen[key]}; point to a "
                "folder holding one copy of the corpus"
            )
        seen[key] = path
        speaker = fields.pop("speaker")
        label = fields.pop("label")
        metadata = dict(
            fields,
            folder=os.path.dirname(rel).replace(os.sep, "/"),
            gender="female",
            age_group=AGE_GROUPS[speaker],
            language="en",
        )
        clips.append(Utterance(path, label, speaker, metadata))
    if skipped:
        warnings.warn(
            f"{NAME}: skipped {count_noun(len(skipped), 'file')} not named or "
            f"placed as in TESS ({_HINT})",
            stacklevel=2,
        )
    if not clips:
        raise DataError(f"{root}: no TESS clips found; {_LAYOUT}")
    return CorpusIndex(clips, LABEL_NAMES, root=root, corpus=NAME, skipped=skipped)


def loso(index=None):
    """The `loso` protocol: train on one speaker, test on the other, no
    validation speakers (see the module docstring)."""
    from kser.data.folds import speaker_kfold

    speakers = SPEAKERS if index is None else index.speakers
    if len(speakers) < 2:
        raise DataError(
            f"{NAME}: protocol loso needs both speakers (OAF and YAF), found "
            f"{', '.join(speakers) or 'none'}"
        )
    return speaker_kfold(speakers, len(speakers), validation=False, protocol="loso")


# Folder names of the synthetic corpus: mixed spellings, to exercise the
# case-insensitive reading the real archive needs.
_SYNTH_FOLDERS = {
    ("OAF", "fear"): "OAF_Fear",
    ("OAF", "ps"): "OAF_Pleasant_surprise",
    ("OAF", "sad"): "OAF_Sad",
    ("YAF", "ps"): "YAF_pleasant_surprised",
}
_SYNTH_WORDS = ("back", "bar", "base", "bath", "bean", "beg")


def synthesize(root, speakers=None, sample_rate=16000, clip_seconds=0.5, seed=0,
               overwrite=False):
    """Write a small synthetic TESS and return its index.

    Default: OAF and YAF x 7 emotions x 6 words = 84 clips in
    `<speaker>_<emotion>/` folders (some with the archive's odd spellings).

    Args:
        root: str. The corpus folder to write (atomically).
        speakers: iterable of "OAF"/"YAF", an int (the first n), or
            None (both).
        sample_rate, clip_seconds, seed, overwrite: see
            `kser.data.synthesis.write_synthetic_tree`.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if speakers is None:
        speakers = SPEAKERS
    elif isinstance(speakers, int):
        speakers = SPEAKERS[:speakers]
    speakers = sorted({str(s).upper() for s in speakers})
    if not speakers:
        raise DataError(f"{NAME}: synthesize needs at least one speaker")
    unknown = [s for s in speakers if s not in SPEAKERS]
    if unknown:
        raise DataError(f"{NAME}: unknown speakers {unknown}; choose OAF, YAF")
    files = []
    words = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
    for speaker in speakers:
        for emotion in words:
            folder = _SYNTH_FOLDERS.get((speaker, emotion), f"{speaker}_{emotion}")
            for take, word in enumerate(_SYNTH_WORDS):
                files.append(SyntheticFile(
                    f"{folder}/{speaker}_{word}_{emotion}.wav", EMOTIONS[emotion],
                    speaker, female=True, take=take))
    write_synthetic_tree(root, files, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite, generator=f"kser.data.corpora.{NAME}")
    return index_tess(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["tess"]`).
CORPUS = Corpus(
    NAME,
    label_names=LABEL_NAMES,
    index_fn=index_tess,
    protocols={"loso": loso},
    default_protocol="loso",
    description="TESS: 2 female speakers, 2800 clips, 7 emotions (English)",
    synthesize_fn=synthesize,
)
