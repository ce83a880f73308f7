import warnings

import pytest

from kser.data.ravdess import ACTORS
from kser.data.ravdess import CLIPS_PER_ACTOR
from kser.data.ravdess import EMOTIONS
from kser.data.ravdess import NUM_SPEECH_CLIPS
from kser.data.ravdess import RavdessFile
from kser.data.ravdess import expected_speech_clips
from kser.data.ravdess import index_ravdess
from kser.data.ravdess import parse_filename
from kser.errors import DataError
from kser.errors import KserError
from tests.data.conftest import touch


def test_constants():
    assert EMOTIONS == (
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
    )
    assert ACTORS == tuple(range(1, 25))
    assert CLIPS_PER_ACTOR == 60 and NUM_SPEECH_CLIPS == 1440


def test_parse_paper_example():
    clip = parse_filename("some/dir/03-01-06-01-02-01-12.wav")
    assert (
        clip.modality,
        clip.vocal_channel,
        clip.emotion,
        clip.intensity,
    ) == (3, 1, 6, 1)
    assert (clip.statement, clip.repetition, clip.actor) == (2, 1, 12)
    assert clip.emotion_name == "fearful" and clip.label == 5
    assert clip.gender == "female"
    assert clip.path == "some/dir/03-01-06-01-02-01-12.wav"
    assert clip.name == "03-01-06-01-02-01-12.wav"
    assert parse_filename("03-01-08-02-01-02-01.WAV").gender == "male"


def test_parse_other_modalities_and_song():
    assert parse_filename("01-02-06-02-01-01-24.wav").vocal_channel == 2
    assert parse_filename("02-01-01-01-01-01-07.wav").modality == 2


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("03-01-06-01-02-01-12.mp4", "not a RAVDESS audio file name"),
        ("03-01-06-01-02-01.wav", "not a RAVDESS file name"),
        ("03-01-06-01-02-01-12-01.wav", "not a RAVDESS file name"),
        ("3-1-6-1-2-1-12.wav", "not a RAVDESS file name"),
        ("recording.wav", "not a RAVDESS file name"),
        ("04-01-06-01-02-01-12.wav", "modality 04"),
        ("03-03-06-01-02-01-12.wav", "vocal channel 03"),
        ("03-01-09-01-02-01-12.wav", "emotion 09"),
        ("03-01-00-01-02-01-12.wav", "emotion 00"),
        ("03-01-06-03-02-01-12.wav", "intensity 03"),
        ("03-01-06-01-03-01-12.wav", "statement 03"),
        ("03-01-06-01-02-03-12.wav", "repetition 03"),
        ("03-01-06-01-02-01-25.wav", "actor 25"),
        ("03-01-06-01-02-01-00.wav", "actor 00"),
        ("03-01-01-02-01-01-12.wav", "neutral (emotion 01) has no strong"),
        (
            "03-02-08-01-01-01-12.wav",
            "song (vocal channel 02) has no surprised",
        ),
    ],
)
def test_parse_bad_names(name, fragment):
    with pytest.raises(DataError) as info:
        parse_filename(f"data/{name}")
    message = str(info.value)
    assert f"data/{name}" in message and fragment in message
    assert "\n" not in message
    assert isinstance(info.value, KserError)


def test_expected_speech_clips_counts():
    clips = expected_speech_clips(7)
    assert len(clips) == 60 and len(set(clips)) == 60
    per_emotion = {e: sum(c.emotion_name == e for c in clips) for e in EMOTIONS}
    assert per_emotion == {e: (4 if e == "neutral" else 8) for e in EMOTIONS}
    assert all(
        c.actor == 7 and c.modality == 3 and c.vocal_channel == 1 for c in clips
    )


def _write_actor(root, actor, actor_folder=True, clips=None):
    for clip in clips or expected_speech_clips(actor):
        folder = root / f"Actor_{actor:02d}" if actor_folder else root
        touch(folder / clip.name)


def test_index_actor_folders_complete(tmp_path):
    for actor in ACTORS:
        _write_actor(tmp_path, actor)
    index = index_ravdess(tmp_path, require_complete=True)
    assert len(index) == 1440 and index.layout == "actor-folders"
    assert index.is_complete_speech_set()
    assert index.actor_counts() == {a: 60 for a in ACTORS}
    assert index.emotion_counts()["neutral"] == 96
    assert "complete speech set: 24 actors x 60 clips = 1440" in index.report()
    assert index.labels[:4] == [0, 0, 0, 0]


