"""We test these aspects of the leader Lease on the real API server:

- of two instances, exactly one leads; the other waits;
- a leader renews and keeps leading; a clean stop hands the Lease over at once;
- a leader that stops renewing loses the Lease to the other after the lease duration, and
  does not take it back while the new leader renews;
- the work queue does nothing while its gate (leadership) is clear.
"""

from __future__ import annotations

import asyncio

from podeip.k8s.client import KubeClient
from podeip.k8s.leadership import Leadership, LeaseTimings
from podeip.reconcile.queue import Key, WorkQueue


def timings(duration: float) -> LeaseTimings:
    return LeaseTimings(
        duration=duration, renew_every=duration / 4, renew_deadline=duration * 2 / 3, retry_every=0.2
    )


def pair(kube: KubeClient, namespace: str, duration: float = 2.0) -> tuple[Leadership, Leadership]:
    return (
        Leadership(kube, namespace=namespace, identity="alpha", timings=timings(duration)),
        Leadership(kube, namespace=namespace, identity="beta", timings=timings(duration)),
    )


async def test_exactly_one_of_two_instances_leads(kube: KubeClient, namespace: str) -> None:
    alpha, beta = pair(kube, namespace)
    assert await alpha.try_once() is True
    assert await beta.try_once() is False
    assert await alpha.try_once() is True  # renewal
    assert alpha.leading and not beta.leading


async def test_a_clean_stop_hands_the_lease_over_at_once(kube: KubeClient, namespace: str) -> None:
    alpha, beta = pair(kube, namespace, duration=30.0)
    assert await alpha.try_once()
    await alpha.release()
    assert await beta.try_once() is True


async def test_a_leader_that_stops_renewing_is_replaced_and_does_not_come_back(
    kube: KubeClient, namespace: str
) -> None:
    alpha, beta = pair(kube, namespace, duration=2.0)
    assert await alpha.try_once()
    assert await beta.try_once() is False
    await asyncio.sleep(1.5)  # past alpha's renew deadline, before the Lease expires
    assert not alpha.leading  # alpha has stopped acting...
    assert await beta.try_once() is False  # ...before beta may take over
    await asyncio.sleep(0.7)  # alpha's Lease expires
    assert await beta.try_once() is True
    assert await alpha.try_once() is False  # beta renewed just now


async def test_the_same_identity_takes_its_lease_back_at_once(kube: KubeClient, namespace: str) -> None:
    """The restarted container of the same pod (same name and UID) need not wait for expiry."""
    first = Leadership(kube, namespace=namespace, identity="pod_uid-1", timings=timings(30.0))
    assert await first.try_once()
    restarted = Leadership(kube, namespace=namespace, identity="pod_uid-1", timings=timings(30.0))
    assert await restarted.try_once() is True
    assert await pair(kube, namespace, duration=30.0)[0].try_once() is False


async def test_the_queue_waits_while_another_instance_leads() -> None:
    gate = asyncio.Event()
    seen: list[Key] = []

    async def worker(key: Key) -> None:
        seen.append(key)

    queue = WorkQueue(worker, concurrency=2, gate=gate)
    queue.start()
    queue.add(("ns", "pod"))
    await asyncio.sleep(0.1)
    assert seen == []
    gate.set()
    await asyncio.sleep(0.1)
    await queue.stop()
    assert seen == [("ns", "pod")]
