"""A recipe's RESULTS.md: our numbers beside the paper's, with statistics.

`format_results(context)` builds the whole document from a finished run:
the header (recipe, folds, variants; a notice on smoke runs), one body per
recipe kind (`cv`: Table I or EmoBox; `history`: Tables II-IV; `figures`:
Figures 3-11), the statistics (`kser.report.stats`) and the environment.
The paper's numbers come from `kser.report.paper`. Keras-free.

`context` keys: recipe (the merged config, with `path`), configs (one
`TrainConfig`-like object per variant: name, variant, epochs, preset),
folds, smoke, data, run_dir, out, results (result.json dicts), command,
environment (see `kser.train.config.environment`), wall_seconds.
"""

import os

from kser.errors import KserError
from kser.report import paper
from kser.report import stats
from kser.report.history import read_history
from kser.report.metrics import read_metrics
from kser.report.runs import fold_dir as _run_fold_dir
from kser.report.runs import read_predictions
from kser.report.tables import cv_summary
from kser.report.tables import format_cv_summary_markdown
from kser.versions import module_version

SMOKE_NOTICE = (
    "**Smoke run.** Synthetic corpus and a tiny HuBERT with *random* "
    "weights (no pretrained checkpoint), {epochs} epoch(s), folds {folds}: "
    "these numbers show that the pipeline runs end to end, not how well "
    "HuBERT recognises emotion. Do not compare them with the paper's."
)
# Pairs compared in every recipe: (a, b) tests "a beats b".
COMPARISONS = (("lstm", "dense"), ("lstm", "dense-aug"), ("dense-aug", "dense"))


def format_results(context):
    """The whole RESULTS.md of a recipe run, as text."""
    body = BUILDERS[context["recipe"]["kind"]](context)
    return _header(context) + body + _environment_section(context)


# --- formatting helpers -------------------------------------------------


