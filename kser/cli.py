"""The `kser` command line.

Every command is a thin wrapper over a library function that a user script
can call too. Keras is imported only inside commands, after `--backend` has
been applied, so the backend choice always takes effect.
"""

import sys

import click

from kser import __version__
from kser.backend import BACKENDS
from kser.backend import set_backend
from kser.errors import KserError

backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Keras backend (default: $KERAS_BACKEND, else tensorflow).",
)


class _Group(click.Group):
    """Turns a `KserError` into one line on stderr and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KserError as error:
            click.echo(f"kser: error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kser")
def main():
    """Speech emotion recognition with a frozen HuBERT in Keras 3.

    Run `kser COMMAND --help` for each command's options.
    """


@main.command()
@click.argument("hf_dir", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@backend_option
@click.option(
    "--overwrite", is_flag=True, help="Replace OUT_DIR if it already exists."
)
def convert(hf_dir, out_dir, backend, overwrite):
    """Convert a local transformers HuBERT checkpoint into a kser preset.

    HF_DIR holds `config.json` and `model.safetensors` (or a sharded
    safetensors index, or `pytorch_model.bin`), as written by
    `save_pretrained` or downloaded from the hub. OUT_DIR becomes a preset
    folder that `HubertBackbone.from_preset(OUT_DIR)` and every `--preset`
    option load.
    """
    set_backend(backend)
    from kser.convert.transformers import convert_checkpoint

    report = convert_checkpoint(hf_dir, out_dir, overwrite=overwrite)
    click.echo(report)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--actors",
    default="1-24",
    show_default=True,
    help="Actors to generate: a count (4 = actors 1-4) or a list like 1-4,9.",
)
@click.option(
    "--seconds",
    type=float,
    default=3.5,
    show_default=True,
    help="Typical clip length; shorter clips make faster tests.",
)
@click.option(
    "--sample-rate",
    type=int,
    default=16000,
    show_default=True,
    help="Sample rate of the WAV files (8000-48000; RAVDESS is 48000).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Corpus seed."
)
@click.option(
    "--overwrite", is_flag=True, help="Replace OUT_DIR if it already exists."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth(out_dir, actors, seconds, sample_rate, seed, overwrite, quiet):
    """Write a synthetic RAVDESS-format speech corpus to OUT_DIR.

    OUT_DIR gets Actor_01 ... Actor_24 with 60 WAV files each, named and
    counted as the RAVDESS audio-only speech set, with speech-like audio
    whose prosody depends on emotion, intensity and actor. Same seed, same
    files. Use it wherever a RAVDESS root is expected.
    """
    from kser.data.synthetic import write_corpus

    spec = int(actors) if actors.strip().isdigit() else actors
    index = write_corpus(
        out_dir,
        actors=spec,
        sample_rate=sample_rate,
        clip_seconds=seconds,
        seed=seed,
        overwrite=overwrite,
        progress=not quiet,
    )
    click.echo(index.report())


if __name__ == "__main__":
    main()
