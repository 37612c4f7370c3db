"""We test these aspects of the observe → plan → act loop of a pass: a teardown that finds
many EIPs not its own (more than the per-pass step bound) still ends, with one Event per EIP
and no mutating call on any; and a pass whose plan does not progress requeues instead of
spinning."""

from __future__ import annotations

import pytest

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile import podeip as pass_module
from podeip.reconcile.plan import Do, State, Step
from podeip.reconcile.queue import Requeue

from .harness import CLUSTER, Bed


async def test_a_teardown_with_more_foreign_eips_than_the_step_bound_still_ends() -> None:
    bed = Bed()
    bed.add_pod(pod_ip="")  # no IP yet: the PodEIP exists, nothing is allocated
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and not podeip.spec.allocation_id
    # Tagged with our cluster and this PodEIP's UID, but not managed by us: not ours.
    tags = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_PODEIP_UID: podeip.metadata.uid or ""}
    count = pass_module.MAX_STEPS + 6
    for _ in range(count):
        bed.engine.seed_eip(status=EipStatus.AVAILABLE, tags=tags)
    bed.delete_pod()
    bed.delete_podeip()
    await bed.settle()
    assert bed.podeip() is None
    preserved = [e for e in bed.world.events if e.reason == c.EV_PRESERVED and "left untouched" in e.message]
    assert len(preserved) >= count
    assert bed.engine.mutations() == []  # nothing allocated, nothing touched


async def test_a_plan_that_does_not_progress_requeues(monkeypatch: pytest.MonkeyPatch) -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    looks: list[int] = []

    def stuck(observed: object) -> Step:
        looks.append(1)
        return Step(State.OBSERVING, Do.LOOK_OWNER)

    monkeypatch.setattr(pass_module, "plan", stuck)
    bed.clock.advance(3600)
    with pytest.raises(Requeue, match="no progress"):
        await bed.reconciler.reconcile(("ns", "web-0"))
    assert len(looks) == pass_module.MAX_STEPS
