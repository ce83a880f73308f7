"""kser: speech emotion recognition with a frozen HuBERT in Keras 3.

Importing `kser` does not import Keras, so the backend can still be chosen
(`KERAS_BACKEND` or `kser --backend`) after `import kser`. Submodules that
need Keras (`kser.models`, `kser.convert`) import it themselves.
"""

__version__ = "0.1.0.dev0"
