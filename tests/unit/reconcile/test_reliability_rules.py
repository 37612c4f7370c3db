"""We test the reliability rules the reconciler implements (docs/reliability.md R1–R16), one
test per rule, named after it, on the real reconciler in process (``harness.Bed``: an in-memory
Kubernetes, the simulated cloud's engine, one manual clock). Every test ends with the reasons
audit (each Event, PodEIP condition and pod gate reason is in the catalogue of
``constants.py``) and, where the lifecycle ends, a leak audit of the cloud.

Not here, because the reconciler does not implement them: R9's Lease (app, leadership), R11 and
R13 (kopf's configuration: tests/unit/controllers), R16 (RBAC and the admission policy: the
chart tests). R9's "safe with two" is tested below as two operators' passes interleaved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.cloud.models import EipStatus
from podeip.reconcile import records, steps
from podeip.reconcile.binding import LOST_CONFIRM
from podeip.reconcile.looks import STEADY
from podeip.reconcile.queue import WorkQueue
from podeip.simulator.faults import Fault

from .harness import CLUSTER, KEY, Bed

K = c.PREFIX_K8S
AUTO = {K + c.POD_WITH_EIP: "true"}


def static(allocation_id: str) -> dict[str, str]:
    return {K + c.POD_EIP_INSTANCE_ID: allocation_id}


def audit_reasons(bed: Bed) -> None:
    """Every reason written is the catalogue's (users alert on them)."""
    written = {event.reason for event in bed.world.events}
    written |= {condition["reason"] for condition in bed.world.pod_conditions if condition.get("reason")}
    for body in bed.world.podeips.values():
        written |= {cond.get("reason") for cond in (body.get("status") or {}).get("conditions") or []}
    assert written <= c.REASONS, written - c.REASONS


def audit_no_leak(bed: Bed) -> None:
    """After the lifecycle: no EIP of ours is left (the release's transition is let run)."""
    bed.clock.advance(30)
    ours = [e for e in bed.engine.eips() if e.tags.get(c.TAG_CLUSTER_ID) == CLUSTER]
    assert ours == []


@pytest.fixture
async def bed() -> AsyncIterator[Bed]:
    made = Bed()
    made.eni()
    yield made
    audit_reasons(made)


async def bound(bed: Bed, annotations: dict[str, str] | None = None, **pod: Any) -> PodEIP:
    bed.add_pod(AUTO if annotations is None else annotations, **pod)
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None
    assert podeip.status.eip_address, "the pod should be bound"
    return podeip


def eip_of(bed: Bed, allocation_id: str) -> Any:
    return next(e for e in bed.engine.eips() if e.allocation_id == allocation_id)


# ---- creation --------------------------------------------------------------------------------


async def test_r1_record_before_create(bed: Bed) -> None:
    """The PodEIP, with our finalizer, its token, attempt and frozen request, exists before
    Allocate; the allocation ID is written right after the call."""
    seen: list[PodEIP | None] = []
    allocate = bed.cloud.allocate_eip

    async def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(bed.podeip())
        return await allocate(*args, **kwargs)

    bed.cloud.allocate_eip = watched  # type: ignore[method-assign]
    podeip = await bound(bed)
    before = seen[0]
    assert before is not None and c.FINALIZER in (before.metadata.finalizers or [])
    assert before.spec.allocation_id == ""
    assert records.frozen_request(before) is not None
    assert podeip.spec.allocation_id == bed.engine.eips()[0].allocation_id


async def test_r1_r2_a_lost_allocate_answer_does_not_allocate_twice(bed: Bed) -> None:
    """The answer of a successful Allocate is lost: the retry carries the same ClientToken (the
    frozen request), so exactly one EIP exists, and it is the one recorded."""
    bed.engine.faults.add(Fault(action="AllocateEipAddress", code=None, times=1))
    podeip = await bound(bed)
    assert len(bed.engine.eips()) == 1
    assert podeip.spec.allocation_id == bed.engine.eips()[0].allocation_id
    tokens = {call.params.get("ClientToken") for call in bed.engine.call_log(action="AllocateEipAddress")}
    assert len(tokens) == 1 and None not in tokens


