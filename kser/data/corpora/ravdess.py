"""RAVDESS, the first corpus: file names, constants, indexing, `CORPUS`.

The RAVDESS constants of the paper (emotion names in code order, 24 actors,
60 speech clips per actor) live here and nowhere else; its fold protocols
(the paper's 12 folds, EmoBox's 6) are in `ravdess_protocols`.

A RAVDESS file name has seven two-digit fields,
`MM-VV-EE-II-SS-RR-AA.wav`: modality, vocal channel, emotion, intensity,
statement, repetition and actor. The paper uses the audio-only speech part
(modality 03, vocal channel 01): 24 actors x 60 clips = 1440 files.
"""

import collections
import dataclasses
import os
import re
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.errors import DataError
from kser.labels import PAPER_EMOTIONS
from kser.text import count_noun

# Emotion names in code order: code 01 is "neutral", label 0; the paper's
# classes, `kser.labels.PAPER_EMOTIONS`.
EMOTIONS = PAPER_EMOTIONS
NUM_EMOTIONS = len(EMOTIONS)
NUM_ACTORS = 24
ACTORS = tuple(range(1, NUM_ACTORS + 1))
# 4 neutral clips (one intensity) + 7 emotions x 2 intensities x 2 statements
# x 2 repetitions = 60 speech clips per actor.
CLIPS_PER_ACTOR = 60
NUM_SPEECH_CLIPS = NUM_ACTORS * CLIPS_PER_ACTOR

MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = {1: "speech", 2: "song"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {
    1: "Kids are talking by the door",
    2: "Dogs are sitting by the door",
}
REPETITIONS = {1: "1st repetition", 2: "2nd repetition"}
AUDIO_ONLY = 3
SPEECH = 1
SONG = 2
# Songs are sung in six emotions only: no disgust (07), no surprised (08).
SONG_EMOTIONS = (1, 2, 3, 4, 5, 6)

_NAME_RE = re.compile(
    r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$"
)
_ACTOR_DIR_RE = re.compile(r"^actor_(\d+)$", re.IGNORECASE)
AUDIO_EXTENSION = ".wav"


@dataclasses.dataclass(frozen=True, order=True)
class RavdessFile:
    """One RAVDESS clip: the seven typed fields of its name and its path.

    Args:
        modality: int. 1 full-AV, 2 video-only, 3 audio-only.
        vocal_channel: int. 1 speech, 2 song.
        emotion: int. Emotion code 1..8 (see `EMOTIONS`).
        intensity: int. 1 normal, 2 strong (neutral is always 1).
        statement: int. 1 "Kids are talking...", 2 "Dogs are sitting...".
        repetition: int. 1 or 2.
        actor: int. 1..24; odd actors are male, even actors female.
        path: str or None. Where the file is, if it is on disk.

    Examples:
    ```python
    clip = parse_filename("03-01-06-01-02-01-12.wav")
    clip.emotion_name, clip.label, clip.gender  # ("fearful", 5, "female")
    ```
    """

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int
    path: str = dataclasses.field(default=None, compare=False)

    @property
    def label(self):
        """int. The class index, 0..7, in `EMOTIONS` order."""
        return self.emotion - 1

    @property
    def emotion_name(self):
        return EMOTIONS[self.emotion - 1]

    @property
    def label_name(self):
        """str. The canonical label name (the same as `emotion_name`)."""
        return self.emotion_name

    @property
    def speaker(self):
        """int. The speaker folds split by (the same as `actor`)."""
        return self.actor

    @property
    def gender(self):
        return "male" if self.actor % 2 else "female"

    @property
    def stem(self):
        """str. The file name without extension, e.g. `03-01-06-01-02-01-12`."""
        return "-".join(
            f"{value:02d}"
            for value in (
                self.modality,
                self.vocal_channel,
                self.emotion,
                self.intensity,
                self.statement,
                self.repetition,
                self.actor,
            )
        )

    @property
    def name(self):
        return self.stem + AUDIO_EXTENSION


def parse_filename(path):
    """Parse a RAVDESS file name into a `RavdessFile`.

    Args:
        path: str or path-like. A file name or path; only the base name is
            parsed. The extension must be `.wav` (any case).

    Returns:
        A `RavdessFile` with `path` set to `path`.

    Raises:
        DataError: the name is not a valid RAVDESS name; the message names
            the file and the field at fault.

    Examples:
    ```python
    parse_filename("Actor_12/03-01-06-01-02-01-12.wav").actor  # 12
    ```
    """
    path = os.fspath(path)
    base = os.path.basename(path)
    stem, ext = os.path.splitext(base)
    hint = "expected MM-VV-EE-II-SS-RR-AA.wav, e.g. 03-01-06-01-02-01-12.wav"
    if ext.lower() != AUDIO_EXTENSION:
        raise DataError(f"{path}: not a RAVDESS audio file name ({hint})")
    match = _NAME_RE.match(stem)
    if not match:
        raise DataError(f"{path}: not a RAVDESS file name ({hint})")
    fields = [int(group) for group in match.groups()]
    modality, channel, emotion, intensity, statement, repetition, actor = fields
    checks = (
        ("modality", modality, MODALITIES),
        ("vocal channel", channel, VOCAL_CHANNELS),
        ("emotion", emotion, range(1, NUM_EMOTIONS + 1)),
        ("intensity", intensity, INTENSITIES),
        ("statement", statement, STATEMENTS),
        ("repetition", repetition, REPETITIONS),
        ("actor", actor, ACTORS),
    )
    for field, value, allowed in checks:
        if value not in allowed:
            lo, hi = min(allowed), max(allowed)
            raise DataError(
                f"{path}: not a RAVDESS file name: {field} {value:02d} is "
                f"outside {lo:02d}..{hi:02d}"
            )
    if emotion == 1 and intensity != 1:
        raise DataError(
            f"{path}: not a RAVDESS file name: neutral (emotion 01) has no "
            "strong intensity (02)"
        )
    if channel == SONG and emotion not in SONG_EMOTIONS:
        raise DataError(
            f"{path}: not a RAVDESS file name: song (vocal channel 02) has no "
            f"{EMOTIONS[emotion - 1]} (emotion {emotion:02d})"
        )
    return RavdessFile(*fields, path=path)


def expected_speech_clips(actor):
    """The 60 speech clips a complete RAVDESS actor has.

    Args:
        actor: int. The actor, 1..24.

    Returns:
        A list of 60 `RavdessFile` (audio-only speech, no paths), in a fixed
        order: emotion, intensity, statement, repetition.
    """
    clips = []
    for emotion in range(1, NUM_EMOTIONS + 1):
        intensities = (1,) if emotion == 1 else (1, 2)
        for intensity in intensities:
            for statement in STATEMENTS:
                for repetition in REPETITIONS:
                    clips.append(
                        RavdessFile(
                            AUDIO_ONLY,
                            SPEECH,
                            emotion,
                            intensity,
                            statement,
                            repetition,
                            actor,
                        )
                    )
    return clips


class RavdessIndex(CorpusIndex):
    """The RAVDESS clips found under a dataset root, sorted by name.

    Build one with `index_ravdess`. Iterating yields `RavdessFile`s. A
    `CorpusIndex` whose speakers are the actors and whose `label_names`
    are `EMOTIONS`.

    Args:
        files: sequence of `RavdessFile`. The clips (with paths).
        root: str or None. The folder they were found in.
        layout: str. `"actor-folders"`, `"flat"` or `"mixed"`.
        skipped: sequence of str. Files skipped under `skip_invalid=True`.
    """

    def __init__(self, files, root=None, layout="flat", skipped=()):
        super().__init__(
            sorted(files, key=lambda f: (f.actor, f.stem)),
            EMOTIONS,
            root=root,
            corpus="ravdess",
        )
        self.layout = layout
        self.skipped = tuple(skipped)

    @property
    def files(self):
        """tuple of `RavdessFile`. The clips, sorted by actor and name."""
        return self.utterances

    def __repr__(self):
        return (
            f"RavdessIndex({count_noun(len(self.files), 'file')}, "
            f"{count_noun(len(self.actors), 'actor')}, layout={self.layout!r})"
        )

    @property
    def actors(self):
        """tuple of int. The actors present, sorted."""
        return tuple(sorted({f.actor for f in self.files}))

    @property
    def speakers(self):
        """tuple of int. The speakers present (the actors), sorted."""
        return self.actors

    @property
    def labels(self):
        """list of int. The class index of every file, in index order."""
        return [f.label for f in self.files]

    def select(self, actors):
        """The clips of some actors, as a new `RavdessIndex`.

        Args:
            actors: iterable of int. The actors to keep.
        """
        keep = set(actors)
        return RavdessIndex(
            [f for f in self.files if f.actor in keep],
            root=self.root,
            layout=self.layout,
        )

    def actor_counts(self):
        """dict. Clips per actor, for every actor 1..24 (0 if absent)."""
        counts = collections.Counter(f.actor for f in self.files)
        return {actor: counts.get(actor, 0) for actor in ACTORS}

    def emotion_counts(self):
        """dict. Number of clips per emotion name."""
        counts = collections.Counter(f.emotion_name for f in self.files)
        return {name: counts.get(name, 0) for name in EMOTIONS}

    def missing_speech_clips(self):
        """list of str. Names of the audio-only speech clips not indexed."""
        present = {f.stem for f in self.files}
        return [
            clip.name
            for actor in ACTORS
            for clip in expected_speech_clips(actor)
            if clip.stem not in present
        ]

    def is_complete_speech_set(self):
        """bool. Whether this is exactly the 24 x 60 audio-only speech set."""
        speech = [
            f
            for f in self.files
            if f.modality == AUDIO_ONLY and f.vocal_channel == SPEECH
        ]
        return (
            len(speech) == len(self.files) == NUM_SPEECH_CLIPS
            and not self.missing_speech_clips()
        )

    def check_complete(self):
        """Raise `DataError` unless this is the full 1440-file speech set."""
        if self.is_complete_speech_set():
            return
        missing = self.missing_speech_clips()
        where = self.root or "the index"
        detail = count_noun(len(self.files), "file")
        if missing:
            shown = ", ".join(missing[:3]) + (
                ", ..." if len(missing) > 3 else ""
            )
            detail += (
                f", {count_noun(len(missing), 'speech clip')} missing ({shown})"
            )
        raise DataError(
            f"{where}: not the complete RAVDESS speech set ({detail}; expected "
            f"{NUM_ACTORS} actors x {CLIPS_PER_ACTOR} = {NUM_SPEECH_CLIPS}); "
            "re-extract Audio_Speech_Actors_01-24.zip"
        )

    def report(self):
        """str. A short human-readable summary with per-actor counts."""
        counts = self.actor_counts()
        lines = [
            f"{count_noun(len(self.files), 'clip')} from "
            f"{count_noun(len(self.actors), 'actor')} "
            f"({self.layout} layout) in {self.root}",
        ]
        cells = [f"{actor:02d}:{counts[actor]:3d}" for actor in ACTORS]
        for start in range(0, len(cells), 8):
            lines.append("  " + "  ".join(cells[start : start + 8]))
        incomplete = [
            actor for actor in self.actors if counts[actor] != CLIPS_PER_ACTOR
        ]
        if self.is_complete_speech_set():
            lines.append(
                f"complete speech set: {NUM_ACTORS} actors x "
                f"{CLIPS_PER_ACTOR} clips = {NUM_SPEECH_CLIPS}"
            )
        elif incomplete:
            shown = ", ".join(f"{a:02d} ({counts[a]})" for a in incomplete)
            lines.append(f"actors without {CLIPS_PER_ACTOR} clips: {shown}")
        if self.skipped:
            lines.append(
                f"skipped {count_noun(len(self.skipped), 'file')} with other "
                "names"
            )
        return "\n".join(lines)


def _as_set(values, name, allowed):
    if values is None:
        return set(allowed)
    if isinstance(values, int):
        values = (values,)
    values = set(values)
    unknown = values - set(allowed)
    if unknown:
        raise DataError(
            f"unknown {name} {sorted(unknown)}: choose from {sorted(allowed)}"
        )
    return values


def index_ravdess(
    root,
    modalities=(AUDIO_ONLY,),
    vocal_channels=(SPEECH,),
    actors=None,
    skip_invalid=False,
    require_complete=False,
):
    """Index the RAVDESS clips under a dataset root.

    Accepts the layouts users have: `Actor_01/ ... Actor_24/` as unzipped
    from the official archive (possibly one level deeper, e.g.
    `Audio_Speech_Actors_01-24/Actor_01/`), or a flat folder of `.wav`
    files. The folder is searched recursively; only `.wav` files are
    considered and hidden files (such as macOS `._*` resource forks) are
    ignored. A file inside an `Actor_NN` folder must belong to actor NN.

    Args:
        root: str or path-like. The dataset folder.
        modalities: iterable of int or None. Modalities to keep (default
            audio-only, 3); None keeps all.
        vocal_channels: iterable of int or None. Vocal channels to keep
            (default speech, 1); None keeps speech and song.
        actors: iterable of int or None. Actors to keep; None keeps all.
        skip_invalid: bool. Skip `.wav` files whose names are not RAVDESS
            names, with a warning, instead of raising.
        require_complete: bool. Raise unless the result is the complete
            24 x 60 speech set.

    Returns:
        A `RavdessIndex`.

    Raises:
        DataError: a missing folder, a `.wav` file whose name is not RAVDESS
            (unless `skip_invalid`), an actor that does not match its
            `Actor_NN` folder, the same clip twice, or no clips at all.

    Examples:
    ```python
    index = index_ravdess("Audio_Speech_Actors_01-24")
    print(index.report())
    train, val, test = paper_folds()[2].split(index)
    ```
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise DataError(
            f"{root}: no such folder; pass the RAVDESS dataset root"
        )
    if not os.path.isdir(root):
        raise DataError(f"{root}: not a folder; pass the RAVDESS dataset root")
    modalities = _as_set(modalities, "modality", MODALITIES)
    vocal_channels = _as_set(vocal_channels, "vocal channel", VOCAL_CHANNELS)
    actors = _as_set(actors, "actor", ACTORS)

    found = {}
    skipped = []
    in_actor_dirs = in_flat = False
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        folder_match = _ACTOR_DIR_RE.match(os.path.basename(dirpath))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            if os.path.splitext(filename)[1].lower() != AUDIO_EXTENSION:
                continue
            path = os.path.join(dirpath, filename)
            try:
                clip = parse_filename(path)
            except DataError as error:
                if not skip_invalid:
                    raise DataError(
                        f"{error}; rename or remove it, or pass "
                        "skip_invalid=True (--skip-invalid) to skip such files"
                    ) from None
                warnings.warn(f"skipping {error}", stacklevel=2)
                skipped.append(path)
                continue
            if folder_match:
                in_actor_dirs = True
                folder_actor = int(folder_match.group(1))
                if folder_actor != clip.actor:
                    raise DataError(
                        f"{path}: the name says actor {clip.actor:02d} but the "
                        f"file is in {os.path.basename(dirpath)}; move it to "
                        f"Actor_{clip.actor:02d}"
                    )
            else:
                in_flat = True
            if clip.stem in found:
                raise DataError(
                    f"{path}: the same clip is also at {found[clip.stem].path}; "
                    "point to a folder holding one copy of the dataset"
                )
            found[clip.stem] = clip

    files = [
        clip
        for clip in found.values()
        if clip.modality in modalities
        and clip.vocal_channel in vocal_channels
        and clip.actor in actors
    ]
    if not files:
        raise DataError(
            f"{root}: no RAVDESS clips found ({len(found)} RAVDESS .wav files "
            "before filtering by modality, vocal channel and actor); pass the "
            "folder holding Actor_01 ... Actor_24"
        )
    if in_actor_dirs and in_flat:
        layout = "mixed"
    elif in_actor_dirs:
        layout = "actor-folders"
    else:
        layout = "flat"
    index = RavdessIndex(files, root=root, layout=layout, skipped=skipped)
    if require_complete:
        index.check_complete()
    return index


def _synthesize(root, speakers=4, sample_rate=16000, clip_seconds=0.5, seed=0,
                overwrite=False):
    from kser.data.synthetic import write_corpus

    return write_corpus(root, actors=speakers, sample_rate=sample_rate,
                        clip_seconds=clip_seconds, seed=seed,
                        overwrite=overwrite)


def _paper_protocol(index=None):
    from kser.data.corpora.ravdess_protocols import paper_folds

    return paper_folds()


def _emobox_protocol(index=None):
    from kser.data.corpora.ravdess_protocols import emobox_folds

    return emobox_folds()


# The corpus registry's entry (`kser.data.corpora.CORPORA["ravdess"]`).
# Fold protocols ignore the index: their actors are fixed by the paper and
# by EmoBox.
CORPUS = Corpus(
    "ravdess",
    label_names=EMOTIONS,
    index_fn=index_ravdess,
    protocols={"paper": _paper_protocol, "emobox": _emobox_protocol},
    default_protocol="paper",
    description=(
        "RAVDESS audio-only speech: 24 actors x 60 clips, 8 emotions"
    ),
    synthesize_fn=_synthesize,
)
