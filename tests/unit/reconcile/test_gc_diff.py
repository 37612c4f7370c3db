"""We test these aspects of the garbage collector as a diff (issue 13 item 3), on the in-process
harness with the operator's view filled (as ``podeip run`` has it once started):

- a bound PodEIP that agrees with the cloud listing is not enqueued, and the pass makes no
  Kubernetes request (no PodEIP listing) and one cloud listing;
- a PodEIP whose EIP was unbound, or removed, out of band, or whose pod went, is enqueued, and
  its pass repairs it (bound again) or lets it go;
- PodEIPs are listed from the API server only when the cloud listing has orphan candidates, and
  a candidate that the view does not know but the API server's listing names is not released
  (fail closed: the fresh listing, not the view, decides);
- without the view (``podeip gc``), every PodEIP is still listed from the API server.
"""

from __future__ import annotations

from typing import Any

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile import gc

from .harness import CLUSTER, KEY, Bed


class Counting:
    """Counts the PodEIP listings the sweep makes."""

    def __init__(self, bed: Bed) -> None:
        self.lists = 0
        api = bed.deps.podeips._inner  # type: ignore[attr-defined]  (the world's, under the view)
        inner = api.list

        async def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            self.lists += 1
            return await inner(*args, **kwargs)

        api.list = counted


async def bound_and_watched(bed: Bed) -> str:
    bed.eni()
    bed.add_pod()
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None and podeip.status.eip_address
    bed.world.deliver(bed.view)
    bed.view.ready.set()
    bed.enqueued.clear()
    return podeip.spec.allocation_id


def listings(bed: Bed) -> int:
    return len(bed.engine.call_log(action="DescribeEipAddresses"))


async def test_an_agreeing_podeip_is_not_enqueued_and_nothing_is_listed_in_kubernetes() -> None:
    bed = Bed()
    await bound_and_watched(bed)
    counting = Counting(bed)
    before = listings(bed)
    sweep = await gc.run_pass(bed.deps)
    assert sweep.aborted is None and sweep.podeips == 1
    assert bed.enqueued == [] and counting.lists == 0
    assert listings(bed) == before + 1


async def test_an_eip_unbound_out_of_band_is_enqueued_and_bound_again() -> None:
    bed = Bed()
    allocation_id = await bound_and_watched(bed)
    bed.engine.edit_eip(allocation_id, status=EipStatus.AVAILABLE, instance_id="", private_ip="")
    await gc.run_pass(bed.deps)
    assert bed.enqueued == [KEY]
    await bed.settle()
    eip = next(e for e in bed.engine.eips() if e.allocation_id == allocation_id)
    assert eip.status is EipStatus.IN_USE and eip.private_ip_address == "10.0.0.5"


async def test_an_eip_missing_from_the_listing_or_a_pod_gone_is_enqueued() -> None:
    bed = Bed()
    allocation_id = await bound_and_watched(bed)
    bed.engine.delete_eip(allocation_id)
    await gc.run_pass(bed.deps)
    assert bed.enqueued == [KEY]
    bed.enqueued.clear()
    bed.delete_pod()
    bed.world.deliver(bed.view)
    await gc.run_pass(bed.deps)
    assert bed.enqueued == [KEY]


async def test_podeips_are_listed_from_the_api_only_for_candidates_and_they_decide() -> None:
    bed = Bed()
    await bound_and_watched(bed)
    counting = Counting(bed)
    tags = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: "uid-new"}
    newer = bed.engine.seed_eip(tags=tags, status=EipStatus.AVAILABLE).allocation_id
    # A PodEIP that names it exists in the API server, and the view has not seen it yet.
    bed.world.podeips[("ns", "newer")] = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {"name": "newer", "namespace": "ns", "uid": "uid-new", "resourceVersion": "900"},
        "spec": {"allocationID": newer, "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}},
    }
    bed.clock.advance(3600)
    sweep = await gc.run_pass(bed.deps)
    assert counting.lists == 1 and sweep.podeips == 2
    assert sweep.candidates == [] and sweep.released == []
    assert any(e.allocation_id == newer for e in bed.engine.eips())


async def test_without_the_view_podeips_come_from_the_api_server() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    counting = Counting(bed)
    assert not bed.view.ready.is_set()
    sweep = await gc.run_pass(bed.deps)
    assert counting.lists == 1 and sweep.podeips == 1 and bed.enqueued == [KEY]