async def test_r3_a_crash_after_allocate_finds_the_eip_by_its_tags(bed: Bed) -> None:
    """Allocated, then the operator died before recording it: after the restart the tag lookup
    finds it and records it instead of allocating again."""
    bed.add_pod(AUTO)
    write = bed.world.patch_metadata_and_spec

    async def crash(namespace: str, name: str, patch: Any, *, resource_version: str) -> Any:
        if (patch.get("spec") or {}).get("allocationID"):
            raise SystemExit("crash after allocate, before record")
        return await write(namespace, name, patch, resource_version=resource_version)

    bed.world.patch_metadata_and_spec = crash  # type: ignore[method-assign]
    bed.restart()  # the crash-prone world is wired in
    with pytest.raises(SystemExit):
        await bed.settle()
    bed.world.patch_metadata_and_spec = write  # type: ignore[method-assign]
    bed.restart()
    await bed.settle()
    assert bed.calls("AllocateEipAddress") == 1
    podeip = bed.podeip()
    assert podeip is not None and podeip.spec.allocation_id == bed.engine.eips()[0].allocation_id
    assert bed.engine.eips()[0].tags[c.TAG_PODEIP_UID] == podeip.metadata.uid


# ---- deletion and release --------------------------------------------------------------------


async def test_r4_teardown_never_gives_up(bed: Bed) -> None:
    """Release keeps failing: the finalizer stays; once the cloud answers, the EIP is released
    and only then does the PodEIP go."""
    podeip = await bound(bed)
    bed.engine.faults.add(Fault(action="ReleaseEipAddress", code="Forbidden.RAM", times=6))
    bed.delete_pod()
    await bed.settle(passes=4)
    assert bed.podeip() is not None and c.FINALIZER in (bed.podeip().metadata.finalizers or [])  # type: ignore[union-attr]
    assert any(e.allocation_id == podeip.spec.allocation_id for e in bed.engine.eips())
    assert c.EV_PERMISSION_DENIED in bed.reasons()
    await bed.settle(passes=40, horizon=3600)
    assert bed.podeip() is None
    audit_no_leak(bed)


@pytest.mark.parametrize(("strategy", "released"), [("Follow", True), ("Never", False), ("10m", False)])
async def test_r5_the_release_matrix_for_auto(bed: Bed, strategy: str, released: bool) -> None:
    """Pod gone: unbound at once whatever the strategy; released only by Follow (a TTL waits)."""
    # (a StatefulSet's pod: only stateful pods may keep an EIP, docs/compatibility.md §5)
    podeip = await bound(bed, AUTO | {K + c.RELEASE_STRATEGY: strategy}, owner="StatefulSet")
    bed.delete_pod()
    await bed.settle(horizon=60)
    eip = next((e for e in bed.engine.eips() if e.allocation_id == podeip.spec.allocation_id), None)
    if released:
        assert eip is None or eip.status is EipStatus.RELEASING
        assert bed.podeip() is None
    else:
        assert eip is not None and eip.status is EipStatus.AVAILABLE and not eip.instance_id
        assert bed.podeip() is not None


async def test_r5_a_static_eip_is_never_released(bed: Bed) -> None:
    """Static: unbound when the pod goes, and the PodEIP's deletion forgets it, never releases."""
    allocation_id = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    await bound(bed, static(allocation_id))
    assert bed.world.claims.get(allocation_id)
    bed.delete_pod()
    await bed.settle()
    bed.delete_podeip()
    await bed.settle()
    assert bed.podeip() is None
    assert bed.calls("ReleaseEipAddress") == 0 and bed.calls("TagResources") == 0
    assert eip_of(bed, allocation_id).status is EipStatus.AVAILABLE
    assert allocation_id not in bed.world.claims


async def test_r6_compare_and_act_unbind_never_unbinds_what_we_did_not_bind(bed: Bed) -> None:
    """Re-bound out of band to another ENI: the pod's going unbinds nothing and releases
    nothing; the PodEIP's deletion waits for a human with a Warning."""
    podeip = await bound(bed)
    allocation_id = podeip.spec.allocation_id
    other = bed.engine.add_eni(primary_ip="10.0.1.1", private_ips=("10.0.1.9",))
    bed.engine.edit_eip(allocation_id, instance_id=other.eni_id, private_ip="10.0.1.9")
    bed.clock.advance(STEADY + 1)
    unbinds = bed.calls("UnassociateEipAddress")
    bed.delete_pod()
    await bed.settle(horizon=120)
    assert bed.calls("UnassociateEipAddress") == unbinds
    assert bed.calls("ReleaseEipAddress") == 0
    assert eip_of(bed, allocation_id).instance_id == other.eni_id
    podeip_now = bed.podeip()
    assert podeip_now is not None and podeip_now.metadata.deletion_timestamp is not None
    assert c.EV_FAILED_RELEASE in bed.reasons()


