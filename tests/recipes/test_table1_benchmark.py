"""`recipes/benchmarks/table1_cv.py`: its options and its report."""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "recipes", "benchmarks")


def _module():
    sys.path.insert(0, BENCHMARKS)
    try:
        path = os.path.join(BENCHMARKS, "table1_cv.py")
        spec = importlib.util.spec_from_file_location("table1_cv", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCHMARKS)
    return module


def test_an_unknown_phase_stops_before_any_work(tmp_path):
    table1 = _module()
    work = tmp_path / "work"
    with pytest.raises(SystemExit, match="unknown phase 'both'"):
        table1.main(["--work", str(work), "--phases", "cold,both"])
    assert not work.exists()


def test_reference_rate_is_a_positive_matmul_rate():
    table1 = _module()
    rate = table1.reference_gflops(seconds=0.05, size=128)
    assert 0.01 < rate < 1e5


def test_the_report_names_each_runs_reference_rate():
    table1 = _module()
    run = {
        "wall_seconds": 1800.0, "workers_started_after_seconds": 600.0,
        "peak_memory_gib": 5.0, "peak_main_gib": 2.8,
        "peak_one_worker_gib": 2.0, "peak_rss_largest_process_gib": 2.9,
        "fold_seconds_by_variant": {"dense": 120.0, "lstm": 2400.0},
        "reference_gflops_before_after": [101.4, 88.6],
    }
    results = {
        "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 24, "python": "3.11"},
        "versions": {"kser": "0"}, "backend": "jax", "preset": "p",
        "corpus": {"clips": 1440, "clip_seconds": 3.5}, "jobs": 2,
        "runs": {"cold": run},
    }
    text = table1.format_results(results)
    assert "| cold | 30.0 | 10.0 | 5.00 | 2.80 / 2.00 | 2.90 | dense 2.0 min, lstm 40.0 min |" in text
    assert "cold 101 / 89" in text
