"""We test these aspects of a pass over a pod with an EIP list or TKE-only things, on the
in-memory Kubernetes of ``fakes.py`` (the cloud is a tripwire: no pass here reaches it):

- a pod without an ordinal gets a PodEIP for the first entry no live PodEIP claims (a claim
  whose holder PodEIP is gone counts as free); when all are held, or a replica is beyond the
  list, there is no PodEIP, an ``EipListExhausted`` Warning and a False gate;
- a replica's PodEIP names the entry of its ordinal and records the owner's UID;
- a pod that is not scheduled yet and asks for TKE's extended resources gets a Warning naming
  them, and nothing else happens.
"""

from __future__ import annotations

from typing import Any

from podeip import constants as c
from podeip.reconcile.queue import Requeue

from .fakes import World, node_body, pod_body, reconciler

LIST = c.PREFIX_NETWORK + c.POD_EIP_INSTANCE_ID_LIST


def world_with(name: str, annotations: dict[str, str], **pod: Any) -> World:
    world = World()
    world.pods[("ns", name)] = pod_body(name, annotations, **pod)
    world.nodes["node-a"] = node_body("node-a", {"type": "kwok"})
    return world


async def run_pass(world: World, name: str) -> Requeue | None:
    try:
        await reconciler(world).reconcile(("ns", name))
    except Requeue as requeue:
        return requeue
    return None


def held_by_live_podeip(world: World, allocation_id: str, holder_name: str) -> None:
    world.podeips[("ns", holder_name)] = {
        "metadata": {"name": holder_name, "namespace": "ns", "uid": "u-live"},
        "spec": {
            "allocationID": allocation_id,
            "allocationType": {"type": "Static", "releaseStrategy": "Follow"},
        },
    }
    world.claims[allocation_id] = f"ns/{holder_name}/u-live"


async def test_a_pod_without_an_ordinal_takes_the_first_free_entry() -> None:
    world = world_with("web-7d4b9c-x2b4z", {LIST: "eip-a,eip-b,eip-c"}, owner="ReplicaSet")
    held_by_live_podeip(world, "eip-a", "other")
    world.claims["eip-b"] = "ns/gone/u-gone"  # its PodEIP no longer exists: free
    await run_pass(world, "web-7d4b9c-x2b4z")
    stored = world.podeips[("ns", "web-7d4b9c-x2b4z")]
    assert stored["spec"]["allocationID"] == "eip-b"
    assert stored["spec"]["allocationType"]["type"] == "Static"
    assert '"allocation_id":"eip-b"' in stored["metadata"]["annotations"][c.ANN_REQUEST]


async def test_all_entries_held_means_no_podeip_a_warning_and_a_false_gate() -> None:
    world = world_with("web-7d4b9c-x2b4z", {LIST: "eip-a"}, owner="ReplicaSet")
    held_by_live_podeip(world, "eip-a", "other")
    requeue = await run_pass(world, "web-7d4b9c-x2b4z")
    assert requeue is not None and requeue.after > 0
    assert ("ns", "web-7d4b9c-x2b4z") not in world.podeips
    [event] = [e for e in world.events if e.reason == c.EV_EIP_LIST_EXHAUSTED]
    assert event.type == "Warning" and LIST in event.message
    assert (world.pod_conditions[-1]["status"], world.pod_conditions[-1]["reason"]) == (
        "False",
        c.EV_EIP_LIST_EXHAUSTED,
    )


async def test_a_replica_beyond_the_list_waits_and_one_within_takes_its_own_entry() -> None:
    world = world_with("web-2", {LIST: "eip-a,eip-b"})
    await run_pass(world, "web-2")
    assert world.podeips == {}
    [event] = [e for e in world.events if e.reason == c.EV_EIP_LIST_EXHAUSTED]
    assert "replica 2" in event.message and event.type == "Warning"
    assert world.pod_conditions[-1]["reason"] == c.EV_EIP_LIST_EXHAUSTED

    world = world_with("web-1", {LIST: "eip-a,eip-b"})
    world.pods[("ns", "web-1")]["metadata"]["ownerReferences"][0]["uid"] = "sts-uid-1"
    held_by_live_podeip(world, "eip-a", "web-0")  # another replica's entry is no concern of web-1
    await run_pass(world, "web-1")
    stored = world.podeips[("ns", "web-1")]
    assert stored["spec"]["allocationID"] == "eip-b"
    assert stored["metadata"]["annotations"][c.ANN_OWNER_UID] == "sts-uid-1"
    assert stored["metadata"]["annotations"][c.ANN_OWNER_API_VERSION] == "apps/v1"


async def test_an_unscheduled_pod_asking_for_tke_resources_gets_a_warning_and_nothing_else() -> None:
    world = world_with("web-0", {c.TKE_EIP_ATTRIBUTES: "{}"}, node=None)
    resources = {"tke.cloud.tencent.com/eip": "1", "tke.cloud.tencent.com/eni-ip": "1"}
    world.pods[("ns", "web-0")]["spec"]["containers"][0]["resources"] = {
        "limits": resources,
        "requests": resources,
    }
    await run_pass(world, "web-0")
    assert world.podeips == {} and world.pod_conditions == []
    [event] = world.events
    assert (event.type, event.reason) == ("Warning", c.EV_TKE_ONLY)
    assert "tke.cloud.tencent.com/eip, tke.cloud.tencent.com/eni-ip" in event.message
