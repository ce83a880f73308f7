"""A synthetic RAVDESS: seeded, speech-like audio in the RAVDESS layout.

Real RAVDESS cannot be downloaded here, so tests, the quickstart and the
docs use this stand-in. Each clip is a source-filter synthesis of the
clip's statement: seven voiced syllables (a glottal pulse train through
three formant resonators) with noise-burst consonants. Emotion and
intensity shape the prosody (pitch level and range, tempo, loudness,
spectral tilt, jitter, breathiness, final contour); actors differ in
voice (odd male, even female, base pitch, formant scale, habits) and in
how they act each emotion; the two statements differ in vowels and
rhythm. Every prosodic cue is blurred by per-actor and per-clip variation,
so the classes overlap: a model is clearly above chance (1/8) on unseen
actors but far from perfect.

Every clip is seeded by (seed, actor, emotion, intensity, statement,
repetition), so a file is the same whichever actors are generated.
"""

import json
import os
import shutil
import tempfile

import numpy as np

from kser import __version__
from kser.data.ravdess import ACTORS
from kser.data.ravdess import NUM_EMOTIONS
from kser.data.ravdess import RavdessFile
from kser.data.ravdess import expected_speech_clips
from kser.data.ravdess import index_ravdess
from kser.errors import DataError

DEFAULT_SAMPLE_RATE = 16000
# About the length of a RAVDESS speech clip (3 to 5 s, ~1.5 s of speech).
DEFAULT_CLIP_SECONDS = 3.5
MANIFEST = "kser-synth.json"
# 2: clip lengths follow real RAVDESS (silence added around the speech).
GENERATOR_VERSION = 2
# Real RAVDESS speech clips (EmoBox's published metadata, 1440 clips):
# mean 3.70 s, median 3.67 s, max 5.27 s. The rendered speech and pauses
# of this generator at DEFAULT_CLIP_SECONDS last 3.39 s on average (median
# 3.37, max 4.70); each clip gets silence so that its length L becomes
# REAL_MEAN + LENGTH_SPREAD * (L - RENDERED_MEAN), which matches the real
# mean, median (3.67) and maximum (5.30) while keeping which clips are
# long (slow, sad takes) and which short. All scale with clip_seconds.
REAL_MEAN_SECONDS = 3.70
RENDERED_MEAN_SECONDS = 3.39
LENGTH_SPREAD = 1.2

# Male-voice formants (F1, F2, F3) in Hz; female voices scale them up.
_VOWELS = {
    "ih": (400.0, 1900.0, 2550.0),
    "aa": (730.0, 1090.0, 2440.0),
    "ao": (570.0, 840.0, 2410.0),
    "ay": (680.0, 1350.0, 2500.0),
    "ah": (520.0, 1400.0, 2500.0),
    "r": (450.0, 1150.0, 1650.0),
    "ng": (300.0, 1000.0, 2300.0),
}
_BANDWIDTHS = (90.0, 110.0, 160.0)
# Consonants as noise bursts: (centre Hz, bandwidth Hz, ms, level, voiced).
_CONSONANTS = {
    "k": (2400.0, 1200.0, 45.0, 0.35, False),
    "t": (4200.0, 2200.0, 40.0, 0.35, False),
    "s": (5500.0, 2500.0, 110.0, 0.30, False),
    "d": (3200.0, 2000.0, 20.0, 0.25, True),
    "b": (1100.0, 900.0, 15.0, 0.25, True),
    "dh": (3800.0, 2500.0, 45.0, 0.12, True),
    "dz": (5000.0, 2500.0, 80.0, 0.20, True),
    "gz": (4800.0, 2500.0, 80.0, 0.20, True),
}
# (onset, vowel, coda, ms at neutral tempo, stress 0..1, pause after in ms)
_STATEMENTS = {
    # "Kids are talking by the door": KIDS are TALKing BY the DOOR.
    1: (
        ("k", "ih", "dz", 210.0, 1.0, 70.0),
        (None, "aa", "r", 110.0, 0.15, 0.0),
        ("t", "ao", None, 190.0, 0.8, 0.0),
        ("k", "ih", "ng", 120.0, 0.25, 40.0),
        ("b", "ay", None, 190.0, 0.6, 0.0),
        ("dh", "ah", None, 70.0, 0.05, 0.0),
        ("d", "ao", "r", 360.0, 0.9, 0.0),
    ),
    # "Dogs are sitting by the door": DOGS are SITting by the DOOR, a longer
    # first word and the pause after "are".
    2: (
        ("d", "ao", "gz", 300.0, 1.0, 0.0),
        (None, "aa", "r", 120.0, 0.2, 110.0),
        ("s", "ih", None, 170.0, 0.75, 0.0),
        ("t", "ih", "ng", 130.0, 0.2, 0.0),
        ("b", "ay", None, 150.0, 0.3, 0.0),
        ("dh", "ah", None, 70.0, 0.05, 0.0),
        ("d", "ao", "r", 400.0, 0.85, 0.0),
    ),
}

