"""The `kser` command line.

Every command is a thin wrapper over a library function that a user script
can call too. Keras is imported only inside commands, after `--backend` has
been applied, so the backend choice always takes effect.
"""

import os
import sys

import click

from kser import __version__
from kser.backend import BACKENDS
from kser.backend import import_keras_quietly
from kser.backend import set_backend as _set_backend
from kser.errors import KserError

def set_backend(backend):
    """Apply `--backend`, then import Keras with TensorFlow's noise hidden."""
    _set_backend(backend)
    import_keras_quietly()


backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Keras backend (default: $KERAS_BACKEND, else jax).",
)


class _Group(click.Group):
    """User mistakes become one line on stderr and exit status 2.

    A `KserError` from a command, or a usage error from click (an unknown
    option, a bad choice, a missing argument), prints
    `kser: error: MESSAGE` and exits 2, with no traceback.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KserError as error:
            click.echo(f"kser: error: {error}", err=True)
            sys.exit(2)

    def main(self, args=None, prog_name=None, complete_var=None,
             standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            message = " ".join(error.format_message().split())
            click.echo(f"kser: error: {message} (see --help)", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("kser: interrupted", err=True)
            sys.exit(130)
        except click.ClickException as error:
            click.echo(f"kser: error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kser")
def main():
    """Speech emotion recognition with a frozen HuBERT in Keras 3.

    Run `kser COMMAND --help` for each command's options.
    """


@main.command()
@click.argument("hf_dir")
@click.argument("out_dir", type=click.Path(file_okay=False))
@backend_option
@click.option(
    "--overwrite", is_flag=True, help="Replace OUT_DIR if it already exists."
)
def convert(hf_dir, out_dir, backend, overwrite):
    """Convert a transformers checkpoint (folder or hub) into a kser preset.

    HF_DIR is a local folder holding `config.json` and `model.safetensors`
    (or a sharded safetensors index, or `pytorch_model.bin`), as written by
    `save_pretrained`, or a hub repository `hf://ORG/NAME[@REVISION]`
    (downloaded with huggingface_hub; HF_ENDPOINT, HF_HOME, HF_TOKEN and
    HF_HUB_OFFLINE apply). OUT_DIR becomes a preset folder that
    `kser.models.load_backbone(OUT_DIR)` and every `--preset` option load;
    the family comes from config.json's `model_type`.
    """
    set_backend(backend)
    if hf_dir.startswith("hf://"):
        from kser.convert.hub import convert_hub_checkpoint

        click.echo(convert_hub_checkpoint(hf_dir, out_dir, overwrite=overwrite))
        return
    from kser.convert.transformers import convert_checkpoint

    report = convert_checkpoint(hf_dir, out_dir, overwrite=overwrite)
    click.echo(report)


def _train_options(function):
    """Options shared by `kser train` and `kser cv`."""
    options = [
        click.option("--data", "data_dir", required=True,
                     type=click.Path(file_okay=False),
                     help="Corpus folder (RAVDESS: Actor_01/... or flat)."),
        click.option("--corpus", default=None,
                     help="Corpus of --data (default ravdess); see "
                          "docs/data.md for the corpora kser reads."),
        click.option("--preset", default="hubert_base_ls960", show_default=True,
                     help="Preset name, folder from `kser convert`, "
                          "hf://ORG/NAME[@REVISION] or a transformers "
                          "checkpoint folder (converted once)."),
        click.option("--protocol", default=None,
                     help="Fold protocol of the corpus (RAVDESS: paper, "
                          "Table I's 12 folds (default); emobox, EmoBox's 6)."),
        click.option("--epochs", type=int, default=None,
                     help="Training epochs (default 6); the best epoch on "
                          "validation is kept."),
        click.option("--batch-size", type=int, default=None,
                     help="Clips per batch (default 16)."),
        click.option("--learning-rate", type=float, default=None,
                     help="Adam learning rate of the head (default 1e-3)."),
        click.option("--seed", type=int, default=None, help="Random seed (default 0)."),
        click.option("--max-seconds", type=float, default=None,
                     help="Crop longer clips to this (default 6)."),
        click.option("--dtype", type=click.Choice(["float32", "bfloat16"]),
                     default=None, help="Backbone compute dtype (head stays float32)."),
        click.option("--cache-dtype", type=click.Choice(["float32", "float16"]),
                     default=None, help="Cached features stored and held as "
                                        "float32 (default) or float16 (half "
                                        "the memory)."),
        click.option("--layers", type=click.Choice(["last", "weighted"]),
                     default=None, help="Last hidden state (paper) or a "
                                        "learned weighted sum of all."),
        click.option("--augment/--no-augment", default=None,
                     help="Gaussian-noise augmentation (default: the variant's)."),
        click.option("--snr-db", type=float, default=None,
                     help="Noise level in dB below each clip's RMS (default 20)."),
        click.option("--mode", type=click.Choice(["cached", "online"]),
                     default=None, help="cached: backbone features computed "
                                        "once (default); online: end to end."),
        click.option("--distribute", type=click.Choice(["auto", "none", "data-parallel"]),
                     default=None, help="Data parallelism over local devices."),
        click.option("--group-by-length/--no-group-by-length", default=None,
                     help="Batch training clips of nearly equal length "
                          "together (default; less padding, faster). "
                          "--no-group-by-length shuffles clips freely."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     default=None, help="JSON/YAML file of config values; "
                                        "options given here override it."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Feature cache folder (default RUN_DIR/feature_cache)."),
        click.option("--test-corpus", default=None,
                     help="Also test every trained fold on this corpus "
                          "(cross-corpus, over the labels both share)."),
        click.option("--test-data", type=click.Path(file_okay=False),
                     default=None, help="Root of --test-corpus."),
        click.option("--skip-invalid", is_flag=True,
                     help="Skip (and count) files whose names do not follow "
                          "the corpus instead of stopping at the first."),
        click.option("--allow-missing-speakers", is_flag=True,
                     help="Run folds whose validation or test speakers have "
                          "no clips (an incomplete corpus; results list the "
                          "absent speakers) instead of stopping."),
        click.option("--plots/--no-plots", default=True, show_default=True,
                     help="Draw each fold's PNG plots. --no-plots skips them "
                          "(about 2 s a fold); `kser report OUT` draws them "
                          "later."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False),
                     default="runs/kser", show_default=True, help="Run folder."),
        backend_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


_CONFIG_KEYS = ("corpus", "preset", "protocol", "epochs", "batch_size", "learning_rate",
                "seed", "max_seconds", "dtype", "layers", "augment", "snr_db",
                "mode", "distribute", "group_by_length", "cache_dtype")


def _configs(variants, config_file, options):
    from kser.train.config import TrainConfig

    base = {}
    if config_file:
        base = TrainConfig.load(config_file).to_dict()
        base.pop("variant", None)
    for key in _CONFIG_KEYS:
        if options.get(key) is not None:
            base[key] = options[key]
    return [TrainConfig(variant=v, **base) for v in variants]


def _test_corpora(options):
    corpus, data = options.pop("test_corpus", None), options.pop("test_data", None)
    if (corpus is None) != (data is None):
        raise KserError("--test-corpus and --test-data go together")
    return [] if corpus is None else [(corpus, data)]


def _variants(text):
    from kser.train.config import VARIANTS

    names = [v.strip() for v in text.split(",") if v.strip()]
    for name in names:
        if name not in VARIANTS:
            raise KserError(
                f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}"
            )
    if not names:
        raise KserError("no variant given")
    return names


@main.command()
@click.option("--variant", default="lstm", show_default=True,
              help="dense (Hubert), dense-aug (Hubert-aug) or lstm (Hubert-LSTM).")
@click.option("--fold", type=int, default=3, show_default=True,
              help="Fold number of the protocol (paper: 1-12).")
@click.option("--save-model/--no-save-model", default=True, show_default=True,
              help="Save the whole classifier as model.keras.")
@_train_options
def train(variant, fold, save_model, data_dir, config_file, cache_dir, out_dir,
          backend, skip_invalid, allow_missing_speakers, plots, **options):
    """Train one variant on one fold and evaluate its test speakers.

    Keeps the best-on-validation weights, writes the per-epoch history
    (history.csv, history.md), metrics.json, plots and predictions to
    OUT/VARIANT/fold_KK/, and the configuration with versions, backend,
    device and git revision to OUT/run_config.json. With --test-corpus and
    --test-data the fold is also tested on another corpus, written to
    OUT/VARIANT/fold_KK/cross_corpus/NAME/.

    Example: kser train --backend jax --variant lstm --data RAVDESS
    --preset presets/hubert_base_ls960 --fold 3
    """
    set_backend(backend)
    from kser.report import format_cv_summary_markdown
    from kser.train.training import run_training

    tests = _test_corpora(options)
    configs = _configs(_variants(variant), config_file, options)
    summary = run_training(data_dir, configs, out_dir, folds=[fold],
                           cache_dir=cache_dir, save_model=save_model,
                           test_corpora=tests, skip_invalid=skip_invalid,
                           allow_missing_speakers=allow_missing_speakers,
                           plots=plots)
    click.echo(format_cv_summary_markdown(summary))


@main.command()
@click.option("--variants", default="dense,dense-aug,lstm", show_default=True,
              help="Comma-separated variants.")
@click.option("--folds", default=None,
              help="Comma-separated fold numbers (default: all).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Folds whose heads train at once, in worker processes, "
              "after every feature is extracted (cached mode; on a CPU up to "
              "the number of cores).")
@_train_options
def cv(variants, folds, jobs, data_dir, config_file, cache_dir, out_dir, backend,
       skip_invalid, allow_missing_speakers, plots, **options):
    """Cross-validate variants over every fold of a protocol (Table I).

    Resumable: started again with the same OUT, finished folds are skipped.
    The backbone runs once per clip (and per noisy copy) for all folds and
    variants thanks to the feature cache. Writes per-fold reports and
    OUT/cv_summary.{md,csv,json}.
    """
    set_backend(backend)
    from kser.report import format_cv_summary_markdown
    from kser.train.training import run_training

    fold_list = None
    if folds:
        try:
            fold_list = [int(f) for f in folds.split(",") if f.strip()]
        except ValueError:
            raise KserError(f"--folds must be numbers like 1,2,3, got {folds!r}")
    tests = _test_corpora(options)
    configs = _configs(_variants(variants), config_file, options)
    summary = run_training(data_dir, configs, out_dir, folds=fold_list,
                           cache_dir=cache_dir, jobs=jobs, test_corpora=tests,
                           skip_invalid=skip_invalid,
                           allow_missing_speakers=allow_missing_speakers,
                           plots=plots)
    click.echo(format_cv_summary_markdown(summary))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir):
    """Rebuild the reports of a run folder from its saved results.

    Re-draws every fold's plots from metrics.json and history.csv and
    rewrites the Table I summary (cv_summary.md/.csv/.json). First checks
    every fold's result.json and the checksums of the files it lists: a
    damaged one is an error naming it (exit 2), and nothing is rewritten.
    """
    from kser.report import format_cv_summary_markdown
    from kser.report import rebuild_reports

    summary = rebuild_reports(run_dir)
    click.echo(format_cv_summary_markdown(summary))


@main.command()
@click.argument("recipe_dir", type=click.Path(file_okay=False))
@click.option("--smoke", is_flag=True,
              help="Synthetic corpus, tiny random backbone, 1 epoch, few folds.")
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="Corpus folder (needed without --smoke).")
@click.option("--preset", default=None,
              help="Converted checkpoint: preset name or folder (default: "
              "the config's).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where RESULTS.md and the run go (default: results/ or "
              "smoke/ beside the config).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Training run folder (default OUT/run); finished folds "
              "with the same config are reused.")
@click.option("--folds", default=None,
              help="Comma-separated folds (default: the config's).")
@click.option("--variants", default=None,
              help="Comma-separated variants (default: the config's).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Backbone feature cache (default OUT/run/feature_cache).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Folds whose heads train at once in worker processes.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set train.epochs=3 "
              "(dotted keys, JSON values; repeatable).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--allow-missing-speakers", is_flag=True,
              help="Run folds whose validation or test speakers have no "
              "clips (they are listed in the results).")
@backend_option
def recipe(recipe_dir, smoke, data, preset, out, run_dir, folds, variants,
           cache_dir, jobs, overrides, quiet, allow_missing_speakers, backend):
    """Run a recipe folder of recipes/ and write its RESULTS.md.

    RECIPE_DIR holds config.json (its own keys over a shared base config).
    RESULTS.md puts our numbers beside the paper's, with statistics across
    folds and the environment. Example: kser recipe recipes/table1 --smoke
    """
    set_backend(backend)
    from kser.reproduce.recipe import run_recipe

    given = [("--smoke", smoke), ("--data", data), ("--preset", preset),
             ("--out", out), ("--run", run_dir), ("--folds", folds),
             ("--variants", variants), ("--cache-dir", cache_dir),
             ("--allow-missing-speakers", allow_missing_speakers),
             ("--jobs", jobs if jobs != 1 else None)]
    command = " ".join(
        ["kser recipe", recipe_dir]
        + [flag if value is True else f"{flag} {value}"
           for flag, value in given if value not in (None, False)]
        + [f"--set {item}" for item in overrides]
    )
    run_recipe(recipe_dir, smoke=smoke, data=data, preset=preset, out=out,
               folds=folds, variants=variants, run=run_dir, cache_dir=cache_dir,
               jobs=jobs, quiet=quiet, overrides=overrides, command=command,
               allow_missing_speakers=allow_missing_speakers)


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              default="kser-quickstart", show_default=True,
              help="Corpus and results folder.")
@click.option("--epochs", type=int, default=4, show_default=True)
@click.option("--fold", type=int, default=3, show_default=True,
              help="Paper fold to run.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--preset", default=None,
              help="Run a real backbone instead of the small random HuBERT: "
              "a preset name or folder from `kser convert` (any family).")
@backend_option
def quickstart(out_dir, epochs, fold, seed, preset, backend):
    """Run the whole pipeline on a synthetic corpus, no downloads.

    Synthesises a RAVDESS-format corpus (24 actors, 1440 short clips), builds
    a small HuBERT with RANDOM weights (or loads --preset), trains dense,
    dense-aug and lstm on one paper fold and writes reports with plots. The
    default backbone is untrained: the numbers show the pipeline working,
    not emotion recognition quality.
    """
    set_backend(backend)
    from kser.quickstart import run_quickstart
    from kser.report import format_cv_summary_markdown

    if preset is None:
        click.echo("kser quickstart: synthetic corpus + small HuBERT with "
                   "random (untrained) weights; accuracies show the pipeline, "
                   "not emotion recognition quality.", err=True)
    else:
        click.echo(f"kser quickstart: synthetic corpus + backbone {preset}.",
                   err=True)
    summary = run_quickstart(out_dir, epochs=epochs, fold=fold, seed=seed,
                             preset=preset)
    click.echo(format_cv_summary_markdown(summary))
    click.echo(f"reports: {os.path.join(out_dir, 'run')}")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="A .keras EmotionClassifier, or a fold folder holding "
              "model.keras.")
@click.option("--format", "output_format", default="table", show_default=True,
              help="Output format (see `kser.predict.FORMATS`): table, csv "
              "or json.")
@click.option("--window-seconds", type=float, default=6.0, show_default=True,
              help="Window length; shorter files are one window.")
@click.option("--hop-seconds", type=float, default=3.0, show_default=True,
              help="Hop between window starts in longer files.")
@click.option("--batch-size", type=int, default=8, show_default=True,
              help="Windows per model call.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              default=None,
              help="Write the output to this file (atomically) instead of "
              "stdout.")
@click.option("--fail-fast", is_flag=True,
              help="Stop at the first file that cannot be scored (one error, "
              "exit 2, no output) instead of scoring the others.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@backend_option
def predict(inputs, model_path, output_format, window_seconds, hop_seconds,
            batch_size, out_file, fail_fast, quiet, backend):
    """Predict the emotion of audio files with a trained classifier.

    INPUTS are audio files or folders (searched recursively for wav, flac,
    ogg, opus, mp3, aiff, au, caf, w64, rf64) of any sample rate, channel
    count and length: audio is mixed down to mono and resampled to 16 kHz.
    A file up to --window-seconds long is scored whole; a longer one in
    windows every --hop-seconds, the last window ending at the file's end.
    Each file gets the mean of its windows' probabilities.

    Output: per file (window "all") and per window, the top emotion and
    every class probability (softmax), as an aligned table, CSV or JSON.
    The table lists windows only for files with more than one.

    An input that cannot be scored (missing, empty, corrupt, truncated,
    too short, a folder without audio) gets one line on stderr,
    `kser: error: PATH: why`; the other files are still scored and written
    (JSON also lists the failures), and the exit status is 2. With
    --fail-fast the first bad input stops the run with nothing written.
    Silent clips are scored with a `kser: warning:` line.
    """
    from kser.predict.formats import FORMATS

    if output_format not in FORMATS:
        raise click.BadParameter(
            f"{output_format!r} is not one of {', '.join(FORMATS)}",
            param_hint="'--format'",
        )
    set_backend(backend)
    _predict(inputs, model_path, output_format, window_seconds, hop_seconds,
             batch_size, out_file, fail_fast, quiet)


def _predict(inputs, model_path, output_format, window_seconds, hop_seconds,
             batch_size, out_file, fail_fast, quiet):
    """`kser predict` after option checks: score, report, write, exit."""
    from kser.predict import count_noun
    from kser.predict import format_results
    from kser.predict import predict_batch
    from kser.report import atomic_write_text

    batch = predict_batch(
        model_path,
        list(inputs),
        window_seconds=window_seconds,
        hop_seconds=hop_seconds,
        batch_size=batch_size,
        progress=not quiet,
        fail_fast=fail_fast,
    )
    results, failures = batch.results, batch.failures
    for result in results:
        for warning in result.warnings():
            click.echo(f"kser: warning: {warning}", err=True)
    for failure in failures:
        click.echo(f"kser: error: {failure.message}", err=True)
    failed = f"; {len(failures)} failed (errors above)" if failures else ""
    if results:
        text = format_results(
            results,
            output_format,
            window_seconds=window_seconds,
            hop_seconds=hop_seconds,
            model=model_path,
            failures=failures,
        )
        if out_file:
            atomic_write_text(out_file, text)
            click.echo(f"wrote predictions for "
                       f"{count_noun(len(results), 'file')} to {out_file}"
                       f"{failed}", err=True)
        else:
            click.echo(text, nl=False)
            if failures:
                click.echo(f"kser: scored {count_noun(len(results), 'file')}"
                           f"{failed}", err=True)
    else:
        click.echo(f"kser: nothing scored{failed}; no output written",
                   err=True)
    if failures:
        click.get_current_context().exit(2)


@main.command()
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="A .keras EmotionClassifier, or a fold folder holding "
              "model.keras.")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False),
              help="The export folder to write.")
@click.option("--format", "export_format", default="saved_model",
              show_default=True,
              help="The export format (see `kser.export.EXPORTERS`): "
              "saved_model, onnx (needs `pip install 'kser[export]'`) or "
              "litert (fixed 6 s windows).")
@click.option("--overwrite", is_flag=True,
              help="Replace --out if it already exists.")
@backend_option
def export(model_path, out_dir, export_format, overwrite, backend):
    """Export a classifier as a TensorFlow SavedModel for serving.

    The SavedModel runs without kser (plain TensorFlow or TF Serving). Its
    `serve` signature (also `serving_default`) takes `waveform`, float32
    [batch, samples] mono 16 kHz audio, one whole clip per row (batch clips
    of equal length), and returns `probabilities` [batch, classes]. The
    `labels` signature and assets/kser_export.json give the class names.
    Needs the jax or tensorflow backend. `--format onnx` writes model.onnx
    (same input and output) and `--format litert` model.tflite (fixed 6 s
    windows with a padding_mask input), each with kser_export.json, from
    any backend; see docs/predict_export.md.
    """
    from kser.export import get_exporter

    get_exporter(export_format)  # An unknown format fails before anything.
    set_backend(backend)
    from kser.export import export_model

    model_dir = export_model(
        model_path, out_dir, format=export_format, overwrite=overwrite
    )
    detail = " (signatures: serve, labels)" if export_format == "saved_model" else ""
    click.echo(f"exported {model_path} to {model_dir} as {export_format}{detail}")


from kser.cli_data import describe  # noqa: E402
from kser.cli_data import synth  # noqa: E402

main.add_command(synth)
main.add_command(describe)

if __name__ == "__main__":
    main()
