"""The multi-corpus recipe: one backbone, every installed corpus.

`kser recipe recipes/multicorpus --data CORPORA_DIR` runs the recipe's
variants on each corpus found as `CORPORA_DIR/NAME/` (NAME a registered
corpus: `ravdess`, `crema_d`, `emodb`, ...) over that corpus's protocol
(the recipe's choice or the corpus default: speaker-independent
everywhere), and writes one RESULTS.md with WA (accuracy), UA (balanced
accuracy) and macro-F1 per corpus and variant, mean and standard deviation
over folds, beside EmoBox's published numbers where the recipe records
them for the same protocol. `--smoke` synthesises a small corpus of each
layout and uses a tiny random backbone.
"""

import dataclasses
import os
import time

import numpy as np

from kser.errors import KserError

METRICS = (("accuracy", "WA"), ("balanced_accuracy", "UA"), ("macro_f1", "macro-F1"))


def corpus_roots(recipe, data, smoke, out):
    """`[(name, protocol, root)]` for the corpora this run covers."""
    from kser.data.corpora import get_corpus

    found = []
    for name, spec in recipe["corpora"].items():
        corpus = get_corpus(name)
        protocol = (spec or {}).get("protocol") or corpus.default_protocol
        if smoke:
            root = os.path.join(out, "corpora", name)
            if not os.path.isdir(root):
                corpus.synthesize(
                    root, seed=recipe["smoke"].get("seed", 0),
                    clip_seconds=recipe["smoke"].get("clip_seconds", 0.3),
                )
            found.append((name, protocol, root))
        else:
            root = os.path.join(data, name)
            if os.path.isdir(root):
                found.append((name, protocol, root))
    if not found:
        names = ", ".join(recipe["corpora"])
        raise KserError(
            f"{data}: no corpus folder found; expected one or more of "
            f"{names} as subfolders (e.g. {os.path.join(data, 'emodb')})"
        )
    return found


def summarize(results):
    """`{variant: {metric: (mean, std, n)}}` over a corpus's folds."""
    out = {}
    for variant in sorted({r["variant"] for r in results}):
        rows = [r for r in results if r["variant"] == variant]
        out[variant] = {}
        for key, _ in METRICS:
            values = np.array([r[key] for r in rows], dtype=float)
            std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            out[variant][key] = (float(values.mean()), std, len(values))
    return out


def format_multicorpus(context):
    """str. RESULTS.md of a multi-corpus run."""
    recipe = context["recipe"]
    lines = [f"# {recipe['title']}", ""]
    if context["smoke"]:
        lines += [
            "**Smoke run**: synthetic corpora in each layout and a tiny "
            "backbone with random weights. The numbers show that every "
            "corpus runs end to end, not emotion recognition quality.", "",
        ]
    lines += [
        "WA: accuracy; UA: balanced accuracy (mean recall); macro-F1; mean "
        "± sample standard deviation over the protocol's folds (n folds). "
        "Every protocol is speaker-independent (no speaker in two of train, "
        "validation and test).", "",
        "| corpus | protocol | variant | n | WA | UA | macro-F1 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]

    def cell(value):
        mean, std, _ = value
        if np.isnan(std):
            return f"{100 * mean:.2f}"
        return f"{100 * mean:.2f} ± {100 * std:.2f}"

    for name, protocol, summary in context["corpora"]:
        for variant, metrics in summary.items():
            n = metrics["accuracy"][2]
            lines.append(
                f"| {name} | {protocol} | {variant} | {n} | "
                + " | ".join(cell(metrics[key]) for key, _ in METRICS) + " |"
            )
    refs = recipe.get("emobox_reference", {})
    shown = [(n, p) for n, p, _ in context["corpora"]
             if n in refs and refs[n].get("protocol") == p]
    lines += ["", "## EmoBox's published numbers (same protocol)", ""]
    if shown:
        lines += ["| corpus | protocol | model | EmoBox WA % |", "| --- | --- | --- | ---: |"]
        for name, protocol in shown:
            for model, value in refs[name]["wa"].items():
                lines.append(f"| {name} | {protocol} | {model} | {value:.2f} |")
    else:
        lines.append("None recorded for the corpora and protocols run here.")
    lines += [
        "", "Corpora not run (no folder under --data): "
        + (", ".join(n for n in recipe["corpora"]
                     if n not in {c[0] for c in context["corpora"]}) or "none")
        + ".", "",
        "## How this was run", "",
        f"- Command: `{context['command']}`",
        f"- Run folders: `{context['run_dir']}/CORPUS/`",
        f"- Wall time: {context['wall_seconds']:.0f} s",
        "- Versions: " + ", ".join(
            f"{k} {v}" for k, v in context["environment"].get("versions", {}).items()
        ),
        f"- Backend {context['environment'].get('backend')} on "
        f"{context['environment'].get('device')}",
        "",
    ]
    return "\n".join(lines)


def run_multicorpus(recipe, configs, smoke, data, out, run, cache_dir, jobs,
                    quiet, backbone, normalize, folds, command, started):
    """Run a `kind: multicorpus` recipe; returns the RESULTS.md path."""
    from kser.report import atomic_write_text
    from kser.report import collect_results
    from kser.train.config import environment
    from kser.train.training import run_training

    if not smoke and not data:
        raise KserError(
            "the multi-corpus recipe needs --data, a folder holding one "
            "subfolder per corpus (ravdess/, emodb/, ...); --smoke runs without"
        )
    run_dir = os.path.abspath(run or os.path.join(out, "run"))
    corpora = []
    for name, protocol, root in corpus_roots(recipe, data, smoke, out):
        corpus_configs = [
            dataclasses.replace(c, corpus=name, protocol=protocol) for c in configs
        ]
        corpus_run = os.path.join(run_dir, name)
        run_training(
            root, corpus_configs, corpus_run, folds=folds,
            cache_dir=cache_dir or os.path.join(run_dir, "feature_cache"),
            backbone=backbone, normalize=normalize, progress=not quiet,
            jobs=jobs, allow_missing_speakers=smoke,  # few synthetic speakers
        )
        names = {c.name for c in corpus_configs}
        results = [r for r in collect_results(corpus_run) if r["variant"] in names
                   and (folds is None or r["fold"] in folds)]
        corpora.append((name, protocol, summarize(results)))
    context = {
        "recipe": recipe, "smoke": smoke, "corpora": corpora,
        "run_dir": run_dir, "command": command,
        "environment": environment(),
        "wall_seconds": time.time() - started,
    }
    path = os.path.join(out, "RESULTS.md")
    atomic_write_text(path, format_multicorpus(context))
    if not quiet:
        print(f"wrote {path}")
    return path
