"""We test these aspects of the observe → plan → act loop of a pass: a teardown that finds
many EIPs not its own (more than the per-pass step bound) still ends, with one Event per EIP
and no mutating call on any; a pass whose plan does not progress requeues instead of
spinning; the pass that deletes a PodEIP hands its release on as work in flight."""

from __future__ import annotations

import pytest

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile import podeip as pass_module
from podeip.reconcile.plan import Do, State, Step
from podeip.reconcile.queue import Hold, Requeue

from .harness import CLUSTER, KEY, Bed


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


async def test_a_podeip_the_view_does_not_hold_is_not_created_again_and_again() -> None:
    """The view leaves out a PodEIP that does not validate (written by hand). Its pod's pass
    then finds no PodEIP, tries to create one, gets AlreadyExists, and must not requeue at once
    for ever (one POST per turn of the queue): the old GET raised and backed off."""
    bed = Bed()
    bed.eni()
    bed.add_pod()
    bed.world.podeips[("ns", "web-0")] = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {"name": "web-0", "namespace": "ns", "uid": "by-hand", "resourceVersion": "3"},
        "spec": {"allocationID": "", "allocationType": {"type": "Weird", "releaseStrategy": "Follow"}},
    }
    creates = 0
    api = bed.deps.podeips._inner  # type: ignore[attr-defined]
    create = api.create

    async def counting(body: dict[str, object]) -> dict[str, object]:
        nonlocal creates
        creates += 1
        return await create(body)  # type: ignore[no-any-return]

    api.create = counting
    await bed.settle(passes=50, horizon=60.0)
    assert creates <= 3, f"{creates} creates of a PodEIP that exists within a minute"
    assert c.EV_INVALID_ANNOTATION not in bed.reasons()
    assert any(e.type == "Warning" and "is not valid" in e.message for e in bed.world.events)
    assert bed.engine.mutations() == []


async def test_tags_not_shown_yet_after_tagging_are_not_tagged_again_in_the_same_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An adopted EIP is tagged, and the pass looks again. If the cloud does not show the tags
    yet (a Describe a moment behind TagResources), the plan must not tag it again and again
    within the pass (one TagResources per step up to the step bound, every second)."""
    from podeip.settings import CloudSettings, Settings

    bed = Bed(Settings(cloud=CloudSettings(provider="simulated"), adopt_untagged_eips=True))
    bed.eni()
    bed.add_pod()
    eip = bed.engine.seed_eip(status=EipStatus.AVAILABLE)
    bed.world.podeips[("ns", "web-0")] = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {
            "name": "web-0",
            "namespace": "ns",
            "uid": "aenc-uid",
            "resourceVersion": "3",
            "finalizers": [c.FINALIZER],
        },
        "spec": {
            "allocationID": eip.allocation_id,
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    }
    tagged: list[list[str]] = []

    async def lagging(allocation_ids: list[str], **_: object) -> None:
        tagged.append(list(allocation_ids))  # accepted; the Describe shows it later

    monkeypatch.setattr(bed.cloud, "tag_eips", lagging)
    await bed.once()
    assert len(tagged) == 1, f"{len(tagged)} TagResources calls in one pass"
    assert bed.engine.mutations() == []


async def test_a_podeip_kept_by_another_controllers_finalizer_is_not_torn_down_again_and_again() -> None:
    """Once our finalizer is gone, a PodEIP that another controller's finalizer keeps (deletion
    pending) is left alone: the pass used to call the finalizer removal and enqueue the key
    again at once, for ever (one request per queue turn)."""
    bed = Bed()
    bed.add_pod()
    await bed.settle()
    allocation_id = bed.podeip().spec.allocation_id  # type: ignore[union-attr]
    bed.world.podeips[KEY]["metadata"]["finalizers"].append("example.com/keep")
    bed.delete_pod()
    await bed.settle()
    left = bed.podeip()
    assert left is not None and left.metadata.deletion_timestamp is not None
    assert c.FINALIZER not in (left.metadata.finalizers or ())
    assert bed.calls("ReleaseEipAddress") == 1 and allocation_id  # released (Follow)
    enqueued: list[object] = []
    bed.reconciler.d.enqueue = enqueued.append
    version = bed.world.version
    assert await bed.once() is None
    assert bed.world.version == version, "no write"
    assert enqueued == [], "and the key is not enqueued again"


async def test_a_follow_podeips_deletion_is_followed_by_its_release_as_work_in_flight() -> None:
    """The pass that deletes a Follow PodEIP (its pod gone, its EIP unbound) asks for the next
    one at once and in flight: the release does not wait behind new work in the queue (one
    worker by default; BENCHMARKS-scale.md, the restart after churn)."""
    bed = Bed()
    bed.add_pod()
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None
    bed.delete_pod()
    requeues = []
    for _ in range(10):
        requeue = await bed.once()
        requeues.append(requeue)
        if bed.podeip() is not None and bed.podeip().metadata.deletion_timestamp is not None:  # type: ignore[union-attr]
            break
        bed.clock.advance(requeue.after if requeue is not None else 0.0)
    last = requeues[-1]
    assert last is not None and last.after == 0.0 and last.hold is Hold.IN_FLIGHT
    assert bed.calls("ReleaseEipAddress") == 0  # released by the next pass
    await bed.once()
    assert bed.calls("ReleaseEipAddress") == 1 and bed.podeip() is None