# Prosody per emotion (code order) relative to a neutral voice:
# pitch shift (semitones), pitch range (factor), tempo (factor),
# loudness (dB), spectral tilt (+ brighter, - darker voice), jitter
# (fraction of f0), breathiness (noise level), final glide (semitones).
_PROSODY_FIELDS = (
    "pitch",
    "range",
    "tempo",
    "loud",
    "tilt",
    "jitter",
    "breath",
    "final",
)
_LOG_FIELDS = ("range", "tempo", "jitter", "breath")
_PROSODY = {
    1: (0.0, 1.00, 1.00, 0.0, 0.0, 0.006, 0.03, -2.0),  # neutral
    2: (-0.8, 0.85, 0.93, -2.5, -1.5, 0.006, 0.05, -2.5),  # calm
    3: (2.5, 1.40, 1.07, 2.5, 1.5, 0.008, 0.03, 1.0),  # happy
    4: (-1.5, 0.65, 0.84, -4.0, -2.5, 0.012, 0.07, -3.5),  # sad
    5: (2.0, 1.30, 1.10, 5.5, 3.5, 0.014, 0.02, -3.0),  # angry
    6: (4.5, 1.10, 1.13, 1.0, 1.0, 0.022, 0.06, 0.5),  # fearful
    7: (-1.0, 1.20, 0.86, 1.0, 0.5, 0.014, 0.04, -4.5),  # disgust
    8: (3.5, 1.70, 1.00, 2.0, 1.5, 0.008, 0.04, 5.0),  # surprised
}
# Strong intensity exaggerates the departure from neutral.
_STRONG_GAIN = 1.6
# How much an actor's way of acting an emotion, and one take, vary
# (standard deviations in each field's units; log fields in log units).
_ACTOR_SPREAD = dict(
    pitch=1.2,
    range=0.15,
    tempo=0.05,
    loud=1.5,
    tilt=1.0,
    jitter=0.25,
    breath=0.3,
    final=1.5,
)
_TAKE_SPREAD = dict(
    pitch=1.0,
    range=0.15,
    tempo=0.06,
    loud=1.5,
    tilt=1.0,
    jitter=0.25,
    breath=0.3,
    final=1.5,
)


def actor_voice(actor, seed=0):
    """dict. The voice of a synthetic actor: odd male, even female.

    Args:
        actor: int. 1..24.
        seed: int. Corpus seed.
    """
    rng = np.random.default_rng([int(seed), int(actor), 0xA])
    male = actor % 2 == 1
    return {
        "f0": float((118.0 if male else 210.0) * np.exp(rng.normal(0.0, 0.1))),
        "formant_scale": float(
            (1.0 if male else 1.16) * np.exp(rng.normal(0.0, 0.035))
        ),
        # Habits: how expressive the actor is and their usual delivery.
        "expressiveness": float(rng.uniform(0.6, 1.3)),
        "tempo": float(np.exp(rng.normal(0.0, 0.06))),
        "loud": float(rng.normal(0.0, 2.0)),
        "tilt": float(rng.normal(0.0, 1.2)),
        "jitter": float(0.004 * np.exp(rng.normal(0.0, 0.3))),
        "breath": float(0.02 * np.exp(rng.normal(0.0, 0.4))),
    }


