"""CREMA-D: file names, demographics, indexing, speaker folds, `CORPUS`.

The distributed layout is a folder `AudioWAV/` of clips named
`AAAA_SSS_EEE_LL.wav`: actor 1001..1091, sentence code (12 sentences),
emotion code and emotion level, e.g. `AudioWAV/1001_DFA_ANG_XX.wav`. The
actors' sex, age, race and ethnicity are in `VideoDemographics.csv`
(`ActorID,Age,Sex,Race,Ethnicity`) at the root; it is optional here, and
when present every indexed actor must be listed in it.

Emotion codes map onto canonical labels: ANG angry, DIS disgust, FEA
fearful, HAP happy, NEU neutral, SAD sad. Level codes LO/MD/HI/XX are kept
in metadata as low/medium/high/unspecified; they do not change the label.

Protocols (speakers are the int actor ids):

- `speaker-5fold` (default): the actors found are cut into 5 speaker groups;
  fold k tests on group k+1 and validates on group k (fold 5 tests on group
  1), every other group trains, so each actor is tested exactly once. When
  every actor's sex is known (from `VideoDemographics.csv`) the groups are
  sex-balanced (`balanced_speaker_kfold`: females and males each sorted by
  id, interleaved female, male, ..., dealt round-robin into the 5 groups);
  otherwise the actors are cut in id order (`speaker_kfold`).
- `emobox-leaky` (needs the index): EmoBox's CREMA-D split, offered only so
  results compare with EmoBox's numbers. It is NOT speaker-independent: one
  random 75/25 split of clips stratified by emotion (1 fold, 1856 test
  clips, 5586 train), with all 91 actors in both train and test. Its test
  clips are listed in `kser/data/corpora/emobox_splits/crema_d.json`
  (EmoBox commit 08280f2); every other clip trains; validation is empty
  (the best epoch is picked on training accuracy). A listed clip missing
  from the index is an error. See `kser.data.clip_folds`.
"""

import csv
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

NAME = "crema_d"
AUDIO_DIR = "AudioWAV"
DEMOGRAPHICS = "VideoDemographics.csv"
AUDIO_EXTENSION = ".wav"
ACTORS = tuple(range(1001, 1092))
EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
# Class order: the canonical order of the labels the corpus uses.
LABEL_NAMES = tuple(name for name in CANONICAL_LABELS if name in EMOTIONS.values())
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
NUM_FOLDS = 5
DEMOGRAPHIC_COLUMNS = ("ActorID", "Age", "Sex", "Race", "Ethnicity")
_NAME_RE = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})$")
_HINT = "expected AAAA_SSS_EEE_LL.wav, e.g. 1001_DFA_ANG_XX.wav"
_LAYOUT = (
    "expected the CREMA-D root holding AudioWAV/ (clips such as "
    "AudioWAV/1001_DFA_ANG_XX.wav) and optionally VideoDemographics.csv"
)


def parse_filename(path):
    """dict. The fields of a CREMA-D clip name.

    Args:
        path: str or path-like. Only the base name is parsed; the
            extension must be `.wav` (any case). Codes are read in any case.

    Returns:
        A dict with `actor` (int), `sentence_code`, `emotion_code`,
        `level_code` (upper case), `label` (canonical), `level`, `sentence`.

    Raises:
        DataError: not a CREMA-D name or an unknown code; one line naming
            the file and the expected pattern.

    Examples:
    ```python
    parse_filename("AudioWAV/1001_DFA_ANG_XX.wav")["label"]  # "angry"
    ```
    """
    path = os.fspath(path)
    stem, ext = os.path.splitext(os.path.basename(path))
    match = _NAME_RE.match(stem)
    if ext.lower() != AUDIO_EXTENSION or not match:
        raise DataError(f"{path}: not a CREMA-D file name ({_HINT})")
    actor = int(match.group(1))
    sentence, emotion, level = (g.upper() for g in match.groups()[1:])
    checks = (
        ("actor", actor, ACTORS, "1001..1091"),
        ("sentence", sentence, SENTENCES, ", ".join(SENTENCES)),
        ("emotion", emotion, EMOTIONS, ", ".join(EMOTIONS)),
        ("level", level, LEVELS, ", ".join(LEVELS)),
    )
    for field, value, allowed, shown in checks:
        if value not in allowed:
            raise DataError(
                f"{path}: not a CREMA-D file name: {field} {value} is not one "
                f"of {shown} ({_HINT})"
            )
    return {
        "actor": actor,
        "sentence_code": sentence,
        "emotion_code": emotion,
        "level_code": level,
        "label": EMOTIONS[emotion],
        "level": LEVELS[level],
        "sentence": SENTENCES[sentence],
    }