def _f(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def _diff(ours, theirs, digits=3):
    if ours is None or theirs is None:
        return "—"
    return f"{ours - theirs:+.{digits}f}"


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _repo_path(path):
    """A recipe file's path from the repository root (recipes/...)."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    if "recipes" in parts:
        i = len(parts) - 1 - parts[::-1].index("recipes")
        return "/".join(parts[i:])
    return path


def _paper_name(variant):
    return paper.PAPER_NAMES.get(variant, variant)


def _by_variant(results):
    """variant -> fold -> result."""
    table = {}
    for r in results:
        table.setdefault(r["variant"], {})[r["fold"]] = r
    return table


def _comparisons(values, unit):
    """Paired comparisons between the variants present, as Markdown."""
    comparisons = {}
    for a, b in COMPARISONS:
        if a in values and b in values:
            comparisons[f"{a} vs {b}"] = stats.paired_comparison(values[a], values[b])
    if not comparisons:
        return (
            "Fewer than two variants: no paired comparison (Wilcoxon "
            "signed-rank, paired t-test).\n"
        )
    return stats.format_comparisons_markdown(comparisons, unit=unit)


def _header(context):
    recipe = context["recipe"]
    lines = [f"# {recipe['title']}", ""]
    if context["smoke"]:
        epochs = sorted({c.epochs for c in context["configs"]})
        lines += [
            SMOKE_NOTICE.format(
                epochs="/".join(str(e) for e in epochs),
                folds=", ".join(str(f) for f in context["folds"]),
            ),
            "",
        ]
    rel = _repo_path(recipe["path"])
    lines += [
        f"Recipe: `{recipe['name']}` ({recipe['kind']}), protocol "
        f"`{recipe['protocol']}`, folds {', '.join(map(str, context['folds']))}; "
        f"config `{rel}`; variants "
        + ", ".join(f"`{c.name}` ({_paper_name(c.variant)})" for c in context["configs"])
        + ".",
        "",
    ]
    return "\n".join(lines) + "\n"


def _environment_section(context):
    env = context["environment"]
    versions = dict(env["versions"])
    for module in ("scipy", "sklearn", "soundfile"):
        version = module_version(module)
        if version:  # not installed: not recorded
            versions[module] = version
    fingerprints = sorted({r.get("weights_fingerprint") for r in context["results"]} - {None})
    presets = sorted({c.preset for c in context["configs"]})
    fold_seconds = sum(r.get("wall_seconds", 0.0) for r in context["results"])
    lines = [
        "## Environment",
        "",
        f"- Date: {env['date']}",
        f"- kser {versions.get('kser')}, git revision {env['git_revision']}",
        f"- Backend: {env['backend']}; device: {env['device']}",
        f"- Python {env['python']} on {env['platform']}",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        f"- Mode: {'smoke (synthetic corpus, random tiny backbone)' if context['smoke'] else 'full'}",
        f"- Data: `{context['data']}`",
        f"- Backbone preset: {', '.join(presets)}"
        + (" (random weights, built in the script)" if context["smoke"] else ""),
        "- Checkpoint weights fingerprint: "
        + (", ".join(f"`{f}`" for f in fingerprints) or "—"),
        f"- Command: `{context['command']}`",
        f"- Wall time: {context['wall_seconds']:.1f} s in all "
        f"({fold_seconds:.1f} s summed over the training folds, which "
        "overlap under --jobs; folds finished by an earlier run are reused, "
        "not retrained)",
        f"- Run folder: `{context['run_dir']}` (per-fold result.json, "
        "metrics.json, history.csv, predictions.csv, plots)",
        "",
    ]
    return "\n".join(lines)


# --- cv: Table I and EmoBox ---------------------------------------------


def _cv_body(context):
    recipe = context["recipe"]
    names = [c.name for c in context["configs"]]
    table = _by_variant(context["results"])
    records = [
        {
            "fold": r["fold"],
            "train_actors": r["train_actors"],
            "val_actors": r["val_actors"],
            "test_actors": r["test_actors"],
            "results": {r["variant"]: r["accuracy"]},
        }
        for r in context["results"]
    ]
    summary = cv_summary(records, variants=names, folds=context["folds"])
    accuracy = {v: {f: r["accuracy"] for f, r in table.get(v, {}).items()} for v in names}
    parts = [
        "## Our results",
        "",
        format_cv_summary_markdown(summary),
    ]
    if recipe["protocol"] == "paper":
        parts += [_beside_table1(names, accuracy, context["folds"])]
    else:
        parts += [_beside_emobox(names, accuracy, recipe)]
    parts += [
        "## Statistics",
        "",
        "Test accuracy across folds, per variant:",
        "",
        stats.format_describe_markdown({v: accuracy[v] for v in names}),
        "Paired comparisons over the same folds (two-sided; Wilcoxon "
        "signed-rank drops zero differences; — means the test cannot run, "
        "with the reason):",
        "",
        _comparisons(accuracy, "folds"),
    ]
    if recipe["protocol"] == "paper":
        readable = {v: {f: x for f, x in paper.TABLE1[v].items() if x is not None}
                    for v in names if v in paper.TABLE1}
        parts += [
            "The paper's own Table I, over the folds readable from its text "
            "(see Notes):",
            "",
            stats.format_describe_markdown(readable),
            _comparisons(readable, "folds"),
        ]
        parts += _notes()
    return "\n".join(parts) + "\n"


def _beside_table1(names, accuracy, folds):
    header = ["Fold"]
    for v in names:
        header += [f"{v} ours", f"{_paper_name(v)} paper", "Δ"]
    lines = ["## Beside the paper (Table I)", "", _row(header),
             _row(["---:"] + ["---:"] * (3 * len(names)))]
    for fold in folds:
        cells = [fold]
        for v in names:
            ours = accuracy[v].get(fold)
            theirs = paper.TABLE1.get(v, {}).get(fold)
            cells += [_f(ours), _f(theirs), _diff(ours, theirs)]
        lines.append(_row(cells))
    mean_cells, best_cells = ["**Mean**"], ["**Best**"]
    for v in names:
        ours = stats.describe(accuracy[v])["mean"]
        theirs = paper.TABLE1_MEAN.get(v)
        mean_cells += [_f(ours), _f(theirs), _diff(ours, theirs)]
        ours_best = max(accuracy[v].items(), key=lambda p: p[1], default=None)
        theirs_best = paper.TABLE1_BEST.get(v)
        best_cells += [
            "—" if ours_best is None else f"{ours_best[1]:.3f} (fold {ours_best[0]})",
            "—" if theirs_best is None
            else f"{theirs_best['value']:.3f} (fold {theirs_best['fold']})",
            _diff(ours_best and ours_best[1], theirs_best and theirs_best["value"]),
        ]
    lines += [_row(mean_cells), _row(best_cells), ""]
    lines.append(
        "Paper: test accuracy per fold as printed in Table I; the paper's "
        "means are over all 12 folds, ours over the folds run. — : not run, "
        "or not readable from the paper's text (see Notes)."
    )
    return "\n".join(lines) + "\n"


def _beside_emobox(names, accuracy, recipe):
    refs = paper.EMOBOX_RAVDESS_WA
    header = ["System", "WA %"] + [f"Δ vs {k}" for k in refs]
    lines = ["## Beside EmoBox (RAVDESS, 6 folds, WA %)", "", _row(header),
             _row(["---", "---:"] + ["---:"] * len(refs))]
    for v in names:
        mean = stats.describe(accuracy[v])["mean"]
        wa = None if mean is None else 100.0 * mean
        lines.append(_row(
            [f"kser {v} ({_paper_name(v)})", _f(wa, 2)]
            + [_diff(wa, r, 2) for r in refs.values()]
        ))
    for name, value in refs.items():
        lines.append(_row([f"EmoBox {name}", f"{value:.2f}"] + [""] * len(refs)))
    lines += [
        "",
        "EmoBox: frozen upstream features, 6 speaker folds of 4 test actors, "
        "8 classes; our WA is the mean test accuracy over the folds run. For "
        "context, the paper's 12-fold means (its own protocol): "
        + ", ".join(f"{_paper_name(v)} {100 * m:.1f}%" for v, m in paper.TABLE1_MEAN.items())
        + ".",
        "",
    ]
    return "\n".join(lines) + "\n"


def _notes():
    return ["## Notes on the paper's numbers", ""] + [f"- {n}" for n in paper.NOTES] + [""]


# --- one fold: Tables II-IV and the figures ------------------------------


def _fold_of(context):
    folds = context["folds"]
    if len(folds) != 1:
        raise KserError(
            f"recipe {context['recipe']['name']} runs one fold, got {folds}"
        )
    return folds[0]


def _fold_dir(context, variant, fold):
    return _run_fold_dir(context["run_dir"], variant, fold)


def _clip_correctness(context, fold):
    """variant -> {clip file: 1.0 if correct else 0.0} on the test actors."""
    values = {}
    for c in context["configs"]:
        path = os.path.join(_fold_dir(context, c.name, fold), "predictions.csv")
        if not os.path.exists(path):
            continue
        rows = read_predictions(path)
        values[c.name] = {
            r["file"]: float(r["label"] == r["predicted"]) for r in rows
        }
    return values


def _clip_statistics(context, fold):
    values = _clip_correctness(context, fold)
    return "\n".join([
        "## Statistics",
        "",
        f"One fold (fold {fold}) has no spread across folds; instead, test "
        "accuracy as the mean of per-clip correctness (1 right, 0 wrong), "
        "with a bootstrap interval over test clips:",
        "",
        stats.format_describe_markdown(values),
        "Paired comparisons clip by clip on the same test clips (two-sided; "
        "Wilcoxon on the 0/1 differences is a sign test on the clips where "
        "the variants disagree):",
        "",
        _comparisons(values, "test clips"),
    ]) + "\n"


def _history_body(context):
    fold = _fold_of(context)
    parts = []
    for c in context["configs"]:
        fold_dir = _fold_dir(context, c.name, fold)
        history = read_history(os.path.join(fold_dir, "history.csv"))
        metrics = read_metrics(os.path.join(fold_dir, "metrics.json"))
        theirs = paper.HISTORIES.get(c.name)
        title = f"Table {theirs['table']}" if theirs else "no paper table"
        parts += [f"## {c.name} ({_paper_name(c.variant)}), fold {fold}: beside {title}", ""]
        header = ["Epoch"]
        for label in ("Train acc", "Val acc", "Train loss", "Val loss"):
            header += [f"{label} ours", "paper", "Δ"]
        parts += [_row(header), _row(["---:"] * len(header))]
        paper_epochs = {e["epoch"]: e for e in (theirs or {}).get("epochs", [])}
        epochs = sorted(set(history["epoch"]) | set(paper_epochs))
        for epoch in epochs:
            cells = [epoch]
            for column in paper.HISTORY_COLUMNS:
                ours = None
                if epoch in history["epoch"] and column in history:
                    value = history[column][history["epoch"].index(epoch)]
                    ours = None if value != value else value  # NaN: missing
                ref = paper_epochs.get(epoch, {}).get(column)
                cells += [_f(ours), _f(ref), _diff(ours, ref)]
            parts.append(_row(cells))
        ours_acc, ours_loss = metrics["accuracy"], metrics.get("log_loss")
        ref_acc = theirs and theirs["test_accuracy"]
        ref_loss = theirs and theirs["test_loss"]
        parts += [
            "",
            _row(["", "Test accuracy", "Test loss", "Kept epoch"]),
            _row(["---", "---:", "---:", "---:"]),
            _row(["ours", _f(ours_acc), _f(ours_loss), metrics.get("best_epoch", "—")]),
            _row(["paper", _f(ref_acc), _f(ref_loss),
                  len(paper_epochs) or "—"]),
            _row(["Δ", _diff(ours_acc, ref_acc), _diff(ours_loss, ref_loss), ""]),
            "",
            f"Curves: [training_curves.png]({os.path.relpath(fold_dir, context['out'])}/training_curves.png). "
            "Ours keep the best epoch on validation accuracy and test it once; "
            "the paper tests after its last epoch.",
            "",
        ]
    parts.append(_clip_statistics(context, fold))
    parts += _notes()
    return "\n".join(parts) + "\n"


def _figures_body(context):
    fold = _fold_of(context)
    parts = []
    for c in context["configs"]:
        fold_dir = _fold_dir(context, c.name, fold)
        metrics = read_metrics(os.path.join(fold_dir, "metrics.json"))
        figures = paper.FIGURES.get(c.name, {})
        ref_correct = paper.CORRECT.get(c.name, {})
        ref_scores = paper.PER_CLASS.get(c.name, {})
        rel = os.path.relpath(fold_dir, context["out"])
        parts += [
            f"## {c.name} ({_paper_name(c.variant)}), fold {fold}: beside "
            f"{figures.get('counts', '—')} and {figures.get('confusion', '—')}",
            "",
            _row(["Class", "Correct ours", "paper", "Δ", "Precision ours", "paper",
                  "Recall ours", "paper", "F1 ours", "paper"]),
            _row(["---"] + ["---:"] * 9),
        ]
        for name in metrics["label_names"]:
            ours = metrics["per_class"][name]
            ref = ref_scores.get(name, {})
            ref_count = ref_correct.get(name)
            parts.append(_row([
                name,
                f"{ours['correct']}/{ours['support']}",
                "—" if ref_count is None else f"{ref_count}/{paper.SUPPORT[name]}",
                "—" if ref_count is None else f"{ours['correct'] - ref_count:+d}",
                _f(ours["precision"]), _f(ref.get("precision")),
                _f(ours["recall"]), _f(ref.get("recall")),
                _f(ours["f1"]), _f(ref.get("f1")),
            ]))
        ref_acc = paper.FIGURE_ACCURACY.get(c.name)
        parts += [
            "",
            f"Accuracy: ours {_f(metrics['accuracy'])} "
            f"({metrics['num_correct']}/{metrics['num_samples']}), paper "
            f"{_f(ref_acc, 4)}, Δ {_diff(metrics['accuracy'], ref_acc)}. "
            f"Macro F1 ours {_f(metrics['macro_f1'])}.",
            "",
            "Confusion matrix (rows true, columns predicted):",
            "",
            _confusion_markdown(metrics),
            f"Plots: [correct_per_class.png]({rel}/correct_per_class.png), "
            f"[confusion_matrix.png]({rel}/confusion_matrix.png), "
            f"[confusion_matrix_normalized.png]({rel}/confusion_matrix_normalized.png).",
            "",
        ]
    parts.append(_clip_statistics(context, fold))
    parts += _notes()
    return "\n".join(parts) + "\n"


def _confusion_markdown(metrics):
    cm = metrics["confusion_matrix"]
    labels = cm["labels"]
    lines = [_row(["true \\ predicted"] + labels),
             _row(["---"] + ["---:"] * len(labels))]
    for name, counts in zip(labels, cm["counts"]):
        lines.append(_row([name] + counts))
    return "\n".join(lines) + "\n"


BUILDERS = {"cv": _cv_body, "history": _history_body, "figures": _figures_body}
