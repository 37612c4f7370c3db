"""We test these aspects: a new pod given the IP of a pod that is gone while that pod's EIP is
still bound there (a restart after churn: BENCHMARKS-scale.md; Alibaba gives a private IP one
EIP and answers a second Associate ``InvalidAssociation.Duplicated``):

- the new pod's pass allocates, then waits for the old EIP's unbind without an Associate call
  (a refused one spends a rate-limit slot and a backoff), and binds once the old pod's pass has
  unbound it; no failure is shown, nothing is leaked;
- a wait that lasts is shown on the new pod (``PodIPStillBound``, naming the old EIP);
- what holds the IP comes from the cloud's answers, not from anyone's PodEIP: a memory of the
  holder older than ``STEADY`` is looked at again, and an EIP found elsewhere holds nothing;
  after a restart, a gone PodEIP's record stands for its IP's holder until looked at.
"""

from __future__ import annotations

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile import gc
from podeip.reconcile.looks import STEADY
from podeip.reconcile.plan import HELD_RETRY, QUIET
from podeip.reconcile.queue import Hold

from .harness import Bed

OLD, NEW = ("default", "old-0"), ("default", "new-0")
IP = "10.0.0.5"


async def bound_then_gone(bed: Bed) -> str:
    """The old pod bound on IP, then deleted (its PodEIP not reconciled yet); the new pod made
    with the same IP. Returns the old EIP's allocation ID."""
    bed.eni(IP)
    bed.add_pod(key=OLD, uid="uid-old", pod_ip=IP)
    await bed.settle(OLD)
    old = bed.podeip(OLD)
    assert old is not None and old.status is not None and old.status.private_ip_address == IP
    bed.delete_pod(OLD)
    bed.add_pod(key=NEW, uid="uid-new", pod_ip=IP)
    return old.spec.allocation_id


async def test_a_new_pod_on_a_gone_pods_ip_waits_for_the_unbind_then_binds() -> None:
    bed = Bed()
    old_id = await bound_then_gone(bed)
    for _ in range(4):  # created, allocated, then the wait: no Associate meanwhile
        requeue = await bed.once(NEW)
    assert requeue is not None and requeue.after == HELD_RETRY and requeue.hold is Hold.IN_FLIGHT
    assert bed.calls("AssociateEipAddress") == 1 and bed.calls("AllocateEipAddress") == 2
    new = bed.podeip(NEW)
    assert new is not None and new.spec.allocation_id and new.status is None  # nothing shown yet
    await bed.settle(OLD)  # the old pod's pass: unbound and released (Follow)
    assert bed.podeip(OLD) is None
    await bed.settle(NEW)
    new = bed.podeip(NEW)
    assert new is not None and new.status is not None and new.status.private_ip_address == IP
    eip = bed.engine.snapshot(new.spec.allocation_id)
    assert eip is not None and eip.status is EipStatus.IN_USE and eip.private_ip_address == IP
    assert bed.calls("AssociateEipAddress") == 2  # no refused attempt
    assert not {c.EV_FAILED_ASSOCIATE, c.EV_POD_IP_STILL_BOUND} & set(bed.reasons())
    # The wait was part of the bind: one Event on the new pod, naming the allocation too.
    told = [e for e in bed.world.events if e.reason in (c.EV_ALLOCATED, c.EV_ASSOCIATED)]
    assert [e.reason for e in told] == [c.EV_ASSOCIATED, c.EV_ASSOCIATED]  # the old pod's, the new one's
    assert new.spec.allocation_id in told[1].message and "allocated and associated" in told[1].message
    # Leak audit: the old EIP is released, the new one is the only EIP left.
    assert [e.allocation_id for e in bed.engine.eips()] == [new.spec.allocation_id]
    assert old_id not in {e.allocation_id for e in bed.engine.eips()}


async def test_a_wait_that_lasts_is_shown_on_the_new_pod() -> None:
    bed = Bed()
    old_id = await bound_then_gone(bed)
    for _ in range(4):
        await bed.once(NEW)
    bed.clock.advance(QUIET)
    await bed.once(NEW)
    new = bed.podeip(NEW)
    assert new is not None and new.status is not None
    ready = new.status.condition(c.COND_READY)
    assert ready is not None and ready.reason == c.EV_POD_IP_STILL_BOUND and old_id in ready.message
    assert bed.world.pod_conditions[-1]["reason"] == c.EV_POD_IP_STILL_BOUND
    assert bed.calls("AssociateEipAddress") == 1
    await bed.settle(OLD)
    await bed.settle(NEW)
    assert bed.world.pod_conditions[-1]["status"] == "True"
    assert bed.calls("AssociateEipAddress") == 2


async def test_a_holder_unbound_out_of_band_is_found_so_after_steady() -> None:
    bed = Bed()
    old_id = await bound_then_gone(bed)
    # Someone unbinds the old EIP by hand: our memory still shows it on the IP.
    bed.engine.edit_eip(old_id, status=EipStatus.AVAILABLE, instance_id="", private_ip="")
    for _ in range(4):
        await bed.once(NEW)
    assert bed.calls("AssociateEipAddress") == 1  # remembered, within STEADY: waited
    bed.clock.advance(STEADY + 1)
    await bed.settle(NEW)
    new = bed.podeip(NEW)
    assert new is not None and new.status is not None and new.status.private_ip_address == IP
    eip = bed.engine.snapshot(new.spec.allocation_id)
    assert eip is not None and eip.status is EipStatus.IN_USE


async def test_after_a_restart_a_gone_pods_record_stands_for_its_ip_until_looked_at() -> None:
    """A restart forgets every look: before the old pod's pass has looked at its EIP, the new
    pod's pass would see no holder. The start-up tells the memory what the gone PodEIPs recorded
    (``gc.expect_holders``): the new pod's pass looks at that EIP (one Describe) and waits."""
    bed = Bed()
    await bound_then_gone(bed)
    bed.restart()
    bed.world.deliver(bed.view)
    gc.expect_holders(bed.deps, [OLD, NEW])  # (NEW has no PodEIP yet: nothing to tell)
    for _ in range(4):
        await bed.once(NEW)
    assert bed.calls("AssociateEipAddress") == 1  # the old pod's only: nothing refused
    assert not [x for x in bed.engine.call_log(action="AssociateEipAddress") if not x.ok]
    await bed.settle(OLD)
    await bed.settle(NEW)
    new = bed.podeip(NEW)
    assert new is not None and new.status is not None and new.status.private_ip_address == IP
