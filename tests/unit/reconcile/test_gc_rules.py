"""We test these aspects of the orphan sweep's ownership rules (issue 10, finding 3), on the
in-process simulated cloud with a manual clock:

- an EIP that any PodEIP's ``spec.allocationID`` names is never an orphan, whatever its
  ``podeip-uid`` tag says; a tag naming none of the PodEIPs that name it is a mismatch: listed
  by a dry run, reported as a Warning on each PodEIP naming it and in the gauge, never released;
- EIPs no PodEIP names, tagged for an unknown PodEIP, are still released;
- the cap is a budget of releases per sliding hour, not per pass.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import EipStatus
from podeip.k8s.view import ClusterView
from podeip.observability.metrics import Metrics
from podeip.reconcile import gc
from podeip.reconcile.deps import Deps, asks_for_eip
from podeip.settings import CloudSettings, GCSettings, Settings
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.provider import SimulatedEipProvider

CLUSTER = "c-unit"


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, str, str]] = []

    async def warning(self, ref: Any, *, reason: str, message: str) -> None:
        self.warnings.append((ref.name, reason, message))


class PodEIPList:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def list(self) -> list[dict[str, Any]]:
        return self.bodies

    def add(self, name: str, allocation_id: str) -> str:
        uid = f"uid-{name}"
        self.bodies.append(
            {
                "apiVersion": f"{c.GROUP}/{c.VERSION}",
                "kind": c.KIND,
                "metadata": {"name": name, "namespace": "ns", "uid": uid},
                "spec": {
                    "allocationID": allocation_id,
                    "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
                },
            }
        )
        return uid


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return Engine(EngineConfig(transition_delay=0.0), clock=clock)


@pytest.fixture
def deps(engine: Engine, clock: ManualClock) -> SimpleNamespace:
    settings = Settings(
        cloud=CloudSettings(provider="simulated"),
        gc=GCSettings(orphan_grace_minutes=0, orphan_max_fraction=0.1),
    )
    return SimpleNamespace(
        settings=settings,
        cluster_id=CLUSTER,
        cloud=SimulatedEipProvider(engine, clock=clock, sleep=clock.sleep, rng=lambda: 0.5),
        podeips=PodEIPList(),
        events=Recorder(),
        metrics=Metrics(),
        enqueue=lambda key: None,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
        released_at=deque(),
        view=ClusterView(asks_for_eip=asks_for_eip),  # not ready: PodEIPs from the API's listing
    )


def tagged(engine: Engine, uid: str) -> str:
    tags = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: uid}
    return engine.seed_eip(status=EipStatus.AVAILABLE, tags=tags).allocation_id


def released(engine: Engine) -> list[str]:
    return [call.params.get("AllocationId", "") for call in engine.call_log(action="ReleaseEipAddress")]


async def test_an_eip_a_podeip_names_is_never_released_whatever_its_tag(
    deps: SimpleNamespace, engine: Engine
) -> None:
    victim = tagged(engine, "overwritten-out-of-band")
    deps.podeips.add("victim", victim)
    orphan = tagged(engine, "uid-long-gone")
    deps.podeips.add("bystander", tagged(engine, "uid-bystander"))  # its own, consistent
    d = cast(Deps, deps)

    dry = await gc.run_pass(d, dry_run=True)
    assert dry.tag_mismatches == {victim: ["ns/victim"]}
    assert dry.candidates == [orphan]
    assert deps.events.warnings == [] and released(engine) == []

    sweep = await gc.run_pass(d)
    assert sweep.released == [orphan] and released(engine) == [orphan]
    assert [(name, reason) for name, reason, _ in deps.events.warnings] == [("victim", c.EV_TAG_MISMATCH)]
    assert victim in deps.events.warnings[0][2] and "overwritten-out-of-band" in deps.events.warnings[0][2]
    gauge = deps.metrics.registry.get_sample_value(c.METRIC_EIPS, {"state": "tag_mismatch"})
    assert gauge == 1
    assert any(e.allocation_id == victim for e in engine.eips())


def test_orphan_candidates_skip_every_named_eip(deps: SimpleNamespace, engine: Engine) -> None:
    named = tagged(engine, "someone-else")  # tagged for another UID, but named
    free = tagged(engine, "nobody")
    deps.podeips.add("a", named)
    deps.podeips.add("b", named)  # two PodEIPs naming one EIP: still not an orphan
    podeips = [PodEIP.model_validate(b) for b in deps.podeips.bodies]
    orphans, busy = gc.orphan_candidates(engine.eips(), podeips, d=cast(Deps, deps), grace=timedelta(0))
    assert [e.allocation_id for e in orphans] == [free] and busy == []
    assert set(gc.tag_mismatches(engine.eips(), podeips)) == {named}


async def test_the_cap_counts_releases_per_sliding_hour(
    deps: SimpleNamespace, engine: Engine, clock: ManualClock
) -> None:
    for i in range(27):  # 30 tagged EIPs in all: the cap is max(3, 10 %) = 3
        deps.podeips.add(f"p{i}", tagged(engine, f"uid-p{i}"))
    first = [tagged(engine, f"gone-{i}") for i in range(3)]
    d = cast(Deps, deps)
    assert sorted((await gc.run_pass(d)).released) == sorted(first)
    clock.advance(10 * 60)
    second = [tagged(engine, f"later-{i}") for i in range(3)]
    sweep = await gc.run_pass(d)
    assert sweep.released == [] and sorted(sweep.deferred) == sorted(second)
    clock.advance(49 * 60)  # 59 minutes after the first releases: still within the hour
    assert (await gc.run_pass(d)).released == []
    clock.advance(2 * 60)
    assert sorted((await gc.run_pass(d)).released) == sorted(second)
    assert len(released(engine)) == 6


def test_release_budget_slides() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = deque([start, start + timedelta(minutes=30)])
    assert gc.release_budget(times, now=start + timedelta(minutes=59), cap=3) == 1
    assert gc.release_budget(times, now=start + timedelta(minutes=60), cap=3) == 2
    assert list(times) == [start + timedelta(minutes=30)]
    assert gc.release_budget(times, now=start + timedelta(minutes=91), cap=3) == 3