def read_demographics(path):
    """dict. Actor id (int) -> {"gender", "age", "race", "ethnicity"}.

    Reads `VideoDemographics.csv` (`ActorID,Age,Sex,Race,Ethnicity`);
    `gender` is the `Sex` column in lower case ("male", "female").

    Raises:
        DataError: a missing column, a bad actor id or age, or an actor
            listed twice; one line naming the file.
    """
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [name.strip() for name in reader.fieldnames or ()]
        missing = [c for c in DEMOGRAPHIC_COLUMNS if c not in header]
        if missing:
            raise DataError(
                f"{path}: not a CREMA-D demographics file: no column "
                f"{', '.join(missing)} (expected {','.join(DEMOGRAPHIC_COLUMNS)})"
            )
        people = {}
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            try:
                actor = int(row["ActorID"])
                age = int(row["Age"]) if row["Age"] else None
            except ValueError:
                raise DataError(
                    f"{path}: line {line}: ActorID and Age must be integers"
                ) from None
            if actor in people:
                raise DataError(f"{path}: line {line}: actor {actor} listed twice")
            people[actor] = {
                "gender": row["Sex"].lower() or None,
                "age": age,
                "race": row["Race"] or None,
                "ethnicity": row["Ethnicity"] or None,
            }
    return people


def index_crema_d(root, skip_invalid=False, demographics=True):
    """Index the CREMA-D clips under a dataset root.

    Args:
        root: str or path-like. The folder holding `AudioWAV/` (and
            optionally `VideoDemographics.csv`).
        skip_invalid: bool. Skip `.wav` files whose names are not CREMA-D
            names (one warning with their count) instead of raising.
        demographics: bool. Read `VideoDemographics.csv` when present.

    Returns:
        A `CorpusIndex` of `Utterance`s (speaker: int actor id; metadata:
        `emotion_code`, `level`, `level_code`, `sentence`, `sentence_code`,
        `language`, and `gender`, `age`, `race`, `ethnicity` from the
        demographics file), sorted by relative path.

    Raises:
        DataError: a missing root or `AudioWAV/`, a bad name (unless
            `skip_invalid`), an actor missing from the demographics file, the
            same clip twice, or no clips.

    Examples:
    ```python
    index = index_crema_d("CREMA-D")
    folds = CORPUS.folds("speaker-5fold", index=index)
    ```
    """
    root, audio = check_root(root, _LAYOUT, AUDIO_DIR)
    people = {}
    table = os.path.join(root, DEMOGRAPHICS)
    if demographics and os.path.isfile(table):
        people = read_demographics(table)
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
        stem = os.path.splitext(os.path.basename(rel))[0].upper()
        if stem in seen:
            raise DataError(
                f"{path}: the same clip is also at {seen[stem]}; point to a "
                "folder holding one copy of the corpus"
            )
        seen[stem] = path
        actor = fields.pop("actor")
        label = fields.pop("label")
        metadata = dict(fields, language="en")
        if people:
            if actor not in people:
                raise DataError(
                    f"{path}: actor {actor} is not in {table}; fix the file or "
                    "pass demographics=False"
                )
            metadata.update(people[actor])
        clips.append(Utterance(path, label, actor, metadata))
    if skipped:
        warnings.warn(
            f"{NAME}: skipped {count_noun(len(skipped), 'file')} not named "
            f"in CREMA-D's pattern ({_HINT})",
            stacklevel=2,
        )
    if not clips:
        raise DataError(f"{audio}: no CREMA-D clips found; {_LAYOUT}")
    return CorpusIndex(clips, LABEL_NAMES, root=root, corpus=NAME, skipped=skipped)


