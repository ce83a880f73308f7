"""IEMOCAP: five dyadic sessions, ten actors, utterances labelled by
consensus in each dialog's EmoEvaluation file.

Layout (as in `IEMOCAP_full_release`):

    Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav
    Session1/dialog/EmoEvaluation/Ses01F_impro01.txt
    Session1/dialog/transcriptions/Ses01F_impro01.txt   (optional, text)

An utterance id `Ses01F_impro01_F000` is `Ses<session><recorded gender>_
<dialog part>_<speaker gender><number>`: the dialog `Ses01F_impro01` is
session 1's recording led by its female actor; the utterance is spoken by
the female (`F000`) or male (`M003`) actor of that session. Speakers are
`"Ses01F"`, `"Ses01M"`, ... `"Ses05M"` (session + the utterance's gender).

Labels come from EmoEvaluation lines such as
`[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`
(valence, activation, dominance). Codes: neu, hap, exc, sad, ang, fru,
fea, sur, dis, oth, xxx. Class sets:

- `classes="4class"` (default): neutral, happy, sad, angry; `hap` and
  `exc` are merged into happy (the usual 4-class IEMOCAP, 5531
  utterances, as in EmoBox). Other codes are left out (counted in
  `index.excluded`, not errors).
- `classes="all"`: adds excited, frustrated, fearful, surprised, disgust,
  other (`exc` stays excited); `xxx` (no agreement) is left out.

Protocols (speakers fixed, the index is not needed):

- `loso` (default, 5 folds): fold k tests session k (both actors) and
  validates on session k+1 (session 1 for fold 5); the other three
  sessions train. The test sessions are EmoBox's IEMOCAP folds.
- `loso-speaker` (10 folds): fold i tests one actor (Ses01F, Ses01M, ...,
  Ses05M in order) and validates on the other actor of the same session,
  so no dialog of the test actor is in training; 8 actors train.
"""

import collections
import os
import re
import warnings

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.folds import Fold
from kser.errors import DataError
from kser.text import count_noun

SESSIONS = (1, 2, 3, 4, 5)
GENDERS = {"F": "female", "M": "male"}
SPEAKERS = tuple(f"Ses{s:02d}{g}" for s in SESSIONS for g in "FM")
CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "fea", "sur", "dis",
         "oth", "xxx")
