import subprocess
import sys


def test_data_modules_do_not_load_keras_or_tensorflow():
    # Importing TensorFlow loads Keras and fixes its backend, so the data
    # layer must import neither until a dataset is built.
    code = (
        "import sys, kser, kser.data\n"
        "from kser.data import audio, feature_cache, folds, pipeline, ravdess, synthetic\n"
        "from kser.data import paper_folds, FeatureCache, make_dataset, NoiseAugmentation\n"
        "import kser.cli\n"
        "paper_folds(); NoiseAugmentation()\n"
        "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_lazy_exports():
    import kser.data

    assert kser.data.EMOTIONS[0] == "neutral"
    assert "FeatureCache" in dir(kser.data)
    try:
        kser.data.nope
    except AttributeError as error:
        assert "nope" in str(error)
    else:
        raise AssertionError("expected AttributeError")
