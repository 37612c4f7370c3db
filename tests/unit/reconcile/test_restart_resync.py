"""We test these aspects of the start-up after a restart (``app.begin_work``,
``gc.changed_at_start`` and ``gc.still_to_check``), on the in-process harness with a real work
queue:

- of what the view's start-up brought, only the keys that need a pass are queued: a pod deleted
  and a pod created while the operator was down, an EIP changed out of band meanwhile, a Static
  EIP (not in the tagged listing); PodEIPs whose pod and cloud state agree with the warm-up
  listing are checked by the diff, not by a pass each, and cost no Describe by ID;
- the pod gone and the new pod are served first, and their passes do the work: the gone pod's
  EIP is unbound and released, the new pod's bound;
- without the warm-up listing, every PodEIP still gets a pass (R11, R14: all are checked);
- gone pods whose IPs new pods were given are unbound first, in the order of those new pods,
  which come after the new pods on free IPs;
- work begins once our listing is in, before kopf has delivered it (a selecting watch waits).
"""

from __future__ import annotations

import asyncio
import collections

from podeip import app
from podeip import constants as c
from podeip.cloud.models import Eip, EipStatus
from podeip.reconcile import gc
from podeip.reconcile.queue import Key, WorkQueue

from .harness import CLUSTER, Bed

UNCHANGED = [("ns", f"web-{n}") for n in range(6)]
# (named so that sorting alone would serve the gone pod after the new one)
GONE, NEW, UNBOUND = ("ns", "x-gone"), ("ns", "new"), ("ns", "unbound")


async def _bound(bed: Bed, keys: list[Key], first: int = 10) -> None:
    for n, key in enumerate(keys):
        ip = f"10.0.1.{n + first}"
        bed.eni(ip)
        bed.add_pod(key=key, pod_ip=ip, uid=f"pod-uid-{key[1]}")
    await asyncio.gather(*(bed.settle(key, horizon=300) for key in keys))


def _by_id(bed: Bed) -> int:
    """Describes by allocation ID (the tagged listings aside)."""
    return sum(
        1 for call in bed.engine.call_log(action="DescribeEipAddresses") if "AllocationId" in call.params
    )


async def _restarted(bed: Bed) -> tuple[set[Key], list[Key], WorkQueue]:
    """A restart: a new operator whose view is filled by the watch's start-up delivery; the
    keys it brought are kept aside as ``app.running`` keeps them; then ``begin_work`` with a
    queue whose worker only records the keys it is given."""
    bed.restart()
    started: set[Key] = set()
    bed.view.on_change = started.add
    bed.world.deliver(bed.view)
    bed.view.filled.set()
    bed.view.ready.set()
    served: list[Key] = []

    async def record(key: Key) -> None:
        served.append(key)

    queue = WorkQueue(record, concurrency=1)
    await app.begin_work(bed.deps, bed.reconciler, queue, None, started)
    await asyncio.sleep(0)
    await queue.wait_idle()
    await queue.stop()
    return started, served, queue


async def test_only_the_keys_that_changed_while_down_get_a_pass_gone_and_new_first() -> None:
    bed = Bed()
    await _bound(bed, [*UNCHANGED, GONE, UNBOUND])
    gone_eip = bed.podeip(GONE).spec.allocation_id  # type: ignore[union-attr]
    unbound_eip = bed.podeip(UNBOUND).spec.allocation_id  # type: ignore[union-attr]
    # While the operator is down: a pod deleted, a pod created, an EIP unbound in the console.
    bed.delete_pod(GONE)
    bed.eni("10.0.2.1")
    bed.add_pod(key=NEW, pod_ip="10.0.2.1", uid="pod-uid-new")
    bed.engine.edit_eip(unbound_eip, status=EipStatus.AVAILABLE, instance_id="", private_ip="")
    looked = _by_id(bed)
    started, served, _ = await _restarted(bed)
    assert set(UNCHANGED) <= started  # the start-up brought every key ...
    assert served == [GONE, NEW, UNBOUND]  # ... few need a pass, the gone pod's first
    assert _by_id(bed) == looked  # the diff looked at no EIP by ID
    for key in served:
        await bed.settle(key, horizon=300)
    await bed.settle(GONE, horizon=300)
    eips = {e.allocation_id: e for e in bed.engine.eips()}
    assert gone_eip not in eips and bed.podeip(GONE) is None  # Follow: unbound, released
    assert eips[unbound_eip].status is EipStatus.IN_USE  # bound again
    new = bed.podeip(NEW)
    assert new is not None and eips[new.spec.allocation_id].private_ip_address == "10.0.2.1"


