"""RAVDESS file names, constants and indexing: a re-export of
`kser.data.corpora.ravdess`, where the corpus now lives, so
`from kser.data.ravdess import index_ravdess` keeps working."""

from kser.data.corpora.ravdess import ACTORS  # noqa: F401
from kser.data.corpora.ravdess import AUDIO_EXTENSION  # noqa: F401
from kser.data.corpora.ravdess import AUDIO_ONLY  # noqa: F401
from kser.data.corpora.ravdess import CLIPS_PER_ACTOR  # noqa: F401
from kser.data.corpora.ravdess import CORPUS  # noqa: F401
from kser.data.corpora.ravdess import EMOTIONS  # noqa: F401
from kser.data.corpora.ravdess import INTENSITIES  # noqa: F401
from kser.data.corpora.ravdess import MODALITIES  # noqa: F401
from kser.data.corpora.ravdess import NUM_ACTORS  # noqa: F401
from kser.data.corpora.ravdess import NUM_EMOTIONS  # noqa: F401
from kser.data.corpora.ravdess import NUM_SPEECH_CLIPS  # noqa: F401
from kser.data.corpora.ravdess import REPETITIONS  # noqa: F401
from kser.data.corpora.ravdess import SONG  # noqa: F401
from kser.data.corpora.ravdess import SONG_EMOTIONS  # noqa: F401
from kser.data.corpora.ravdess import SPEECH  # noqa: F401
from kser.data.corpora.ravdess import STATEMENTS  # noqa: F401
from kser.data.corpora.ravdess import VOCAL_CHANNELS  # noqa: F401
from kser.data.corpora.ravdess import RavdessFile  # noqa: F401
from kser.data.corpora.ravdess import RavdessIndex  # noqa: F401
from kser.data.corpora.ravdess import expected_speech_clips  # noqa: F401
from kser.data.corpora.ravdess import index_ravdess  # noqa: F401
from kser.data.corpora.ravdess import parse_filename  # noqa: F401
