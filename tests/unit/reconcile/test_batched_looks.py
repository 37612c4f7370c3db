"""We test these aspects of the reconciler on the observation cache (``ObservedEips``):

- passes for many pods that run together share their looks: 20 Auto/Follow lifecycles whose
  passes run concurrently cost far fewer Describes than 20 alone, and one ENI lookup;
- the hand-written invalidation is gone and nothing stale is served: every lifecycle still
  binds its own EIP to its own pod IP and releases it, none twice.
"""

from __future__ import annotations

import asyncio
import collections

from podeip.cloud.models import EipStatus
from podeip.reconcile.queue import Key

from .harness import Bed

PODS = 20


async def _lifecycles(bed: Bed, keys: list[Key]) -> None:
    for n, key in enumerate(keys):
        ip = f"10.0.1.{n + 10}"
        bed.eni(ip)
        bed.add_pod(key=key, pod_ip=ip, uid=f"pod-uid-{n}")
    await asyncio.gather(*(bed.settle(key, horizon=300) for key in keys))


async def test_concurrent_passes_share_their_describes_and_bind_each_pod_its_own_eip() -> None:
    bed = Bed()
    keys = [("ns", f"web-{n}") for n in range(PODS)]
    await _lifecycles(bed, keys)
    eips = {eip.allocation_id: eip for eip in bed.engine.eips()}
    bound = {eip.private_ip_address for eip in eips.values() if eip.status is EipStatus.IN_USE}
    assert bound == {f"10.0.1.{n + 10}" for n in range(PODS)}
    for key in keys:
        podeip = bed.podeip(key)
        assert podeip is not None and podeip.status is not None
        assert podeip.status.private_ip_address == eips[podeip.spec.allocation_id].private_ip_address
    for key in keys:
        bed.delete_pod(key)
    for _ in range(2):
        await asyncio.gather(*(bed.settle(key, horizon=300) for key in keys))
    calls = collections.Counter(call.action for call in bed.engine.call_log())
    assert all(bed.podeip(key) is None for key in keys)
    assert calls["AllocateEipAddress"] == calls["ReleaseEipAddress"] == PODS
    assert calls["AssociateEipAddress"] == calls["UnassociateEipAddress"] == PODS
    # Alone, a lifecycle looks twice (after Associate, before Release) and resolves one ENI.
    assert calls["DescribeEipAddresses"] < PODS
    assert calls["DescribeNetworkInterfaces"] == 1


async def test_pods_that_show_their_ips_together_share_one_eni_lookup_even_when_bound_one_by_one() -> None:
    bed = Bed()
    keys = [("ns", f"web-{n}") for n in range(PODS)]
    for n, key in enumerate(keys):
        bed.eni(f"10.0.1.{n + 10}")
        bed.add_pod(key=key, pod_ip=f"10.0.1.{n + 10}", uid=f"pod-uid-{n}")
    bed.add_pod(key=("ns", "no-ip"), pod_ip="", uid="pod-uid-none")
    bed.world.deliver(bed.view)  # the watch shows them all at once
    for key in keys:  # then one pass after another, as rate-limited Allocates spread them
        await bed.settle(key, horizon=300)
    await bed.settle(("ns", "no-ip"))
    for key in keys:  # the bound pods' later events look nothing up
        bed.world.pods[key]["metadata"]["labels"] = {"changed": "yes"}
    bed.world.deliver(bed.view)
    await asyncio.sleep(0)
    lookups = [call for call in bed.engine.call_log() if call.action == "DescribeNetworkInterfaces"]
    assert len(lookups) == 1
    bound = {eip.private_ip_address for eip in bed.engine.eips() if eip.status is EipStatus.IN_USE}
    assert bound == {f"10.0.1.{n + 10}" for n in range(PODS)}