# ---- ownership and concurrency ---------------------------------------------------------------


async def test_r7_never_rob_a_static_eip_bound_elsewhere(bed: Bed) -> None:
    allocation_id = bed.engine.seed_eip(instance_id="i-someone", instance_type="EcsInstance").allocation_id
    bed.add_pod(static(allocation_id))
    await bed.settle(horizon=120)
    assert bed.calls("AssociateEipAddress") == 0 and bed.calls("UnassociateEipAddress") == 0
    assert eip_of(bed, allocation_id).instance_id == "i-someone"
    assert c.EV_CONFLICT in bed.reasons()


async def test_r7_one_holder_per_allocation_id(bed: Bed) -> None:
    """Two pods name one Static EIP: the first binds it, the second waits naming the holder."""
    allocation_id = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    await bound(bed, static(allocation_id))
    second = ("ns", "web-1")
    bed.engine.add_eni(primary_ip="10.0.2.1", private_ips=("10.0.2.5",))
    bed.add_pod(static(allocation_id), key=second, pod_ip="10.0.2.5", uid="pod-uid-2")
    await bed.settle(second, horizon=120)
    assert bed.calls("AssociateEipAddress") == 1
    assert eip_of(bed, allocation_id).private_ip_address == "10.0.0.5"
    claimed = [e for e in bed.world.events if e.reason == c.EV_CLAIMED_BY_OTHER]
    assert claimed and "ns/web-0" in claimed[0].message


async def test_r9_two_operators_interleaved_make_one_eip(bed: Bed) -> None:
    """Two instances overlap (kopf peering is no leader election): their passes interleave,
    each with its own memory; still one Allocate and one Associate."""
    bed.add_pod(AUTO)
    first = bed.reconciler
    bed.restart()
    second = bed.reconciler
    for _ in range(20):
        for reconciler in (first, second):
            bed.reconciler = reconciler
            requeue = await bed.once()
            bed.clock.advance(requeue.after if requeue else 0.0)
    assert bed.calls("AllocateEipAddress") == 1 and bed.calls("AssociateEipAddress") == 1
    assert len(bed.engine.eips()) == 1


async def test_r10_the_pod_is_re_read_before_associate(bed: Bed) -> None:
    """The pod is replaced (same name, new UID, its IP reused) between the start of the pass and
    Associate: nothing is associated with the old pod's identity."""
    bed.add_pod(AUTO)

    def replace(reads: int) -> None:
        if reads == 1:  # the pass reads the view; its one read of the pod is R10's re-read
            bed.add_pod(AUTO, uid="pod-uid-2")

    bed.world.on_pod_read = replace
    requeue = await bed.once()
    assert requeue is not None and requeue.reason == "the pod changed"
    assert bed.calls("AssociateEipAddress") == 0
    bed.world.on_pod_read = None


async def test_r10_a_changed_pod_ip_is_unbound_then_bound_anew(bed: Bed) -> None:
    """After the EIP is InUse, a pod whose IP no longer matches the binding gets it unbound
    from the old IP (which may be another pod's now, T7) and bound to its own."""
    podeip = await bound(bed)
    bed.engine.add_eni(primary_ip="10.0.3.1", private_ips=("10.0.3.5",))
    bed.world.pods[KEY]["status"]["podIP"] = "10.0.3.5"
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert bed.calls("UnassociateEipAddress") == 1
    assert eip_of(bed, podeip.spec.allocation_id).private_ip_address == "10.0.3.5"


# ---- waits, drift, errors --------------------------------------------------------------------


async def test_r12_wait_by_requeue_never_by_sleeping(bed: Bed) -> None:
    """While Associating, a pass returns a requeue delay; nothing in the pass sleeps."""
    bed.add_pod(AUTO)
    requeue = None
    for _ in range(5):
        requeue = await bed.once()
        if requeue is not None and requeue.after > 0:
            break
    assert requeue is not None and requeue.after > 0
    assert bed.clock.sleeps == []