# Code -> canonical label per class set; codes absent from a map are left out.
CLASS_SETS = {
    "4class": {"neu": "neutral", "hap": "happy", "exc": "happy",
               "sad": "sad", "ang": "angry"},
    "all": {"neu": "neutral", "hap": "happy", "exc": "excited",
            "sad": "sad", "ang": "angry", "fru": "frustrated",
            "fea": "fearful", "sur": "surprised", "dis": "disgust",
            "oth": "other"},
}
LABEL_NAMES = {
    "4class": ("neutral", "happy", "sad", "angry"),
    "all": ("neutral", "happy", "sad", "angry", "fearful", "disgust",
            "surprised", "excited", "frustrated", "other"),
}
AUDIO_EXTENSION = ".wav"
_UTTERANCE_RE = re.compile(
    r"^(Ses(\d{2})([FM])_((impro|script)[A-Za-z0-9_]*?))_([FM])(\d{3})$"
)
_LABEL_RE = re.compile(
    r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+"
    r"\[\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\]"
)
_TRANSCRIPT_RE = re.compile(r"^(\S+)\s+\[[^\]]*\]:\s?(.*)$")
_SESSION_DIR_RE = re.compile(r"^Session([1-5])$")
HINT = ("expected Session<N>/sentences/wav/<dialog>/<dialog>_<F|M><NNN>.wav, "
        "e.g. Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
LAYOUT = ("expected the IEMOCAP_full_release layout: Session1..Session5, each "
          "with sentences/wav/ and dialog/EmoEvaluation/")


class IemocapIndex(CorpusIndex):
    """A `CorpusIndex` that also counts the utterances left out by code.

    Args:
        excluded: dict. Emotion code -> utterances left out (codes outside
            the class set, e.g. fru or xxx in `4class`).
        missing_audio: int. Labelled utterances with no wav file.
    """

    def __init__(self, utterances, label_names, root=None, skipped=(),
                 excluded=None, missing_audio=0, classes="4class"):
        super().__init__(utterances, label_names, root=root, corpus="iemocap",
                         skipped=skipped)
        self.excluded = dict(sorted((excluded or {}).items()))
        self.missing_audio = int(missing_audio)
        self.classes = classes

    def report(self):
        lines = [super().report(), f"class set: {self.classes}"]
        if self.excluded:
            shown = ", ".join(f"{c} {n}" for c, n in self.excluded.items())
            lines.append(
                f"left out {count_noun(sum(self.excluded.values()), 'utterance')}"
                f" by code: {shown}"
            )
        if self.missing_audio:
            have = "has" if self.missing_audio == 1 else "have"
            lines.append(
                f"{count_noun(self.missing_audio, 'labelled utterance')} {have} "
                "no wav"
            )
        return "\n".join(lines)


def parse_utterance_id(name):
    """dict. The fields of an IEMOCAP utterance id (a file stem or name).

    Raises:
        DataError: not an IEMOCAP utterance id; one line naming it.

    Examples:
    ```python
    parse_utterance_id("Ses01F_impro01_M003")["speaker"]  # "Ses01M"
    ```
    """
    stem = os.path.basename(os.fspath(name))
    if stem.lower().endswith(AUDIO_EXTENSION):
        stem = stem[: -len(AUDIO_EXTENSION)]
    match = _UTTERANCE_RE.match(stem)
    if not match:
        raise DataError(f"{name}: not an IEMOCAP utterance name ({HINT})")
    dialog, session, _, _, kind, gender, _ = match.groups()
    session = int(session)
    if session not in SESSIONS:
        raise DataError(f"{name}: not an IEMOCAP utterance name: session "
                        f"{session:02d} is outside 01..05")
    return {
        "utterance": stem,
        "dialog": dialog,
        "session": session,
        "gender": GENDERS[gender],
        "speaker": f"Ses{session:02d}{gender}",
        "dialog_type": "improvised" if kind == "impro" else "scripted",
    }


def _read_labels(path):
    """dict. Utterance id -> (code, start, end, valence, activation, dominance)."""
    labels = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            match = _LABEL_RE.match(line.strip())
            if not match:
                continue
            start, end, utt, code, val, act, dom = match.groups()
            if code not in CODES:
                raise DataError(
                    f"{path}:{number}: unknown IEMOCAP emotion code {code!r} "
                    f"for {utt}; expected one of {', '.join(CODES)}"
                )
            labels[utt] = (code, float(start), float(end), float(val),
                           float(act), float(dom))
    return labels


def _read_transcripts(path):
    texts = {}
    if not os.path.isfile(path):
        return texts
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            match = _TRANSCRIPT_RE.match(line.strip())
            if match:
                texts[match.group(1)] = match.group(2).strip()
    return texts


def _session_dirs(root):
    sessions = {}
    for name in sorted(os.listdir(root)):
        match = _SESSION_DIR_RE.match(name)
        if match and os.path.isdir(os.path.join(root, name)):
            sessions[int(match.group(1))] = os.path.join(root, name)
    return sessions


def index_iemocap(root, skip_invalid=False, classes="4class"):
    """Index the IEMOCAP utterances under `IEMOCAP_full_release`.

    Args:
        root: str or path-like. The folder holding Session1 ... Session5.
        skip_invalid: bool. Skip wav files whose names are not IEMOCAP
            utterance ids, or that have no label, with one warning.
        classes: str. `"4class"` (neutral, happy = hap + exc, sad, angry)
            or `"all"` (every code but xxx).

    Returns:
        An `IemocapIndex` sorted by relative path; `excluded` counts the
        utterances left out by code.

    Raises:
        DataError: a missing root, no Session folders, a session without
            its wav or EmoEvaluation folder, a bad wav name, a wav in the
            wrong dialog or session folder, a wav without a label or an
            unknown code in an EmoEvaluation file.
    """
    root = os.fspath(root)
    if classes not in CLASS_SETS:
        raise DataError(f"unknown IEMOCAP class set {classes!r}: choose "
                        f"{' or '.join(CLASS_SETS)}")
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such folder; {LAYOUT}")
    sessions = _session_dirs(root)
    if not sessions:
        raise DataError(f"{root}: no Session1..Session5 folders; {LAYOUT}")
    mapping = CLASS_SETS[classes]
    clips, skipped = [], []
    excluded = collections.Counter()
    missing_audio = 0

    def bad(message, path):
        if not skip_invalid:
            raise DataError(f"{message}; rename or remove it, or pass "
                            "skip_invalid=True (--skip-invalid)")
        skipped.append(path)

    for session, session_dir in sessions.items():
        wav_dir = os.path.join(session_dir, "sentences", "wav")
        emo_dir = os.path.join(session_dir, "dialog", "EmoEvaluation")
        for folder in (wav_dir, emo_dir):
            if not os.path.isdir(folder):
                raise DataError(f"{folder}: no such folder; {LAYOUT}")
        labels = {}
        for name in sorted(os.listdir(emo_dir)):
            path = os.path.join(emo_dir, name)
            if name.startswith(".") or not name.endswith(".txt") or \
                    not os.path.isfile(path):
                continue
            labels.update(_read_labels(path))
        transcripts = {}
        text_dir = os.path.join(session_dir, "dialog", "transcriptions")
        if os.path.isdir(text_dir):
            for name in sorted(os.listdir(text_dir)):
                if name.endswith(".txt") and not name.startswith("."):
                    transcripts.update(
                        _read_transcripts(os.path.join(text_dir, name)))
        seen = set()
        for dirpath, dirnames, filenames in os.walk(wav_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith(".") or not filename.lower().endswith(
                        AUDIO_EXTENSION):
                    continue
                path = os.path.join(dirpath, filename)
                try:
                    info = parse_utterance_id(path)
                except DataError as error:
                    bad(str(error), path)
                    continue
                folder = os.path.relpath(dirpath, wav_dir)
                if info["session"] != session or folder != info["dialog"]:
                    bad(f"{path}: utterance {info['utterance']} belongs in "
                        f"Session{info['session']}/sentences/wav/"
                        f"{info['dialog']}/", path)
                    continue
                record = labels.get(info["utterance"])
                if record is None:
                    bad(f"{path}: no label for {info['utterance']} in "
                        f"{emo_dir}/{info['dialog']}.txt", path)
                    continue
                seen.add(info["utterance"])
                code, start, end, val, act, dom = record
                if code not in mapping:
                    excluded[code] += 1
                    continue
                metadata = dict(info, emotion_code=code, start=start, end=end,
                                valence=val, activation=act, dominance=dom)
                del metadata["speaker"]
                if info["utterance"] in transcripts:
                    metadata["text"] = transcripts[info["utterance"]]
                clips.append((os.path.relpath(path, root), path, mapping[code],
                              info["speaker"], metadata))
        missing_audio += len(set(labels) - seen)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} IEMOCAP files with invalid "
                      "names or no label", stacklevel=2)
    if not clips:
        raise DataError(f"{root}: no labelled IEMOCAP utterances of class set "
                        f"{classes} found; {LAYOUT}")
    clips.sort(key=lambda c: c[0])
    return IemocapIndex(
        [Utterance(path, label, speaker, meta)
         for _, path, label, speaker, meta in clips],
        LABEL_NAMES[classes], root=root, skipped=skipped, excluded=excluded,
        missing_audio=missing_audio, classes=classes,
    )