def _vary(params, spread, rng, scale=1.0):
    out = dict(params)
    for field in _PROSODY_FIELDS:
        delta = rng.normal(0.0, spread[field] * scale)
        if field in _LOG_FIELDS:
            out[field] = out[field] * float(np.exp(delta))
        else:
            out[field] = out[field] + float(delta)
    return out


def clip_prosody(clip, seed=0):
    """dict. The prosody parameters a synthetic clip is rendered with.

    Neutral prosody, moved towards the emotion (more for strong
    intensity, scaled by the actor's expressiveness), then varied by the
    actor's own way of acting that emotion and by the take.

    Args:
        clip: `RavdessFile`. Which clip.
        seed: int. Corpus seed.
    """
    voice = actor_voice(clip.actor, seed)
    neutral = dict(zip(_PROSODY_FIELDS, _PROSODY[1]))
    target = dict(zip(_PROSODY_FIELDS, _PROSODY[clip.emotion]))
    gain = voice["expressiveness"] * (
        _STRONG_GAIN if clip.intensity == 2 else 1.0
    )
    params = {}
    for field in _PROSODY_FIELDS:
        if field in _LOG_FIELDS:
            ratio = np.log(target[field] / neutral[field])
            params[field] = float(neutral[field] * np.exp(gain * ratio))
        else:
            params[field] = float(
                neutral[field] + gain * (target[field] - neutral[field])
            )
    style_rng = np.random.default_rng(
        [int(seed), clip.actor, clip.emotion, 0xE]
    )
    params = _vary(params, _ACTOR_SPREAD, style_rng)
    take_rng = np.random.default_rng(
        [
            int(seed),
            clip.actor,
            clip.emotion,
            clip.intensity,
            clip.statement,
            clip.repetition,
        ]
    )
    params = _vary(params, _TAKE_SPREAD, take_rng)
    params["tempo"] *= voice["tempo"]
    params["loud"] += voice["loud"]
    params["tilt"] += voice["tilt"]
    params["jitter"] += voice["jitter"]
    params["breath"] += voice["breath"]
    # Recording gain of the take, unrelated to emotion.
    params["gain"] = float(take_rng.uniform(-2.5, 2.5))
    params["take_seed"] = int(take_rng.integers(2**31))
    return params


def _resonator(signal, freq, bandwidth, rate):
    from scipy.signal import lfilter

    if freq >= 0.45 * rate:
        return signal
    r = np.exp(-np.pi * bandwidth / rate)
    theta = 2.0 * np.pi * freq / rate
    a = [1.0, -2.0 * r * np.cos(theta), r * r]
    # Unity gain at 0 Hz, like a cascade formant synthesiser.
    b = [1.0 - 2.0 * r * np.cos(theta) + r * r]
    return lfilter(b, a, signal)


def _envelope(n, rate, attack=0.012, release=0.03):
    env = np.ones(n)
    a = min(n // 2, max(1, int(attack * rate)))
    r = min(n - a, max(1, int(release * rate)))
    env[:a] = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, a))
    env[n - r :] = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, r))
    return env


def _consonant(name, rate, time_scale, rng):
    centre, bandwidth, ms, level, _ = _CONSONANTS[name]
    n = max(8, int(ms / 1000.0 * time_scale * rate))
    burst = rng.standard_normal(n)
    centre = min(centre, 0.4 * rate)
    burst = _resonator(burst, centre, bandwidth, rate)
    burst *= _envelope(n, rate, attack=0.004, release=0.01)
    return level * burst / (np.sqrt(np.mean(burst**2)) + 1e-9)