async def test_unbinds_and_the_binds_waiting_for_them_are_ordered_to_go_at_one_pace() -> None:
    """New pods given gone pods' IPs wait for those unbinds: the gone pods holding them go first,
    in the waiting pods' order, and new pods on free IPs before the waiting ones."""
    gone = [("ns", "a-gone"), ("ns", "b-gone"), ("ns", "c-gone")]
    bed = Bed()
    await _bound(bed, gone)  # on 10.0.1.10, .11, .12
    for key in gone:
        bed.delete_pod(key)
    x, y, z = ("ns", "x-new"), ("ns", "y-new"), ("ns", "z-new")
    bed.add_pod(key=x, pod_ip="10.0.1.12", uid="pod-uid-x")  # c-gone's IP
    bed.eni("10.0.2.1")
    bed.add_pod(key=y, pod_ip="10.0.2.1", uid="pod-uid-y")  # a free IP
    bed.add_pod(key=z, pod_ip="10.0.1.10", uid="pod-uid-z")  # a-gone's IP
    _, served, _ = await _restarted(bed)
    assert served == [gone[0], gone[2], gone[1], y, z, x]
    for key in served:
        await bed.settle(key, horizon=300)
    for key in (x, z):
        await bed.settle(key, horizon=300)
    assert not [e for e in bed.engine.call_log(action="AssociateEipAddress") if not e.ok]  # none refused
    assert all(bed.podeip(key) is None for key in gone)
    assert {e.private_ip_address for e in bed.engine.eips()} == {"10.0.1.12", "10.0.2.1", "10.0.1.10"}


async def test_without_the_listing_or_for_a_static_eip_every_podeip_gets_a_pass() -> None:
    bed = Bed()
    await _bound(bed, UNCHANGED)
    # A Static EIP is not in the tagged listing: its PodEIP gets a pass at a restart (README).
    bed.world.podeips[UNCHANGED[0]]["spec"]["allocationType"]["type"] = "Static"
    bed.restart()
    started: set[Key] = set()
    bed.view.on_change = started.add
    bed.world.deliver(bed.view)
    bed.view.filled.set()
    bed.view.ready.set()
    eips = await bed.deps.cloud.describe_eips(tags={c.TAG_CLUSTER_ID: CLUSTER})
    assert at_start(bed, eips, sorted(started)) == [UNCHANGED[0]]
    assert at_start(bed, None, sorted(started)) == sorted(UNCHANGED)  # the listing failed


def at_start(bed: Bed, eips: list[Eip] | None, keys: list[Key]) -> list[Key]:
    """The keys a start-up queues, in order, as ``app.begin_work`` composes them."""
    changed, rest = gc.changed_at_start(bed.deps, keys)
    return [*changed, *gc.still_to_check(bed.deps, eips, rest)]


async def test_the_diff_matches_the_collectors_at_rest() -> None:
    """At rest the start-up and the collector agree: nothing to do, and the counts show it."""
    bed = Bed()
    await _bound(bed, UNCHANGED)
    _, served, _ = await _restarted(bed)
    assert served == []
    calls = collections.Counter(call.action for call in bed.engine.call_log())
    assert calls["AllocateEipAddress"] == len(UNCHANGED)


async def test_work_begins_once_the_listing_is_in_not_once_kopf_confirmed_it() -> None:
    """kopf takes ~45 s to deliver 25,000 pods at start-up (BENCHMARKS-scale.md): the passes of
    what changed begin when our own listing is in, and the warm-up listing of our EIPs runs
    while the view fills, so neither waits for kopf's delivery. A selecting pod watch waits for
    the confirmation (its unconfirmed entries are also the pods it does not watch)."""
    bed = Bed()
    await _bound(bed, UNCHANGED[:1])
    bed.restart()
    started: set[Key] = set()
    bed.view.on_change = started.add
    bed.world.deliver(bed.view)
    queue = WorkQueue(lambda key: asyncio.sleep(0), concurrency=1)
    begun = asyncio.Event()
    bed.view.pod_label = ("podeip-controller.alibabacloud.com/eip", "true")
    waiting = asyncio.create_task(app.begin_work(bed.deps, bed.reconciler, queue, None, started, begun))
    bed.view.filled.set()
    await asyncio.sleep(0.05)
    assert not waiting.done() and not begun.is_set()  # selecting: until confirmed
    bed.view.ready.set()
    await asyncio.wait_for(waiting, 5)
    assert begun.is_set()
    await queue.stop()
    bed.view.pod_label = None
    begun.clear()
    bed.view.filled.clear()
    bed.view.ready.clear()
    queue = WorkQueue(lambda key: asyncio.sleep(0), concurrency=1)
    listings = len(bed.engine.call_log(action="DescribeEipAddresses"))
    waiting = asyncio.create_task(app.begin_work(bed.deps, bed.reconciler, queue, None, started, begun))
    await asyncio.sleep(0.05)
    assert not begun.is_set()  # not before the view's listing is in ...
    # ... but the listing of our EIPs is made meanwhile
    assert len(bed.engine.call_log(action="DescribeEipAddresses")) == listings + 1
    bed.view.filled.set()
    await asyncio.wait_for(waiting, 5)  # kopf has confirmed nothing (ready is clear)
    assert begun.is_set() and not bed.view.ready.is_set()
    assert len(bed.engine.call_log(action="DescribeEipAddresses")) == listings + 1
    await queue.stop()