async def test_r14_drift_an_eip_released_out_of_band_is_replaced(bed: Bed) -> None:
    """Released in the console: confirmed lost by two looks apart, then allocated anew."""
    podeip = await bound(bed)
    bed.engine.delete_eip(podeip.spec.allocation_id)
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert bed.calls("AllocateEipAddress") == 2
    now = bed.podeip()
    assert now is not None and now.spec.allocation_id != podeip.spec.allocation_id
    assert c.EV_EIP_LOST in bed.reasons()
    assert LOST_CONFIRM > 0


async def test_r14_drift_an_eip_unbound_out_of_band_is_bound_again(bed: Bed) -> None:
    podeip = await bound(bed)
    bed.engine.edit_eip(
        podeip.spec.allocation_id, status=EipStatus.AVAILABLE, instance_id="", instance_type=""
    )
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert bed.calls("AssociateEipAddress") == 2
    assert eip_of(bed, podeip.spec.allocation_id).status is EipStatus.IN_USE


async def test_r15_a_quota_error_backs_off_on_the_injected_clock(bed: Bed) -> None:
    """QuotaExceeded: a condition and an Event, then a backoff that no event cuts short (no hot
    loop: the work queue holds the key, not a pass) until the manual clock passes it."""
    bed.engine.faults.add(Fault(action="AllocateEipAddress", code="QuotaExceeded.Eip", times=1))
    bed.add_pod(AUTO)
    queue = WorkQueue(bed.reconciler.reconcile, concurrency=1, clock=bed.clock)
    queue.start()
    queue.add(KEY)
    await queue.wait_idle()
    assert c.EV_QUOTA_EXCEEDED in bed.reasons()

    def eip_calls() -> int:  # (the pod's ENI is looked up once, early, whenever that lands)
        return len([x for x in bed.engine.call_log() if x.action != "DescribeNetworkInterfaces"])

    calls, reads = eip_calls(), bed.world.pod_reads
    for _ in range(3):  # our own writes bring the key back: it waits, and reads nothing
        queue.add(KEY)
        bed.clock.advance(10)
        queue.poke()
        await asyncio.sleep(0)
        await queue.wait_idle()
    assert (eip_calls(), bed.world.pod_reads) == (calls, reads)
    for _ in range(40):  # past the backoff, then the transitions
        bed.clock.advance(2.0)
        queue.poke()
        await asyncio.sleep(0)
        await queue.wait_idle()
    await queue.stop()
    assert bed.calls("AllocateEipAddress") == 1 and bed.calls("AssociateEipAddress") == 1
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None and podeip.status.eip_address


# ---- crashes and lost answers (R1, R2, R4 across restarts) -----------------------------------


class Crash(BaseException):
    """The process dies at a crash point (``os._exit`` in the real operator)."""


