"""We test these aspects of the pure helpers of ``hack/bench.py``: percentiles interpolate
between closest ranks (p50 of an even count is the mean of the middle two, p0/p100 are the
extremes, order does not matter, nothing gives NaN), a rate per minute counts the intervals
between first and last event, and counter samples are summed per resource from the Prometheus
text format with a label filter."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "hack" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podeip_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_percentile_interpolates_between_closest_ranks(bench: ModuleType) -> None:
    assert bench.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert bench.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 99) == pytest.approx(4.96)
    assert bench.percentile([7.0, 1.0], 0) == 1.0
    assert bench.percentile([7.0, 1.0], 100) == 7.0
    assert bench.percentile([3.0], 99) == 3.0


def test_percentile_of_nothing_is_nan(bench: ModuleType) -> None:
    assert math.isnan(bench.percentile([], 50))


def test_rate_per_minute_counts_intervals_between_first_and_last(bench: ModuleType) -> None:
    assert bench.rate_per_minute([10.0, 40.0, 70.0]) == 2.0
    assert bench.rate_per_minute([0.0, 0.6 * 99]) == pytest.approx(60 / (0.6 * 99))
    assert math.isnan(bench.rate_per_minute([5.0]))
    assert math.isnan(bench.rate_per_minute([5.0, 5.0]))


def test_metric_sums_adds_kept_samples_per_resource(bench: ModuleType) -> None:
    text = "\n".join(
        [
            "# HELP podeip_kube_api_requests_total Requests.",
            'podeip_kube_api_requests_total{code="200",resource="pods",verb="patch"} 3.0',
            'podeip_kube_api_requests_total{code="409",resource="pods",verb="patch"} 1.0',
            'podeip_kube_api_requests_total{code="200",resource="pods",verb="get"} 9.0',
            'podeip_kube_api_requests_total{code="201",resource="events",verb="create"} 2.0',
            'podeip_other_total{resource="pods",verb="patch"} 5.0',
        ]
    )
    writes = bench.metric_sums(
        text, "podeip_kube_api_requests_total", lambda labels: labels["verb"] in {"patch", "create"}
    )
    assert writes == {"pods": 4.0, "events": 2.0}
