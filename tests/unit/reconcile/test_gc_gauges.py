"""We test these aspects of the gauges the chart's alerts read, set by each garbage-collection
pass from the PodEIPs: the number of EIPs kept unbound for gone pods and the longest of those
waits (from ``podLastSeen``), the longest a PodEIP has been terminating, and zero for both when
nothing waits; bound PodEIPs and PodEIPs without a status do not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.observability.metrics import Metrics
from podeip.reconcile.gc import record_ages

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stamp(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def podeip(name: str, *, status: dict[str, Any] | None = None, deleting_since: float | None = None) -> PodEIP:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}"}
    if deleting_since is not None:
        metadata["deletionTimestamp"] = stamp(deleting_since)
        metadata["finalizers"] = [c.FINALIZER]
    body: dict[str, Any] = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": metadata,
        "spec": {
            "allocationID": f"eip-{name}",
            "allocationType": {"type": "Auto", "releaseStrategy": "Never"},
        },
    }
    if status is not None:
        body["status"] = status
    return PodEIP.model_validate(body)


def gauges(podeips: list[PodEIP]) -> dict[str, float]:
    metrics = Metrics()
    record_ages(SimpleNamespace(clock=lambda: NOW, metrics=metrics), podeips)  # type: ignore[arg-type]
    sample = metrics.registry.get_sample_value
    return {
        "kept": sample(c.METRIC_EIPS, {"state": "kept"}) or 0.0,
        "unbound": sample(c.METRIC_UNBOUND_SECONDS) or 0.0,
        "terminating": sample(c.METRIC_TERMINATING_SECONDS) or 0.0,
    }


def test_kept_unbound_eips_and_the_longest_wait_are_counted() -> None:
    found = gauges(
        [
            podeip("kept-long", status={"status": "Available", "podLastSeen": stamp(90)}),
            podeip("kept-short", status={"status": "Available", "podLastSeen": stamp(5)}),
            podeip("bound", status={"status": "InUse", "podLastSeen": stamp(300)}),
            podeip("fresh"),
        ]
    )
    assert found == {"kept": 2, "unbound": 90 * 60, "terminating": 0.0}


def test_the_longest_terminating_podeip_is_measured() -> None:
    found = gauges([podeip("a", deleting_since=20), podeip("b", deleting_since=3), podeip("c")])
    assert found["terminating"] == 20 * 60


def test_nothing_waiting_reads_zero() -> None:
    assert gauges([]) == {"kept": 0.0, "unbound": 0.0, "terminating": 0.0}