@pytest.mark.parametrize(
    "point",
    [
        steps.AFTER_ALLOCATE_BEFORE_RECORD,
        steps.AFTER_ASSOCIATE_BEFORE_STATUS,
        steps.AFTER_RELEASE_BEFORE_FINALIZER,
    ],
)
async def test_r1_r4_a_crash_at_each_crash_point_leaks_nothing_and_makes_nothing_twice(
    bed: Bed, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    armed = [True]

    def crash_point(d: Any, name: str) -> None:
        if name == point and armed[0]:
            armed[0] = False
            raise Crash(name)

    monkeypatch.setattr(steps, "crash_point", crash_point)
    bed.add_pod(AUTO)
    for phase in ("bind", "release"):
        try:
            await bed.settle(horizon=300)
        except Crash:
            bed.restart()
            await bed.settle(horizon=300)
        if phase == "bind":
            podeip = bed.podeip()
            assert podeip is not None and podeip.status is not None and podeip.status.eip_address
            bed.delete_pod()
    assert not armed[0], "the crash point was reached"
    assert len(bed.allocated()) == 1
    assert bed.podeip() is None
    audit_no_leak(bed)


@pytest.mark.parametrize(
    "action", ["AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress", "ReleaseEipAddress"]
)
async def test_r2_a_lost_answer_on_any_mutation_leaks_nothing(bed: Bed, action: str) -> None:
    """The call happens, its answer is lost (twice): retried, the lifecycle still completes once."""
    bed.engine.faults.add(Fault(action=action, code=None, times=2))
    await bound(bed)
    bed.delete_pod()
    await bed.settle(horizon=600)
    assert len(bed.allocated()) == 1
    assert bed.podeip() is None
    audit_no_leak(bed)


async def test_r5_an_expired_ttl_releases(bed: Bed) -> None:
    podeip = await bound(bed, AUTO | {K + c.RELEASE_STRATEGY: "10m"}, owner="StatefulSet")
    bed.delete_pod()
    await bed.settle(horizon=60)
    assert bed.podeip() is not None
    bed.clock.advance(10 * 60)
    await bed.settle(horizon=600)
    assert bed.podeip() is None
    assert podeip.spec.allocation_id in [
        call.allocation_id for call in bed.engine.mutations() if call.action == "ReleaseEipAddress"
    ]
    audit_no_leak(bed)


async def test_r14_rebinding_after_a_restart_is_not_a_silent_no_op(bed: Bed) -> None:
    """Unbound out of band after a restart: the new Associate must not reuse the first one's
    token (Alibaba would answer it as a replay and bind nothing)."""
    podeip = await bound(bed)
    bed.restart()
    bed.engine.edit_eip(
        podeip.spec.allocation_id, status=EipStatus.AVAILABLE, instance_id="", instance_type=""
    )
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert eip_of(bed, podeip.spec.allocation_id).status is EipStatus.IN_USE
    tokens = [call.params.get("ClientToken") for call in bed.engine.call_log(action="AssociateEipAddress")]
    assert len(tokens) == 2 and len(set(tokens)) == 2, "one call to bind again, with a new token"


async def test_r5_a_podeip_deleted_by_a_user_while_its_pod_runs(bed: Bed) -> None:
    """Its EIP is unbound and released, then the pod, still asking, gets a new PodEIP and EIP."""
    first = await bound(bed)
    bed.delete_podeip()
    await bed.settle(horizon=300)
    second = bed.podeip()
    assert second is not None and second.metadata.uid != first.metadata.uid
    assert KEY in bed.enqueued
    await bed.settle(horizon=300)
    second = bed.podeip()
    assert second is not None and second.status is not None and second.status.eip_address
    assert first.spec.allocation_id not in {
        e.allocation_id for e in bed.engine.eips() if e.status is not EipStatus.RELEASING
    }
    assert len([e for e in bed.engine.eips() if e.status is not EipStatus.RELEASING]) == 1


# ---- same-name pods, pod IP reuse, out-of-band edits (T7, R5, R7) ----------------------------

NEVER = AUTO | {K + c.RELEASE_STRATEGY: "Never"}


async def test_r5_a_reborn_pod_of_the_same_owner_takes_the_kept_eip_back(bed: Bed) -> None:
    podeip = await bound(bed, NEVER, owner="StatefulSet")
    bed.delete_pod()
    await bed.settle(horizon=60)
    bed.engine.add_eni(primary_ip="10.0.4.1", private_ips=("10.0.4.5",))
    bed.add_pod(NEVER, owner="StatefulSet", uid="pod-uid-2", pod_ip="10.0.4.5")
    await bed.settle(horizon=120)
    eip = eip_of(bed, podeip.spec.allocation_id)
    assert eip.status is EipStatus.IN_USE and eip.private_ip_address == "10.0.4.5"
    assert len(bed.allocated()) == 1


async def test_r5_a_same_name_pod_of_another_owner_gets_nothing_of_the_kept_eip(bed: Bed) -> None:
    podeip = await bound(bed, NEVER, owner="StatefulSet")
    bed.delete_pod()
    await bed.settle(horizon=60)
    bed.add_pod(AUTO, owner=None, uid="pod-uid-2")  # a bare pod now, same name
    await bed.settle(horizon=120)
    eip = eip_of(bed, podeip.spec.allocation_id)
    assert eip.status is EipStatus.AVAILABLE and not eip.instance_id
    assert c.EV_CLAIMED_BY_OTHER in bed.reasons()


async def test_t7_a_reused_pod_ip_never_keeps_the_old_pods_eip(bed: Bed) -> None:
    """Pod A goes, pod B (another name) gets A's IP: whichever pass runs first, A's EIP ends
    released and B ends with its own EIP on that IP."""
    first = await bound(bed)
    bed.delete_pod()
    other = ("ns", "api-0")
    bed.add_pod(AUTO, key=other, uid="pod-uid-b")
    await bed.settle(other, horizon=300)
    await bed.settle(horizon=300)
    await bed.settle(other, horizon=600)
    b = bed.podeip(other)
    assert b is not None and b.spec.allocation_id != first.spec.allocation_id
    assert eip_of(bed, b.spec.allocation_id).private_ip_address == "10.0.0.5"
    assert first.spec.allocation_id not in {
        e.allocation_id for e in bed.engine.eips() if e.status is not EipStatus.RELEASING
    }


async def test_r5_r6_an_eip_whose_tags_were_stripped_is_never_released(bed: Bed) -> None:
    podeip = await bound(bed)
    bed.engine.edit_eip(podeip.spec.allocation_id, tags={})
    bed.clock.advance(STEADY + 1)
    bed.delete_pod()
    await bed.settle(horizon=300)
    assert bed.calls("ReleaseEipAddress") == 0 and bed.calls("TagResources") == 0
    assert any(e.allocation_id == podeip.spec.allocation_id for e in bed.engine.eips())


async def test_r4_the_pod_deleted_while_associating_leaks_nothing(bed: Bed) -> None:
    bed.add_pod(AUTO)
    for _ in range(3):
        requeue = await bed.once()
        if bed.calls("AssociateEipAddress"):
            break
        bed.clock.advance(requeue.after if requeue else 0.0)
    assert bed.calls("AssociateEipAddress") == 1
    bed.delete_pod()
    await bed.settle(horizon=600)
    assert bed.podeip() is None
    audit_no_leak(bed)


@pytest.mark.parametrize("lost", [None, "AddCommonBandwidthPackageIp", "RemoveCommonBandwidthPackageIp"])
async def test_r6_a_shared_bandwidth_package_is_joined_and_left_first(bed: Bed, lost: str | None) -> None:
    """With a package: joined before Associate, left before Release (with a lost answer on
    either: still exactly once in effect), and nothing is left behind."""
    package = bed.engine.add_bandwidth_package()
    if lost:
        bed.engine.faults.add(Fault(action=lost, code=None, times=1))
    podeip = await bound(bed, AUTO | {K + c.EIP_COMMON_BANDWIDTH_PACKAGE_ID: package})
    assert eip_of(bed, podeip.spec.allocation_id).bandwidth_package_id == package
    bed.delete_pod()
    await bed.settle(horizon=600)
    assert bed.podeip() is None
    order = [call.action for call in bed.engine.mutations(allocation_id=podeip.spec.allocation_id)]
    assert order.index("RemoveCommonBandwidthPackageIp") < order.index("ReleaseEipAddress")
    audit_no_leak(bed)


async def test_r5_a_static_eip_deleted_out_of_band_is_reported_never_replaced(bed: Bed) -> None:
    allocation_id = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    await bound(bed, static(allocation_id))
    bed.engine.delete_eip(allocation_id)
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert bed.calls("AllocateEipAddress") == 0
    assert c.EV_EIP_NOT_FOUND in bed.reasons()


@pytest.mark.parametrize(
    ("code", "every"), [(None, 3), ("InternalError", 2), ("Throttling.User", 3), (None, 2)]
)
async def test_r2_r4_r15_a_flaky_cloud_still_gives_one_eip_and_leaks_nothing(
    bed: Bed, code: str | None, every: int
) -> None:
    """Every Nth call of any API fails (or loses its answer) for the whole lifecycle."""
    bed.engine.faults.add(Fault(code=code, every=every, times=-1))
    await bound(bed)
    bed.delete_pod()
    await bed.settle(passes=200, horizon=3600)
    bed.engine.faults.clear()
    await bed.settle(passes=20, horizon=600)
    assert len(bed.allocated()) == 1
    assert bed.podeip() is None
    audit_no_leak(bed)


@pytest.mark.parametrize("change", [{"deletion_protection": True}, {"instance_charge_type": "PrePaid"}])
async def test_r6_a_protected_or_prepaid_eip_is_never_asked_to_be_released(
    bed: Bed, change: dict[str, Any]
) -> None:
    """Protected (or made a subscription) out of band: no Release call at all (Alibaba refuses
    it for ever), a Warning saying why, and the PodEIP goes; the EIP stays in the account."""
    podeip = await bound(bed)
    bed.engine.edit_eip(podeip.spec.allocation_id, **change)
    bed.clock.advance(STEADY + 1)
    bed.delete_pod()
    await bed.settle(horizon=600)
    assert bed.engine.call_log(action="ReleaseEipAddress") == []
    assert bed.podeip() is None
    assert eip_of(bed, podeip.spec.allocation_id).status is EipStatus.AVAILABLE
    preserved = [e.message for e in bed.world.events if e.reason == c.EV_PRESERVED]
    assert any(podeip.spec.allocation_id in message and "not released" in message for message in preserved)
