"""Run a recipe of `recipes/`: its config, its training runs, its RESULTS.md.

A recipe is a folder holding `config.json`. A config may name a base config
(`"extends": "../base.json"`, relative to the recipe), which it overrides
key by key (nested dicts merge; lists and values replace). `--set
key=value` (dotted keys, JSON values) overrides the merged config once
more. There is one way to run any recipe:

    kser recipe recipes/table1 --smoke
    kser recipe recipes/table1 --data RAVDESS --preset hubert_base_ls960

Two modes:
- full (default): `data` a corpus folder, `preset` a converted checkpoint
  (name or folder); the config's folds and epochs.
- smoke: a synthetic corpus (written under `out`, or `data`), a tiny
  HuBERT with random weights, the config's `smoke` settings (1 epoch, few
  folds). The numbers show that the pipeline works, nothing more.

Recipe kinds (config `kind`): `cv` (Table I, EmoBox), `history` (Tables
II-IV) and `figures` (Figures 3-11); RESULTS.md is built by
`kser.report.recipe_results`.
"""

import copy
import json
import os
import time

from kser.errors import KserError

KINDS = ("cv", "history", "figures", "multicorpus")
REQUIRED = ("name", "kind", "protocol", "folds", "variants", "train", "smoke")
# A multi-corpus recipe names corpora instead of one protocol and folds.
REQUIRED_MULTICORPUS = ("name", "kind", "corpora", "variants", "train", "smoke")


def _read_json(path, what):
    if not os.path.exists(path):
        raise KserError(f"{path}: no such {what}")
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as error:
        raise KserError(f"{path}: not valid JSON ({error})") from None


def merge(base, override):
    """`base` overridden by `override`: dicts merge, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare string, e.g. train.preset=hubert_large_ll60k


def apply_overrides(config, overrides):
    """Apply `key=value` strings (dotted keys, JSON values) to a config."""
    config = copy.deepcopy(config)
    for item in overrides or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise KserError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=3")
        *parents, leaf = key.strip().split(".")
        node = config
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise KserError(
                    f"--set {item!r}: {part!r} is not a section of the recipe config"
                )
            node = node[part]
        node[leaf] = _parse_value(value)
    return config


def load_recipe(recipe_dir, overrides=()):
    """Read a recipe's config (with its base and overrides) and check it."""
    path = os.path.join(os.fspath(recipe_dir), "config.json")
    config = _read_json(path, "recipe config")
    base_name = config.pop("extends", None)
    if base_name:
        base_path = os.path.normpath(os.path.join(os.path.dirname(path), base_name))
        config = merge(_read_json(base_path, "base config"), config)
    config = apply_overrides(config, overrides)
    required = (
        REQUIRED_MULTICORPUS if config.get("kind") == "multicorpus" else REQUIRED
    )
    for key in required:
        if key not in config:
            raise KserError(f"{path}: missing key {key!r}")
    if config["kind"] not in KINDS:
        raise KserError(f"{path}: kind must be one of {', '.join(KINDS)}")
    config["path"] = path
    return config


def train_configs(recipe, smoke=False, preset=None):
    """One `TrainConfig` per variant: `train`, then per-variant, then smoke."""
    from kser.train.config import TrainConfig

    configs = []
    for variant in recipe["variants"]:
        values = dict(recipe["train"])
        values.update(recipe.get("per_variant", {}).get(variant, {}))
        if smoke:
            values.update(recipe["smoke"].get("train", {}))
            values["preset"] = "smoke-random"
        elif preset:
            values["preset"] = preset
        values["variant"] = variant
        values["protocol"] = recipe.get("protocol")
        if "corpus" in recipe:
            values["corpus"] = recipe["corpus"]
        configs.append(TrainConfig.from_dict(values))
    return configs


def _select(recipe, folds, variants, smoke):
    if folds:
        folds = [int(f) for f in str(folds).split(",") if f.strip()]
    else:
        chosen = recipe["smoke"].get("folds") if smoke else recipe.get("folds")
        folds = None if chosen is None else list(chosen)
    if variants:
        wanted = [v.strip() for v in str(variants).split(",") if v.strip()]
        unknown = sorted(set(wanted) - set(recipe["variants"]))
        if unknown:
            raise KserError(
                f"unknown variant {unknown[0]!r}: choose from "
                f"{', '.join(recipe['variants'])}"
            )
        recipe["variants"] = [v for v in recipe["variants"] if v in wanted]
    return folds


