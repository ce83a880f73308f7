"""`kser synth` and `kser describe`: writing and inspecting corpora.

Registered on the `kser` group by `kser.cli`. Neither command imports
Keras.
"""

import json

import click

from kser.errors import KserError
from kser.text import count_noun


def _corpus_option(default="ravdess"):
    return click.option(
        "--corpus", default=default, show_default=True,
        help="Corpus name (see `kser.data.corpora.CORPORA`).",
    )


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@_corpus_option()
@click.option(
    "--actors", "--speakers", "speakers", default=None,
    help="RAVDESS: actors to generate, a count (4 = actors 1-4) or a list "
    "like 1-4,9 (default all 24). Other corpora: how many speakers "
    "(default: the corpus's small default).",
)
@click.option("--seconds", type=float, default=None,
              help="Typical clip length (RAVDESS default 3.5 s, others 0.5 s); "
              "shorter clips make faster tests.")
@click.option("--sample-rate", type=int, default=16000, show_default=True,
              help="Sample rate of the WAV files (8000-48000).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Corpus seed.")
@click.option("--overwrite", is_flag=True,
              help="Replace OUT_DIR if it already exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth(out_dir, corpus, speakers, seconds, sample_rate, seed, overwrite,
          quiet):
    """Write a synthetic corpus in a corpus's own layout to OUT_DIR.

    RAVDESS (default): Actor_01 ... Actor_24 with 60 WAV files each, named
    and counted as the RAVDESS audio-only speech set. Other corpora: a
    small corpus with the corpus's file names, folders and label files.
    Speech-like audio whose prosody depends on the emotion and the speaker;
    same seed, same files. Use it wherever that corpus's root is expected.
    """
    from kser.data.corpora import get_corpus

    source = get_corpus(corpus)
    if corpus == "ravdess":
        from kser.data.synthetic import write_corpus

        spec = speakers or "1-24"
        spec = int(spec) if spec.strip().isdigit() else spec
        index = write_corpus(
            out_dir, actors=spec, sample_rate=sample_rate,
            clip_seconds=3.5 if seconds is None else seconds, seed=seed,
            overwrite=overwrite, progress=not quiet,
        )
    else:
        kwargs = {"sample_rate": sample_rate, "seed": seed,
                  "overwrite": overwrite}
        if seconds is not None:
            kwargs["clip_seconds"] = seconds
        if speakers is not None:
            if not speakers.strip().isdigit():
                raise KserError(
                    f"--speakers must be a number for corpus {corpus}, got "
                    f"{speakers!r}"
                )
            kwargs["speakers"] = int(speakers)
        index = source.synthesize(out_dir, **kwargs)
    click.echo(index.report())


def describe_index(index, corpus):
    """dict. Clips per speaker and label of a corpus index (JSON-ready)."""
    label_names = list(getattr(index, "label_names", []))
    per_speaker = {}
    for clip in index:
        label = getattr(clip, "label_name", None) or clip.label
        row = per_speaker.setdefault(str(clip.speaker), dict.fromkeys(label_names, 0))
        row[label] = row.get(label, 0) + 1
    totals = {name: sum(r.get(name, 0) for r in per_speaker.values())
              for name in label_names}
    return {
        "corpus": corpus,
        "root": getattr(index, "root", None),
        "clips": len(index),
        "speakers": len(per_speaker),
        "labels": label_names,
        "per_speaker": per_speaker,
        "per_label": totals,
        "skipped": len(getattr(index, "skipped", ()) or ()),
    }


def format_description(info):
    """str. `describe_index`'s counts as an aligned text table."""
    labels = info["labels"]
    header = ["speaker", *labels, "total"]
    rows = [
        [speaker, *[str(counts.get(n, 0)) for n in labels],
         str(sum(counts.values()))]
        for speaker, counts in info["per_speaker"].items()
    ]
    rows.append(["total", *[str(info["per_label"][n]) for n in labels],
                 str(info["clips"])])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"{info['corpus']}: {count_noun(info['clips'], 'clip')}, "
        f"{count_noun(info['speakers'], 'speaker')}"
        + (f" in {info['root']}" if info["root"] else "")
        + (f", {count_noun(info['skipped'], 'file')} skipped"
           if info["skipped"] else ""),
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                  for i, (h, w) in enumerate(zip(header, widths))),
    ]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines) + "\n"


@click.command()
@_corpus_option()
@click.option("--data", "data_dir", required=True,
              type=click.Path(file_okay=False),
              help="The corpus root, in the corpus's distributed layout.")
@click.option("--format", "output_format", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="Output format.")
@click.option("--skip-invalid", is_flag=True,
              help="Skip files whose names do not follow the corpus (counted) "
              "instead of failing.")
def describe(corpus, data_dir, output_format, skip_invalid):
    """Count a corpus's clips per speaker and label.

    Indexes DATA as corpus CORPUS (the same indexing `kser train` uses) and
    prints one row per speaker with its clips per label, and the totals.
    """
    from kser.data import load_corpus

    kwargs = {"skip_invalid": True} if skip_invalid else {}
    index = load_corpus(corpus, data_dir, **kwargs)
    info = describe_index(index, corpus)
    if output_format == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(format_description(info), nl=False)
