"""Synthetic stand-ins for any corpus layout: one utterance of a canonical
label by a named speaker, and an atomic writer for a whole folder tree.

A corpus module's `synthesize(root, ...)` lists what its layout holds
(relative paths, labels, speakers, extra text files such as label tables)
and calls `write_synthetic_tree`; the audio comes from the same voice and
prosody model as the synthetic RAVDESS (`kser.data.synthetic`), so labels
are audible, speakers differ, and the same seed gives the same corpus.

Examples:
```python
from kser.data.synthesis import SyntheticFile, write_synthetic_tree

write_synthetic_tree("tiny", [
    SyntheticFile("a/spk1_angry.wav", "angry", "spk1", female=False),
    SyntheticFile("a/spk2_sad.wav", "sad", "spk2", female=True, take=1),
], texts={"labels.csv": "path,label\\n"})
```
"""

import dataclasses
import json
import os
import shutil
import tempfile
import zlib

from kser.errors import DataError
from kser.labels import PAPER_EMOTIONS
from kser.labels import check_label

# Canonical labels outside RAVDESS's eight are voiced as their nearest
# RAVDESS emotion (the synthetic audio needs some prosody for each).
_VOICED_AS = {
    "boredom": "calm",
    "contempt": "disgust",
    "excited": "happy",
    "frustrated": "angry",
    "pleasant_surprise": "surprised",
    "other": "neutral",
}
MANIFEST = "kser-synth.json"


@dataclasses.dataclass(frozen=True)
class SyntheticFile:
    """One audio file of a synthetic corpus.

    Args:
        path: str. Relative path inside the corpus root (`/` separated).
        label: str. A canonical label name.
        speaker: str or int. Who speaks (sets the voice).
        female: bool. The voice's register.
        take: int. Varies statement, repetition and intensity.
    """

    path: str
    label: str
    speaker: object
    female: bool = False
    take: int = 0


def speaker_actor(speaker, female):
    """int. A RAVDESS actor number (1..24, odd male, even female) standing
    in for any speaker name, stable across runs."""
    slot = zlib.crc32(str(speaker).encode("utf-8")) % 12
    return 2 * slot + (2 if female else 1)


def synthesize_utterance(label, speaker, female=False, take=0,
                         sample_rate=16000, clip_seconds=0.5, seed=0):
    """A 1D float32 waveform of `speaker` saying something in `label`.

    Args:
        label: str. A canonical label name.
        speaker: str or int. The speaker (same name, same voice).
        female: bool. Voice register.
        take: int. Which take (varies wording, repetition, intensity).
        sample_rate: int. 8000 to 48000.
        clip_seconds: float. Typical length.
        seed: int. Corpus seed.
    """
    from kser.data.corpora.ravdess import RavdessFile
    from kser.data.synthetic import synthesize_clip

    check_label(label)
    name = _VOICED_AS.get(label, label)
    emotion = PAPER_EMOTIONS.index(name) + 1
    take = int(take)
    clip = RavdessFile(
        modality=3,
        vocal_channel=1,
        emotion=emotion,
        intensity=1 if emotion == 1 else 1 + (take // 4) % 2,
        statement=1 + take % 2,
        repetition=1 + (take // 2) % 2,
        actor=speaker_actor(speaker, female),
    )
    return synthesize_clip(clip, sample_rate, clip_seconds, seed)


def write_synthetic_tree(out_dir, files, texts=None, sample_rate=16000,
                         clip_seconds=0.5, seed=0, overwrite=False,
                         generator="kser.data.synthesis"):
    """Write a synthetic corpus tree atomically; returns `out_dir`.

    The tree is built in a temporary folder beside `out_dir` and renamed
    into place, so `out_dir` never holds a partial corpus.

    Args:
        out_dir: str. The corpus root; must not exist or be empty unless
            `overwrite`.
        files: iterable of `SyntheticFile`.
        texts: dict or None. Relative path -> text content (label files,
            manifests).
        sample_rate, clip_seconds, seed: the audio (see
            `synthesize_utterance`).
        overwrite: bool. Replace an existing `out_dir`.
        generator: str. Recorded in `kser-synth.json`.
    """
    import soundfile

    rate = int(sample_rate)
    if not 8000 <= rate <= 48000:
        raise DataError(f"sample rate must be 8000 to 48000 Hz, got {sample_rate}")
    if not float(clip_seconds) >= 0.2:
        raise DataError(f"clip length must be at least 0.2 s, got {clip_seconds}")
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise DataError(f"{out_dir}: exists and is not a folder; choose another path")
        if os.listdir(out_dir) and not overwrite:
            raise DataError(
                f"{out_dir}: already exists and is not empty; pass --overwrite "
                "or choose another folder"
            )
    files = list(files)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".kser-synth-", dir=parent)
    try:
        for item in files:
            path = os.path.join(tmp, *item.path.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            audio = synthesize_utterance(
                item.label, item.speaker, item.female, item.take, rate,
                clip_seconds, seed,
            )
            soundfile.write(path, audio, rate, subtype="PCM_16")
        for rel, text in (texts or {}).items():
            path = os.path.join(tmp, *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump({"generator": generator, "seed": int(seed),
                       "sample_rate": rate, "clip_seconds": float(clip_seconds),
                       "num_files": len(files)}, f, indent=2)
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".kser-synth-old-", dir=parent)
            os.rename(out_dir, os.path.join(old, "corpus"))
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
