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


if __name__ == "__main__":
    main()
