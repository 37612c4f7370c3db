"""We test these aspects: a pass writes the PodEIP's status at most once (the fields and the
Ready condition together, issue 12 item 4), through a whole Auto/Follow lifecycle, a TTL keep,
a refusal and a cloud failure; a first bind writes status once until bound, ``podLastSeen``
riding along with it (issue 13: test_bind_writes.py counts every request of a bind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile.queue import Requeue
from podeip.simulator.faults import Fault

from .harness import KEY, Bed


def count_status_writes(bed: Bed) -> list[dict[str, Any]]:
    """Every status patch the reconciler sends, in order."""
    sent: list[dict[str, Any]] = []
    podeips = bed.deps.podeips
    original = podeips.patch_status

    async def patch_status(namespace: str, name: str, changes: Mapping[str, Any], **kw: Any) -> Any:
        sent.append(dict(changes))
        return await original(namespace, name, changes, **kw)

    podeips.patch_status = patch_status  # type: ignore[method-assign]
    return sent


async def passes_with_writes(bed: Bed, *, passes: int = 40) -> list[list[dict[str, Any]]]:
    """Run passes as ``settle`` does (up to a wait over a minute), and return the status
    patches of each pass."""
    sent = count_status_writes(bed)
    per_pass = []
    for _ in range(passes):
        before = len(sent)
        version = bed._writes()
        try:
            await bed.reconciler.reconcile(KEY)
            requeue: Requeue | None = None
        except Requeue as raised:
            requeue = raised
        per_pass.append(sent[before:])
        if (requeue is None and bed._writes() == version) or (requeue is not None and requeue.after > 60):
            break
        bed.clock.advance(requeue.after if requeue is not None else 0.0)
    return per_pass


async def test_a_whole_lifecycle_writes_status_at_most_once_per_pass() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    bound = await passes_with_writes(bed)
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None and podeip.status.eip_address
    assert all(len(w) <= 1 for w in bound)
    (bound_write,) = [w for pass_ in bound for w in pass_]  # nothing before bound (no Associating)
    assert {"eipAddress", "conditions", "podLastSeen"} <= set(bound_write)  # fields, condition, seen together
    bed.delete_pod()
    gone = await passes_with_writes(bed)
    assert all(len(w) <= 1 for w in gone)
    assert bed.podeip() is None and bed.calls("ReleaseEipAddress") == 1


async def test_a_kept_eip_and_a_cloud_failure_write_status_once_per_pass() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod(
        {c.PREFIX_K8S + c.POD_WITH_EIP: "true", c.PREFIX_K8S + c.RELEASE_STRATEGY: "10m"}, owner="StatefulSet"
    )
    await bed.settle()
    bed.delete_pod()
    kept = await passes_with_writes(bed, passes=5)
    assert all(len(w) <= 1 for w in kept)
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None
    assert podeip.status.status == EipStatus.AVAILABLE.value
    ready = next(cond for cond in podeip.status.conditions or () if cond.type == c.COND_READY)
    assert ready.reason == c.EV_WAITING_FOR_TTL
    bed.engine.faults.add(Fault(action="DescribeEipAddresses", code="Forbidden.RAM"))
    bed.clock.advance(60.0)
    failing = await passes_with_writes(bed, passes=1)
    assert len(failing[0]) == 1  # the failure's condition, in the pass's one write
    assert failing[0][0]["conditions"][-1]["reason"] == c.EV_PERMISSION_DENIED


async def test_a_static_eip_held_by_another_podeip_is_left_alone_in_the_same_single_write() -> None:
    """Pod gone, its Static EIP still bound where we recorded, but another PodEIP holds the
    claim now: nothing is unbound, the Warning says why, and the pass still writes status once
    (the left-alone finding and the ending state used to be two writes)."""
    bed = Bed()
    bed.eni()
    allocation_id = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    bed.add_pod({c.PREFIX_K8S + c.POD_EIP_INSTANCE_ID: allocation_id})
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None and podeip.status.eip_address
    bed.world.claims[allocation_id] = "ns/other/uid-other"
    bed.restart()  # no memory of holding the claim
    bed.delete_pod()
    gone = await passes_with_writes(bed, passes=1)
    assert len(gone[0]) == 1
    assert bed.calls("UnassociateEipAddress") == 0
    assert c.EV_CLAIMED_BY_OTHER in bed.reasons()