def loso_folds(index=None):
    """The 5 leave-one-session-out folds: fold k tests session k, validates
    on session k+1 (wrapping), trains on the other three sessions."""
    folds = []
    for k in SESSIONS:
        nxt = k % len(SESSIONS) + 1
        test = [f"Ses{k:02d}{g}" for g in "FM"]
        val = [f"Ses{nxt:02d}{g}" for g in "FM"]
        train = [s for s in SPEAKERS if s not in test and s not in val]
        folds.append(Fold(k, train, val, test, protocol="loso"))
    return folds


def loso_speaker_folds(index=None):
    """The 10 leave-one-speaker-out folds: fold i tests `SPEAKERS[i-1]` and
    validates on the other actor of its session; 8 actors train."""
    folds = []
    for i, speaker in enumerate(SPEAKERS, start=1):
        partner = speaker[:-1] + ("M" if speaker.endswith("F") else "F")
        train = [s for s in SPEAKERS if s not in (speaker, partner)]
        folds.append(Fold(i, train, [partner], [speaker],
                          protocol="loso-speaker"))
    return folds


def synthesize(root, speakers=None, sample_rate=16000, clip_seconds=0.5,
               seed=0, overwrite=False):
    """Write a small synthetic IEMOCAP (every session, two dialogs each,
    every code) and return `index_iemocap(root)`.

    Args:
        speakers: None (all 10 actors), an int n (the first n of
            `SPEAKERS`) or an iterable of speaker ids.
    """
    from kser.data.synthesis import SyntheticFile
    from kser.data.synthesis import write_synthetic_tree

    if speakers is None:
        chosen = SPEAKERS
    elif isinstance(speakers, int):
        if not 1 <= speakers <= len(SPEAKERS):
            raise DataError(f"IEMOCAP has 1..{len(SPEAKERS)} speakers, "
                            f"not {speakers}")
        chosen = SPEAKERS[:speakers]
    else:
        chosen = tuple(speakers)
        unknown = sorted(set(chosen) - set(SPEAKERS))
        if unknown:
            raise DataError(f"unknown IEMOCAP speakers {unknown}: choose from "
                            f"{', '.join(SPEAKERS)}")
    voiced = dict(CLASS_SETS["all"], xxx="neutral")
    extras = ("fru", "fea", "sur", "dis", "oth", "xxx")
    files, texts = [], {}
    for session in SESSIONS:
        if not {f"Ses{session:02d}F", f"Ses{session:02d}M"} & set(chosen):
            continue
        for d, dialog in enumerate((f"Ses{session:02d}F_impro01",
                                    f"Ses{session:02d}M_script01_1")):
            labels = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]",
                      ""]
            lines = []
            for g in "FM":
                speaker = f"Ses{session:02d}{g}"
                if speaker not in chosen:
                    continue
                extra = extras[(2 * session + d + (g == "M")) % len(extras)]
                for n, code in enumerate(("neu", "hap", "exc", "sad", "ang",
                                          extra)):
                    utt = f"{dialog}_{g}{n:03d}"
                    start = 1.5 + 3 * n + (0.25 if g == "M" else 0)
                    labels += [f"[{start:.4f} - {start + 2:.4f}]\t{utt}\t{code}"
                               f"\t[2.5000, 3.0000, 3.5000]",
                               f"C-E1:\t{code};\t()", ""]
                    lines.append(f"{utt} [{start:08.4f}-{start + 2:08.4f}]: "
                                 f"Synthetic line {n}.")
                    files.append(SyntheticFile(
                        f"Session{session}/sentences/wav/{dialog}/{utt}.wav",
                        voiced[code], speaker, female=g == "F", take=n + d))
            base = f"Session{session}/dialog"
            texts[f"{base}/EmoEvaluation/{dialog}.txt"] = "\n".join(labels)
            texts[f"{base}/transcriptions/{dialog}.txt"] = "\n".join(lines)
    write_synthetic_tree(root, files, texts, sample_rate=sample_rate,
                         clip_seconds=clip_seconds, seed=seed,
                         overwrite=overwrite,
                         generator="kser.data.corpora.iemocap")
    return index_iemocap(root)


# The corpus registry's entry (`kser.data.corpora.CORPORA["iemocap"]`).
CORPUS = Corpus(
    "iemocap",
    label_names=LABEL_NAMES["4class"],
    index_fn=index_iemocap,
    protocols={"loso": loso_folds, "loso-speaker": loso_speaker_folds},
    default_protocol="loso",
    description=("IEMOCAP: 5 sessions x 2 actors, 4 classes (hap+exc merged) "
                 "or all codes"),
    synthesize_fn=synthesize,
)