def _voiced(vowel, n, f0_start, f0_end, params, voice, stress, rate, rng):
    """One voiced segment: pulse train with jitter through formants."""
    t = np.arange(n) / rate
    # A stressed syllable rises and falls in pitch; `range` scales it.
    hump = (
        stress
        * 2.5
        * params["range"]
        * np.sin(np.pi * np.arange(n) / max(n - 1, 1))
    )
    semitones = np.linspace(0.0, 12.0 * np.log2(f0_end / f0_start), n) + hump
    # Jitter: period-to-period pitch wobble, held over ~5 ms blocks.
    block = max(1, int(0.005 * rate))
    wobble = rng.standard_normal(n // block + 2)
    wobble = np.repeat(wobble, block)[:n]
    f0 = (
        f0_start * 2.0 ** (semitones / 12.0) * (1.0 + params["jitter"] * wobble)
    )
    # Fearful-style tremor comes with high jitter: a 6 Hz pitch vibrato.
    f0 *= 1.0 + 0.5 * params["jitter"] * np.sin(2.0 * np.pi * 6.0 * t)
    phase = 2.0 * np.pi * np.cumsum(f0) / rate
    # A smooth periodic pulse; sharper pulses (larger k) have a flatter
    # spectrum, so the tilt setting sets k. Its derivative adds the
    # +6 dB/octave of lip radiation.
    k = 6.0 * 2.0 ** (params["tilt"] / 3.0)
    pulse = np.exp(k * (np.cos(phase) - 1.0))
    source = np.diff(pulse, prepend=pulse[0])
    source /= np.sqrt(np.mean(source**2)) + 1e-9
    breath = rng.standard_normal(n) * params["breath"] * (0.5 + pulse)
    source = source + 8.0 * breath
    shimmer = (
        1.0
        + 2.0
        * params["jitter"]
        * np.repeat(rng.standard_normal(n // block + 2), block)[:n]
    )
    source *= shimmer
    out = source
    for formant, bandwidth in zip(_VOWELS[vowel], _BANDWIDTHS):
        out = _resonator(out, formant * voice["formant_scale"], bandwidth, rate)
    out *= _envelope(n, rate)
    return out / (np.sqrt(np.mean(out**2)) + 1e-9) * (0.6 + 0.6 * stress)


def synthesize_clip(
    clip,
    sample_rate=DEFAULT_SAMPLE_RATE,
    clip_seconds=DEFAULT_CLIP_SECONDS,
    seed=0,
):
    """Render one synthetic RAVDESS clip.

    Args:
        clip: `RavdessFile`. Which clip (actor, emotion, intensity,
            statement, repetition).
        sample_rate: int. Output sample rate, 8000 to 48000.
        clip_seconds: float. Typical clip length; all durations scale with
            it, and a clip's actual length varies with its tempo.
        seed: int. Corpus seed.

    Returns:
        A 1D float32 array in [-1, 1].

    Examples:
    ```python
    clip = parse_filename("03-01-05-02-01-01-01.wav")  # angry, strong
    audio = synthesize_clip(clip, sample_rate=16000)
    ```
    """
    rate = int(sample_rate)
    voice = actor_voice(clip.actor, seed)
    params = clip_prosody(clip, seed)
    rng = np.random.default_rng(params["take_seed"])
    time_scale = float(clip_seconds) / DEFAULT_CLIP_SECONDS
    stretch = time_scale / params["tempo"]
    syllables = _STATEMENTS[clip.statement]
    base_f0 = voice["f0"] * 2.0 ** (params["pitch"] / 12.0)
    # Declination across the utterance, then the emotion's final glide.
    targets = [
        base_f0
        * 2.0 ** ((-1.5 * params["range"] * j / (len(syllables) - 1)) / 12.0)
        for j in range(len(syllables) + 1)
    ]
    targets[-1] = targets[-2] * 2.0 ** (params["final"] / 12.0)

    pieces = [np.zeros(int(rng.uniform(0.6, 0.9) * time_scale * rate))]
    for j, (onset, vowel, coda, ms, stress, pause) in enumerate(syllables):
        if onset:
            pieces.append(_consonant(onset, rate, stretch, rng))
        n = max(
            16,
            int(
                ms
                / 1000.0
                * stretch
                * (1.0 + 0.08 * rng.standard_normal())
                * rate
            ),
        )
        if coda in ("r", "ng"):
            # Liquids and nasals: keep voicing, glide to other formants.
            split = int(0.7 * n)
            pieces.append(
                _voiced(
                    vowel,
                    split,
                    targets[j],
                    targets[j + 1],
                    params,
                    voice,
                    stress,
                    rate,
                    rng,
                )
            )
            pieces.append(
                0.5
                * _voiced(
                    coda,
                    n - split,
                    targets[j + 1],
                    targets[j + 1],
                    params,
                    voice,
                    0.0,
                    rate,
                    rng,
                )
            )
        else:
            pieces.append(
                _voiced(
                    vowel,
                    n,
                    targets[j],
                    targets[j + 1],
                    params,
                    voice,
                    stress,
                    rate,
                    rng,
                )
            )
            if coda:
                pieces.append(_consonant(coda, rate, stretch, rng))
        gap = (pause + rng.uniform(5.0, 25.0)) / 1000.0 * stretch
        pieces.append(np.zeros(int(gap * rate)))
    pieces.append(np.zeros(int(rng.uniform(0.6, 1.0) * time_scale * rate)))
    rendered = sum(len(p) for p in pieces) / rate / time_scale
    extra = (REAL_MEAN_SECONDS - RENDERED_MEAN_SECONDS
             + (LENGTH_SPREAD - 1.0) * (rendered - RENDERED_MEAN_SECONDS))
    # Two fifths before the speech, the rest after (no random draw, so the
    # speech itself is what it was before lengths were matched).
    lead = int(max(extra, 0.0) * 0.4 * time_scale * rate)
    tail = int(max(extra, 0.0) * 0.6 * time_scale * rate)
    pieces = [np.zeros(lead), *pieces, np.zeros(tail)]
    audio = np.concatenate(pieces)

    speech = np.abs(audio) > 0
    speech_rms = np.sqrt(np.mean(audio[speech] ** 2)) if speech.any() else 1.0
    level_db = -24.0 + params["loud"] + params["gain"]
    audio = audio / speech_rms * 10.0 ** (level_db / 20.0)
    # Room noise floor, as in any recording.
    audio += rng.standard_normal(len(audio)) * 10.0 ** (-62.0 / 20.0)
    # Soft limiter: loud takes saturate instead of wrapping around.
    peak = 0.95
    loud = np.abs(audio) > peak * 0.8
    if loud.any():
        knee = peak * 0.8
        over = np.abs(audio[loud]) - knee
        audio[loud] = np.sign(audio[loud]) * (
            knee + (peak - knee) * np.tanh(over / (peak - knee))
        )
    return audio.astype(np.float32)


def parse_actors(spec):
    """tuple of int. Actors from `"1-24"`, `"1,2,5-8"` or `4` (actors 1-4)."""
    if spec is None:
        return ACTORS
    if isinstance(spec, int):
        if not 1 <= spec <= len(ACTORS):
            raise DataError(f"bad actor count {spec}: choose 1..{len(ACTORS)}")
        return tuple(range(1, spec + 1))
    if not isinstance(spec, str):
        actors = tuple(sorted({int(a) for a in spec}))
    else:
        actors = set()
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            try:
                if "-" in part:
                    lo, hi = (int(x) for x in part.split("-", 1))
                    actors.update(range(lo, hi + 1))
                else:
                    actors.add(int(part))
            except ValueError:
                raise DataError(
                    f"bad actor list {spec!r}: use numbers and ranges like 1-4,7"
                ) from None
        actors = tuple(sorted(actors))
    bad = [a for a in actors if a not in ACTORS]
    if not actors or bad:
        raise DataError(f"bad actor list {spec!r}: actors are 1..{len(ACTORS)}")
    return actors


def write_corpus(
    out_dir,
    actors=None,
    sample_rate=DEFAULT_SAMPLE_RATE,
    clip_seconds=DEFAULT_CLIP_SECONDS,
    seed=0,
    overwrite=False,
    progress=False,
):
    """Write a synthetic RAVDESS speech corpus: `Actor_NN/03-01-...-NN.wav`.

    60 clips per actor with RAVDESS's emotion, intensity, statement and
    repetition counts, as 16-bit PCM WAV, plus a `kser-synth.json` manifest.
    The corpus is built in a temporary folder and renamed into place, so
    `out_dir` never holds a partial corpus.

    Args:
        out_dir: str or path-like. The corpus folder; must not exist (or be
            empty) unless `overwrite`.
        actors: int, str or iterable of int, or None. Which actors: None
            for all 24, an int N for actors 1..N, or a spec like `"1-4,9"`.
        sample_rate: int. 8000 to 48000 Hz (RAVDESS itself is 48000).
        clip_seconds: float. Typical clip length in seconds (at least 0.2).
        seed: int. Same seed, same corpus.
        overwrite: bool. Replace an existing `out_dir`.
        progress: bool. Show a progress bar.

    Returns:
        The `RavdessIndex` of the written corpus.

    Examples:
    ```python
    index = write_corpus("synthetic-ravdess", actors=4, clip_seconds=1.0)
    len(index)  # 240
    ```
    """
    import soundfile

    actors = parse_actors(actors)
    rate = int(sample_rate)
    if not 8000 <= rate <= 48000:
        raise DataError(
            f"sample rate must be 8000 to 48000 Hz, got {sample_rate}"
        )
    if not float(clip_seconds) >= 0.2:
        raise DataError(
            f"clip length must be at least 0.2 s, got {clip_seconds}"
        )
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise DataError(
                f"{out_dir}: exists and is not a folder; choose another path"
            )
        if os.listdir(out_dir) and not overwrite:
            raise DataError(
                f"{out_dir}: already exists and is not empty; pass --overwrite "
                "or choose another folder"
            )
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".kser-synth-", dir=parent)
    try:
        clips = [
            clip for actor in actors for clip in expected_speech_clips(actor)
        ]
        iterator = clips
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(clips, desc="synthesizing", unit="clip")
        for clip in iterator:
            folder = os.path.join(tmp, f"Actor_{clip.actor:02d}")
            os.makedirs(folder, exist_ok=True)
            audio = synthesize_clip(clip, rate, clip_seconds, seed)
            soundfile.write(
                os.path.join(folder, clip.name), audio, rate, subtype="PCM_16"
            )
        manifest = {
            "generator": "kser.data.synthetic",
            "generator_version": GENERATOR_VERSION,
            "kser_version": __version__,
            "seed": int(seed),
            "sample_rate": rate,
            "clip_seconds": float(clip_seconds),
            "actors": list(actors),
            "num_files": len(clips),
        }
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2)
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
    return index_ravdess(out_dir)


def make_clip(actor, emotion, intensity=1, statement=1, repetition=1):
    """A `RavdessFile` for an audio-only speech clip (no path)."""
    if not 1 <= emotion <= NUM_EMOTIONS:
        raise DataError(f"emotion must be 1..{NUM_EMOTIONS}, got {emotion}")
    return RavdessFile(3, 1, emotion, intensity, statement, repetition, actor)