def speaker_genders(index):
    """dict. Speaker -> gender ("male", "female" or None) found in `index`."""
    genders = {}
    for clip in index:
        gender = (getattr(clip, "metadata", None) or {}).get("gender")
        if genders.get(clip.speaker) is None:
            genders[clip.speaker] = gender
    return genders


def speaker_5fold(index):
    """The `speaker-5fold` protocol: 5 speaker-disjoint folds, sex-balanced
    when every actor's sex is known (see the module docstring)."""
    from kser.data.folds import balanced_speaker_kfold
    from kser.data.folds import speaker_kfold

    if index is None:
        raise DataError(
            f"{NAME}: protocol speaker-5fold needs the corpus index (its folds "
            "are built from the actors found)"
        )
    genders = speaker_genders(index)
    if genders and all(g is not None for g in genders.values()):
        return balanced_speaker_kfold(genders, NUM_FOLDS, protocol="speaker-5fold")
    return speaker_kfold(index.speakers, NUM_FOLDS, protocol="speaker-5fold")


def emobox_leaky(index):
    """The `emobox-leaky` protocol: EmoBox's clip-level split (1 fold; NOT
    speaker-independent; see the module docstring)."""
    from kser.data.clip_folds import emobox_leaky_folds

    return emobox_leaky_folds(NAME, index)


def synthesize(root, speakers=None, sample_rate=16000, clip_seconds=0.5, seed=0,
               overwrite=False):
    """Write a small synthetic CREMA-D (`AudioWAV/` and
    `VideoDemographics.csv`) and return its index.

    Default: 10 actors (1001..1010, odd male, even female) x 6 emotions x 2
    clips (DFA at level XX, and IEO at LO/MD/HI, XX for neutral) = 120 clips.

    Args:
        root: str. The corpus folder to write (atomically).
        speakers: int, iterable of int actor ids, or None (10 actors).
        sample_rate, clip_seconds, seed, overwrite: see
            `kser.data.synthesis.write_synthetic_tree`.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if speakers is None:
        speakers = 10
    if isinstance(speakers, int):
        speakers = range(ACTORS[0], ACTORS[0] + speakers)
    actors = sorted(int(a) for a in speakers)
    if not actors:
        raise DataError(f"{NAME}: synthesize needs at least one speaker")
    unknown = [a for a in actors if a not in ACTORS]
    if unknown:
        raise DataError(f"{NAME}: actors {unknown} are outside 1001..1091")
    files, rows = [], []
    for actor in actors:
        female = actor % 2 == 0
        rows.append(f"{actor},{30 + actor % 20},{'Female' if female else 'Male'},"
                    "Caucasian,Not Hispanic")
        for e, (code, label) in enumerate(EMOTIONS.items()):
            level = "XX" if code == "NEU" else ("LO", "MD", "HI")[(actor + e) % 3]
            for take, name in enumerate((f"{actor}_DFA_{code}_XX",
                                         f"{actor}_IEO_{code}_{level}")):
                files.append(SyntheticFile(f"{AUDIO_DIR}/{name}.wav", label,
                                           actor, female=female, take=take))
    header = ",".join(DEMOGRAPHIC_COLUMNS)
    texts = {DEMOGRAPHICS: header + "\n" + "\n".join(rows) + "\n"}
    write_synthetic_tree(root, files, texts=texts, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite, generator=f"kser.data.corpora.{NAME}")
    return index_crema_d(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["crema_d"]`).
CORPUS = Corpus(
    NAME,
    label_names=LABEL_NAMES,
    index_fn=index_crema_d,
    protocols={"speaker-5fold": speaker_5fold, "emobox-leaky": emobox_leaky},
    default_protocol="speaker-5fold",
    description="CREMA-D: 91 actors, 7442 clips, 6 emotions (English)",
    synthesize_fn=synthesize,
)
