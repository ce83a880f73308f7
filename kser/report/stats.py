"""Statistics across folds: spread, bootstrap intervals, paired tests.

A reviewer's questions about a cross-validation: how much do folds vary
(`describe`: mean and sample standard deviation), how sure is the mean
(`bootstrap_ci`: a seeded percentile bootstrap), and does one variant beat
another on the same folds (`paired_comparison`: Wilcoxon signed-rank and
paired t-test, from scipy.stats). Where a statistic cannot be computed
(too few values, all differences zero) it is None with a `reason`, never
NaN or an exception.
"""

import math
import warnings

import numpy as np

#: Bootstrap resamples: enough that the 2.5/97.5 percentiles of a mean
#: settle to about 3 decimals, fast for 12 folds.
BOOTSTRAP_RESAMPLES = 10000
BOOTSTRAP_SEED = 0


def _values(values):
    if isinstance(values, dict):
        values = list(values.values())
    array = np.array(
        [float(v) for v in values if v is not None and not math.isnan(float(v))],
        dtype=np.float64,
    )
    return array


def describe(values):
    """Count, mean, sample standard deviation (ddof=1), min and max.

    Args:
        values: list of float or dict of fold -> float. None entries (a fold
            without a result) are skipped.

    Returns:
        dict. `n`, `mean`, `std`, `min`, `max`; `mean`, `min` and `max` are
        None with no values, `std` with fewer than two.
    """
    x = _values(values)
    n = len(x)
    return {
        "n": n,
        "mean": float(x.mean()) if n else None,
        "std": float(x.std(ddof=1)) if n > 1 else None,
        "min": float(x.min()) if n else None,
        "max": float(x.max()) if n else None,
    }


def bootstrap_ci(values, confidence=0.95, resamples=BOOTSTRAP_RESAMPLES,
                 seed=BOOTSTRAP_SEED):
    """Percentile bootstrap confidence interval of the mean.

    Resamples the values with replacement `resamples` times (seeded, so the
    interval is reproducible) and takes the (1-confidence)/2 and
    (1+confidence)/2 percentiles of the resampled means.

    Args:
        values: list of float or dict of fold -> float (None skipped).
        confidence: float. Coverage, in (0, 1).
        resamples: int. Number of bootstrap resamples.
        seed: int. Seed of the resampling.

    Returns:
        dict. `low`, `high`, `mean`, `n`, `confidence`, `resamples`, `seed`
        and `reason` (None when computed; with fewer than two values `low`
        and `high` are None and `reason` says why).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    x = _values(values)
    result = {
        "n": len(x),
        "mean": float(x.mean()) if len(x) else None,
        "confidence": confidence,
        "resamples": int(resamples),
        "seed": seed,
        "low": None,
        "high": None,
        "reason": None,
    }
    if len(x) < 2:
        result["reason"] = f"needs at least 2 values, got {len(x)}"
        return result
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(int(resamples), len(x)))
    means = x[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    result["low"], result["high"] = float(low), float(high)
    return result


def _pair(a, b):
    """Paired values: by key for dicts, by position for lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
        return keys, _values([a[k] for k in keys]), _values([b[k] for k in keys])
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length ({len(a)} vs {len(b)}).")
    keep = [i for i in range(len(a)) if a[i] is not None and b[i] is not None]
    return keep, _values([a[i] for i in keep]), _values([b[i] for i in keep])


