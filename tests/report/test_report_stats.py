"""Statistics across folds: hand-checkable numbers."""

import math

import pytest

from kser.report.stats import bootstrap_ci
from kser.report.stats import describe
from kser.report.stats import format_comparisons_markdown
from kser.report.stats import format_describe_markdown
from kser.report.stats import paired_comparison


def test_describe_mean_and_sample_std():
    s = describe([1.0, 2.0, 3.0, 4.0])
    assert s["n"] == 4 and s["mean"] == 2.5
    # Sample variance: (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3.
    assert s["std"] == pytest.approx(math.sqrt(5 / 3))
    assert (s["min"], s["max"]) == (1.0, 4.0)


def test_describe_skips_missing_and_handles_few_values():
    s = describe({1: 0.5, 2: None, 3: 0.7})
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.6)
    one = describe([0.8])
    assert one["mean"] == 0.8 and one["std"] is None
    assert describe([])["mean"] is None


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = [0.6, 0.7, 0.8, 0.65, 0.75]
    a = bootstrap_ci(values, seed=3)
    b = bootstrap_ci(values, seed=3)
    assert a == b
    assert a["low"] < 0.7 < a["high"]
    assert 0.6 <= a["low"] and a["high"] <= 0.8
    assert a["resamples"] == 10000 and a["reason"] is None


def test_bootstrap_ci_of_constant_values_is_a_point():
    ci = bootstrap_ci([0.5, 0.5, 0.5])
    assert ci["low"] == ci["high"] == 0.5


def test_bootstrap_ci_needs_two_values():
    ci = bootstrap_ci([0.5])
    assert ci["low"] is None and ci["high"] is None
    assert "at least 2" in ci["reason"]
    with pytest.raises(ValueError):
        bootstrap_ci([0.1, 0.2], confidence=1.5)


def test_paired_comparison_all_positive_differences():
    # Differences 1..5: Wilcoxon W = 0 (no negative ranks), exact two-sided
    # p = 2 / 2**5 = 0.0625. Paired t: mean 3, sd sqrt(2.5), t = 3 / (sqrt
    # (2.5) / sqrt 5) = 3 * sqrt(2).
    c = paired_comparison([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert c["n"] == 5 and c["mean_difference"] == 3.0
    assert (c["wins"], c["losses"], c["ties"]) == (5, 0, 0)
    assert c["wilcoxon"]["statistic"] == 0.0
    assert c["wilcoxon"]["p_value"] == pytest.approx(0.0625)
    assert c["ttest"]["statistic"] == pytest.approx(3 * math.sqrt(2))
    assert 0.01 < c["ttest"]["p_value"] < 0.02


def test_paired_comparison_pairs_dicts_by_fold_and_handles_zero_differences():
    a = {1: 0.5, 2: 0.6, 3: 0.7, 4: None}
    b = {1: 0.4, 2: 0.6, 3: 0.5, 5: 0.9}
    c = paired_comparison(a, b)
    assert c["folds"] == [1, 2, 3]
    assert (c["wins"], c["losses"], c["ties"]) == (2, 0, 1)
    # The zero difference is dropped: two positive ranks, W = 0.
    assert c["wilcoxon"]["statistic"] == 0.0
    assert c["wilcoxon"]["reason"] is None


def test_paired_comparison_float_noise_is_not_a_difference():
    c = paired_comparison([0.7, 0.8], [0.6, 0.7])
    # Both differences are 0.1 up to float noise: t-test cannot run.
    assert c["ttest"]["p_value"] is None
    assert "constant" in c["ttest"]["reason"]


def test_paired_comparison_degenerate_cases_return_reasons():
    same = paired_comparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same["wilcoxon"]["p_value"] is None
    assert same["wilcoxon"]["reason"] == "all differences are zero"
    assert same["ttest"]["p_value"] is None
    one = paired_comparison([0.9], [0.5])
    assert one["n"] == 1
    assert "at least 2" in one["wilcoxon"]["reason"]
    assert "at least 2" in one["ttest"]["reason"]
    with pytest.raises(ValueError):
        paired_comparison([1, 2], [1])


def test_markdown_tables():
    text = format_describe_markdown({"lstm": [0.7, 0.8], "dense": [0.5]})
    assert "| lstm | 2 | 0.750 |" in text
    assert "needs at least 2" in text and "10000 resamples" in text
    comp = format_comparisons_markdown(
        {"lstm vs dense": paired_comparison([1, 2, 3, 4, 5], [0] * 5)}
    )
    assert "| lstm vs dense | 5 | 3.000 | 5 / 0 / 0 |" in comp
    assert "0.0625" in comp
