"""Table I: 12 paper folds x Hubert, Hubert-aug, Hubert-LSTM.

    python recipes/table1/run.py --smoke
    python recipes/table1/run.py --data RAVDESS_DIR --preset hubert_base_ls960

Every hyperparameter is in config.json beside this script; RESULTS.md is
written into the run folder (--out). See recipes/README.md.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # kser, uninstalled

from kser.recipes.common import run_recipe  # noqa: E402


def main(argv=None):
    return run_recipe(HERE, argv)


if __name__ == "__main__":
    main()