def run_recipe(
    recipe_dir,
    smoke=False,
    data=None,
    preset=None,
    out=None,
    folds=None,
    variants=None,
    run=None,
    cache_dir=None,
    jobs=1,
    quiet=False,
    overrides=(),
    command=None,
    allow_missing_speakers=False,
):
    """Run one recipe and write its RESULTS.md.

    Args:
        recipe_dir: str. The recipe folder (holding `config.json`).
        smoke: bool. Synthetic corpus, tiny random backbone, few folds.
        data: str or None. The corpus folder (needed in full mode).
        preset: str or None. Converted checkpoint (default: the config's).
        out: str or None. Where RESULTS.md goes (default `results/` or
            `smoke/` beside the config).
        folds: str or list or None. Comma-separated folds (default the
            config's).
        variants: str or None. Comma-separated variants (default all).
        run: str or None. Training run folder (default `OUT/run`); finished
            folds with the same config are reused.
        cache_dir: str or None. Backbone feature cache.
        jobs: int. Folds whose heads train at once in worker processes.
        quiet: bool. No progress output.
        overrides: list of str. `key=value` overrides of the config.
        command: str or None. The command line, for RESULTS.md.
        allow_missing_speakers: bool. Run folds whose validation or test
            speakers have no clips (see `kser.data.folds.check_fold_speakers`);
            smoke runs always allow it.

    Returns:
        str. The path of the RESULTS.md written.
    """
    from kser.report import collect_results
    from kser.report import atomic_write_text
    from kser.report.recipe_results import format_results
    from kser.train.config import environment
    from kser.train.training import run_training

    started = time.time()
    recipe_dir = os.fspath(recipe_dir)
    recipe = load_recipe(recipe_dir, overrides)
    if isinstance(folds, (list, tuple)):
        folds = ",".join(str(f) for f in folds)
    folds = _select(recipe, folds, variants, smoke)
    out = os.path.abspath(out or os.path.join(recipe_dir, "smoke" if smoke else "results"))
    configs = train_configs(recipe, smoke=smoke, preset=preset)
    backbone = normalize = None
    if smoke:
        backbone = _smoke_backbone(recipe["smoke"])
        normalize = True
        if recipe["kind"] != "multicorpus":
            data = data or _smoke_corpus(recipe["smoke"]["corpus"], out)
    if recipe["kind"] == "multicorpus":
        from kser.reproduce.multicorpus import run_multicorpus

        return run_multicorpus(
            recipe, configs, smoke, data, out, run, cache_dir, jobs, quiet,
            backbone, normalize, folds,
            command or f"kser recipe {recipe_dir}", started,
        )
    if not smoke and not data:
        raise KserError(
            "full mode needs --data (a corpus folder) and a converted "
            "checkpoint (--preset, or the config's); --smoke runs without"
        )
    run_dir = os.path.abspath(run or os.path.join(out, "run"))
    run_training(
        data,
        configs,
        run_dir,
        folds=folds,
        cache_dir=cache_dir,
        backbone=backbone,
        normalize=normalize,
        progress=not quiet,
        jobs=jobs,
        # Smoke corpora hold a few speakers; a real run needs them all.
        allow_missing_speakers=smoke or allow_missing_speakers,
    )
    names = [c.name for c in configs]
    results = [
        r for r in collect_results(run_dir) if r["variant"] in names and r["fold"] in folds
    ]
    context = {
        "recipe": recipe,
        "configs": configs,
        "folds": folds,
        "smoke": smoke,
        "data": os.path.abspath(data),
        "run_dir": run_dir,
        "out": out,
        "results": results,
        "command": command or f"kser recipe {recipe_dir}",
        "environment": environment(),
    }
    context["wall_seconds"] = time.time() - started
    path = os.path.join(out, "RESULTS.md")
    atomic_write_text(path, format_results(context))
    if not quiet:
        print(f"wrote {path}")
    return path


def _smoke_corpus(spec, out):
    from kser.data import load_corpus
    from kser.data.synthetic import write_corpus
    from kser.errors import DataError

    path = os.path.join(out, "corpus")
    try:
        load_corpus("ravdess", path)
        return path
    except DataError:
        pass
    write_corpus(
        path,
        actors=spec.get("actors", 24),
        clip_seconds=spec.get("clip_seconds", 0.3),
        seed=spec.get("seed", 0),
        overwrite=True,
    )
    return path


def _smoke_backbone(spec):
    import keras

    from kser.models import build_backbone

    keras.utils.set_random_seed(spec.get("backbone_seed", 0))
    return build_backbone(
        spec.get("family", "hubert"), **spec["backbone"], padding_invariant=True
    )