def paired_comparison(a, b):
    """Compare two variants on the same folds: Wilcoxon and paired t-test.

    Differences are `a - b`, fold by fold; folds missing from either side
    are left out. Wilcoxon signed-rank drops zero differences (scipy's
    `zero_method="wilcox"`) and uses the exact distribution when it can,
    the normal approximation with ties or zeros. Both tests are two-sided.

    Args:
        a: dict of fold -> float, or list of float. The first variant.
        b: same form as `a`. The second variant, on the same folds.

    Returns:
        dict. `n` (paired folds), `folds` (their keys or positions),
        `mean_difference`, `wins`/`losses`/`ties` (folds where a > b, a < b,
        a == b), and `wilcoxon` and `ttest`, each `{"statistic",
        "p_value", "reason"}` with None values and a `reason` when the test
        cannot be run.
    """
    from scipy import stats

    keys, x, y = _pair(a, b)
    # Rounded so that float noise (0.7 - 0.6 vs 0.8 - 0.7) neither breaks
    # ties between equal differences nor turns a zero into a tiny one.
    d = np.round(x - y, 12)
    n = len(d)
    result = {
        "n": n,
        "folds": keys,
        "mean_difference": float(d.mean()) if n else None,
        "wins": int((d > 0).sum()),
        "losses": int((d < 0).sum()),
        "ties": int((d == 0).sum()),
    }

    def skipped(reason):
        return {"statistic": None, "p_value": None, "reason": reason}

    if n < 2:
        reason = f"needs at least 2 paired folds, got {n}"
        result["wilcoxon"] = skipped(reason)
        result["ttest"] = skipped(reason)
        return result

    if not np.any(d != 0):
        result["wilcoxon"] = skipped("all differences are zero")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "exact" falls back with ties
            w = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
        result["wilcoxon"] = {
            "statistic": float(w.statistic),
            "p_value": float(w.pvalue),
            "reason": None,
        }

    if np.all(d == d[0]):
        result["ttest"] = skipped(
            "the differences are constant (zero variance)"
        )
    else:
        t = stats.ttest_1samp(d, 0.0)  # the paired t-test (ttest_rel)
        result["ttest"] = {
            "statistic": float(t.statistic),
            "p_value": float(t.pvalue),
            "reason": None,
        }
    return result


def _num(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def format_describe_markdown(rows, digits=3):
    """A Markdown table of `describe` + `bootstrap_ci` per variant.

    Args:
        rows: dict of variant -> list or dict of values.
        digits: int. Decimal places.

    Returns:
        str. The table and a line stating the bootstrap settings.
    """
    lines = [
        "| Variant | n | Mean | Std (ddof=1) | Min | Max | 95% bootstrap CI |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    ci = None
    for name, values in rows.items():
        s = describe(values)
        ci = bootstrap_ci(values)
        interval = (
            f"[{_num(ci['low'], digits)}, {_num(ci['high'], digits)}]"
            if ci["reason"] is None else f"— ({ci['reason']})"
        )
        lines.append(
            f"| {name} | {s['n']} | {_num(s['mean'], digits)} | "
            f"{_num(s['std'], digits)} | {_num(s['min'], digits)} | "
            f"{_num(s['max'], digits)} | {interval} |"
        )
    lines.append("")
    lines.append(
        f"Bootstrap: percentile interval of the mean, {BOOTSTRAP_RESAMPLES} "
        f"resamples, seed {BOOTSTRAP_SEED}."
    )
    return "\n".join(lines) + "\n"


def format_comparisons_markdown(comparisons, digits=3, unit="folds"):
    """A Markdown table of `paired_comparison` results.

    Args:
        comparisons: dict of label ("lstm vs dense") -> `paired_comparison`
            result.
        digits: int. Decimal places of the mean difference.
        unit: str. What was paired ("folds", "test clips").

    Returns:
        str. The table, ending with a newline.
    """
    lines = [
        f"| Comparison (a vs b) | Paired {unit} | Mean a-b | a>b / a<b / = | "
        "Wilcoxon W | Wilcoxon p | t | t-test p |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for label, c in comparisons.items():
        cells = []
        for test in ("wilcoxon", "ttest"):
            r = c[test]
            if r["reason"] is None:
                cells += [f"{r['statistic']:.3f}", f"{r['p_value']:.4g}"]
            else:
                cells += ["—", f"— ({r['reason']})"]
        lines.append(
            f"| {label} | {c['n']} | {_num(c['mean_difference'], digits)} | "
            f"{c['wins']} / {c['losses']} / {c['ties']} | " + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"
