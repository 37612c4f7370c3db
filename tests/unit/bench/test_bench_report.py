"""We test these aspects of the benchmark's report (``hack/bench/report.py``): the all-ready and
p50 floors of a burst at the configured limit and at Alibaba's published 120/min; the Targets
table gives every row of issue 13, with measured value, ratio and verdict where the run measured
it and "not measured in this run" where it did not; results survive a round trip through JSON
(pod counts as keys come back as ints), and the before figures keep their commit."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from bench import report
from bench.report import NOT_MEASURED, Results


def results() -> Results:
    r = Results(
        commit="abc1234",
        client_limits={"AssociateEipAddress": 110.0},
        client_bursts={"AssociateEipAddress": 10},
    )
    r.bursts[500] = {"p50": 150.0, "wall": 300.0, "l1": 2.3, "throttled": 0}
    r.lifecycles[report.SINGLE] = {"count": 5, "total": 7.0, "calls": {}, "kube": {}, "kube_bind": {}}
    r.lifecycles["Auto, Follow, 100-pod burst"] = {
        "count": 100,
        "total": 5.5,
        "calls": {},
        "kube": {"get pods": 3.0, "patch podeips": 4.0},
        "kube_bind": {"get pods": 1.0, "patch podeips": 4.0},
    }
    r.at_rest[500] = {
        "kube_per_min": {"get podeips": 1.0},
        "calls_per_period": {"DescribeEipAddresses": 6.0},
        "new_pod": math.nan,
        "new_pod_limit": 180.0,
        "l1": 2.3,
        "throttled": 0,
    }
    return r


def test_burst_floors_at_both_limits() -> None:
    floors = report.burst_floors(results(), 500)
    assert floors["all"] == pytest.approx(490 / 110 * 60 + 2.3)
    assert floors["all_published"] == pytest.approx(488 / 120 * 60 + 2.3)
    assert floors["p50"] == pytest.approx(240 / 110 * 60 + 2.3)
    assert floors["p50_published"] == pytest.approx(238 / 120 * 60 + 2.3)


def test_targets_give_every_row_with_verdicts_or_not_measured() -> None:
    rows = {t.measure: t for t in report.targets(results())}
    all_ready = rows["500-pod burst, all ready"]
    assert all_ready.ratio == pytest.approx(300 / (490 / 110 * 60 + 2.3))
    assert all_ready.met is True  # 1.10× ≤ 1.15×
    assert rows["500-pod burst, p50 time to EIP"].met is True  # 150 / 133.2 = 1.13×
    bound = rows["pods bound per minute in the 500-pod burst (from the watch)"]
    assert bound.measured == "100.0/min" and bound.met is False  # 500 in 300 s: 91 % of 110/min < 95 %
    assert rows["Kubernetes requests per pod until bound (Auto, Follow, 100-pod burst)"].measured == "5.0"
    assert (
        rows["cloud calls per Auto/Follow lifecycle, Auto, Follow, 100-pod burst, batched calls shared"].met
        is False
    )
    assert rows["cloud calls per lifecycle, one pod alone"].met is True
    assert rows["Kubernetes requests/min at rest, 500 PodEIPs (Lease aside)"].met is True
    gc = rows["cloud calls per GC period at rest, 500 PodEIPs"]
    assert (gc.limit, gc.goal, gc.met) == ("⌈N/100⌉ = 5", "≤ 6", True)
    assert rows["one new pod's time to EIP with 500 PodEIPs at rest"].met is False
    for name in (
        "restart, 5,000 PodEIPs, until every PodEIP was checked",
        "peak RSS, 20,000 plain + 2,000 EIP pods, first process and after restart",
    ):
        assert rows[name].measured == NOT_MEASURED and rows[name].met is None
    churn = rows["restart after 100 pods deleted and 100 created while down, 5,000 PodEIPs"]
    assert churn.measured == NOT_MEASURED and churn.met is None
    assert len([t for t in rows.values() if "throttling" not in t.measure]) == 12  # issue 13's + churn


def test_nothing_measured_still_gives_the_table() -> None:
    rows = report.targets(Results())
    assert len(rows) == 12
    assert all(t.measured == NOT_MEASURED and t.met is None for t in rows)
    assert all(t.row().endswith("| — |") for t in rows)


def test_results_round_trip_and_before(tmp_path: Path) -> None:
    r = results()
    again = Results.load(json.loads(json.dumps(dataclasses.asdict(r))))
    assert 500 in again.bursts and 500 in again.at_rest
    path = tmp_path / "before.json"
    report.save_before(r, path)
    before = report.before_of(path)
    assert before is not None and before.commit == "abc1234"
    assert before.lifecycles == r.lifecycles
    assert report.before_of(tmp_path / "absent.json") is None


def test_why_names_the_largest_contributors_of_a_missed_row() -> None:
    r = results()
    r.at_rest[500]["kube_per_min"] = {"get podeips": 500.0, "get pods": 480.0, "patch podeips/status": 220.0}
    lines = report.why(r)
    at_rest = next(line for line in lines if "At rest, 500 PodEIPs" in line)
    assert "1200 Kubernetes requests/min" in at_rest and "get podeips 500.0" in at_rest
    assert "not bound within 180 s" in at_rest
    assert any("Cloud calls per lifecycle** (Auto, Follow, 100-pod burst) 5.50" in line for line in lines)
    assert not any("all ready" in line for line in lines)  # 300 s is within 1.15× of the floor


def test_why_with_nothing_missed() -> None:
    assert report.why(Results()) == ["- Nothing measured in this run is missed."]