def test_index_flat_and_nested_layouts(tmp_path):
    flat = tmp_path / "flat"
    _write_actor(flat, 1, actor_folder=False)
    _write_actor(flat, 2, actor_folder=False)
    index = index_ravdess(flat)
    assert index.layout == "flat" and len(index) == 120
    assert index.actors == (1, 2)

    nested = tmp_path / "nested"
    _write_actor(nested / "Audio_Speech_Actors_01-24", 3)
    index = index_ravdess(nested)
    assert index.layout == "actor-folders" and index.actors == (3,)
    assert all(f.path.startswith(str(nested)) for f in index)


def test_index_reports_incomplete(tmp_path):
    _write_actor(tmp_path, 1)
    _write_actor(tmp_path, 2, clips=expected_speech_clips(2)[:59])
    index = index_ravdess(tmp_path)
    counts = index.actor_counts()
    assert counts[1] == 60 and counts[2] == 59 and counts[3] == 0
    assert "02 (59)" in index.report()
    assert not index.is_complete_speech_set()
    with pytest.raises(DataError, match="not the complete RAVDESS speech set"):
        index.check_complete()
    with pytest.raises(DataError, match="1321 speech clips missing"):
        index_ravdess(tmp_path, require_complete=True)


def test_index_actor_must_match_folder(tmp_path):
    bad = touch(tmp_path / "Actor_04" / "03-01-01-01-01-01-05.wav")
    with pytest.raises(DataError) as info:
        index_ravdess(tmp_path)
    assert str(bad) in str(info.value) and "actor 05" in str(info.value)


def test_index_bad_name_is_an_error_or_skipped(tmp_path):
    _write_actor(tmp_path, 1)
    bad = touch(tmp_path / "Actor_01" / "03-01-01-01-01-01-01 (copy).wav")
    with pytest.raises(DataError) as info:
        index_ravdess(tmp_path)
    assert str(bad) in str(info.value) and "skip_invalid" in str(info.value)
    with pytest.warns(UserWarning, match="copy"):
        index = index_ravdess(tmp_path, skip_invalid=True)
    assert len(index) == 60 and index.skipped == (str(bad),)
    assert "skipped 1 file with other names" in index.report()


def test_index_ignores_non_wav_and_hidden_files(tmp_path):
    _write_actor(tmp_path, 1)
    touch(tmp_path / "README.md")
    touch(tmp_path / "Actor_01" / "._03-01-01-01-01-01-01.wav")  # macOS fork
    touch(tmp_path / ".cache" / "junk.wav")
    touch(tmp_path / "Actor_01" / "notes.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(index_ravdess(tmp_path)) == 60


def test_index_duplicate_clip_is_an_error(tmp_path):
    _write_actor(tmp_path / "a", 1)
    _write_actor(tmp_path / "b", 1, clips=expected_speech_clips(1)[:1])
    with pytest.raises(DataError, match="the same clip is also at"):
        index_ravdess(tmp_path)


def test_index_filters(tmp_path):
    _write_actor(tmp_path, 1)
    touch(tmp_path / "Actor_01" / "01-01-01-01-01-01-01.wav")  # full-AV
    touch(tmp_path / "Actor_01" / "03-02-03-01-01-01-01.wav")  # song
    assert len(index_ravdess(tmp_path)) == 60
    assert len(index_ravdess(tmp_path, vocal_channels=None)) == 61
    assert (
        len(index_ravdess(tmp_path, modalities=None, vocal_channels=None)) == 62
    )
    assert len(index_ravdess(tmp_path, vocal_channels=(2,))) == 1
    with pytest.raises(DataError, match="no RAVDESS clips found"):
        index_ravdess(tmp_path, actors=[2])
    with pytest.raises(DataError, match="unknown modality"):
        index_ravdess(tmp_path, modalities=(7,))
    index = index_ravdess(tmp_path)
    assert index.select([1]).actors == (1,) and len(index.select([2])) == 0


def test_index_missing_or_wrong_root(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        index_ravdess(tmp_path / "missing")
    file = touch(tmp_path / "file.wav")
    with pytest.raises(DataError, match="not a folder"):
        index_ravdess(file)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no RAVDESS clips found"):
        index_ravdess(tmp_path / "empty")


def test_ravdess_file_ordering_and_equality():
    a = parse_filename("x/03-01-01-01-01-01-01.wav")
    b = RavdessFile(3, 1, 1, 1, 1, 1, 1)
    assert a == b and a.stem == b.stem
