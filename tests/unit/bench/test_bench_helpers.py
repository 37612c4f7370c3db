"""We test these aspects of the pure helpers of ``hack/measure.py``: percentiles interpolate
between closest ranks (p50 of an even count is the mean of the middle two, p0/p100 are the
extremes, order does not matter, nothing gives NaN), a rate per minute counts the intervals
between first and last event, and counter samples are summed per resource from the Prometheus
text format with a label filter."""

from __future__ import annotations

import math

import pytest

from bench import measure


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert measure.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert measure.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert measure.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 99) == pytest.approx(4.96)
    assert measure.percentile([7.0, 1.0], 0) == 1.0
    assert measure.percentile([7.0, 1.0], 100) == 7.0
    assert measure.percentile([3.0], 99) == 3.0


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(measure.percentile([], 50))


def test_rate_per_minute_counts_intervals_between_first_and_last() -> None:
    assert measure.rate_per_minute([10.0, 40.0, 70.0]) == 2.0
    assert measure.rate_per_minute([0.0, 0.6 * 99]) == pytest.approx(60 / (0.6 * 99))
    assert math.isnan(measure.rate_per_minute([5.0]))
    assert math.isnan(measure.rate_per_minute([5.0, 5.0]))


def test_metric_sums_adds_kept_samples_per_resource() -> None:
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
    writes = measure.metric_sums(
        text, "podeip_kube_api_requests_total", lambda labels: labels["verb"] in {"patch", "create"}
    )
    assert writes == {"pods": 4.0, "events": 2.0}
