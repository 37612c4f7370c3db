"""We test these aspects of TKE manifests and EIP lists on the local control plane, with the
operator as ``podeip run`` and the simulated cloud behind the official SDK:

- the seed 004 manifests, applied as copied (crds/samples/tke-*.yaml): the pod stays Pending
  (nothing advertises ``tke.cloud.tencent.com/eip``) with a Warning Event naming the resource,
  and nothing is allocated; with the extended-resource lines removed it binds: an Auto EIP of
  100 Mbit/s kept under Never, or the first entry of ``eip-id-list``;
- a 3-replica StatefulSet with a 3-entry list gets the EIPs in ordinal order and keeps them
  across pod deletion; a 4th replica waits with an ``EipListExhausted`` Warning and a False gate;
- a Deployment with a one-entry list binds exactly one pod; the other waits; once the holder is
  gone, exactly one pod takes the entry;
- every test ends with a leak audit of the simulated cloud (list entries: only Associate and
  Unassociate, never released).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import (
    GC_PERIOD_MINUTES,
    OperatorProcess,
    apply,
    eip_address_of,
    events,
    leak_audit,
    ours,
    pod,
    podeip,
    wait_for_address,
    workload,
)

SAMPLES = Path(__file__).parents[3] / "crds" / "samples"
LIST = c.PREFIX_NETWORK + c.POD_EIP_INSTANCE_ID_LIST


def seed_manifest(name: str, *, without_extended_resources: bool) -> dict[str, Any]:
    """The sample as copied from seed 004, optionally without its extended-resource lines, and
    without its ``namespace: default`` (the test's namespace is used)."""
    text = (SAMPLES / name).read_text()
    if without_extended_resources:
        text = "\n".join(
            line for line in text.splitlines() if line.split(":")[0].strip() not in c.TKE_RESOURCES
        )
    manifest: dict[str, Any] = yaml.safe_load(text)
    manifest["metadata"].pop("namespace")
    return manifest


def gate(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    body = pod(kubectl, namespace, name) or {}
    conditions = {x["type"]: x for x in body.get("status", {}).get("conditions") or []}
    return conditions.get(c.READINESS_GATE)


def test_the_auto_never_seed_stays_pending_with_a_warning_then_binds_without_the_resources(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    since = len(cloud.engine.call_log())
    apply(
        kubectl, namespace, seed_manifest("tke-statefulset-auto-never.yaml", without_extended_resources=False)
    )
    warned = wait_for(lambda: events(kubectl, namespace, reason=c.EV_TKE_ONLY), what="TKE-only Warning")
    messages = " ".join(e["message"] for e in warned)  # type: ignore[attr-defined]
    assert "tke.cloud.tencent.com/eip" in messages and "never be scheduled" in messages
    assert all(e["type"] == "Warning" and e["involvedObject"]["name"] == "busybox-0" for e in warned)  # type: ignore[attr-defined]
    time.sleep(2 * GC_PERIOD_MINUTES * 60)
    assert not (pod(kubectl, namespace, "busybox-0") or {}).get("spec", {}).get("nodeName")
    assert podeip(kubectl, namespace, "busybox-0") is None
    assert not [call for call in cloud.engine.call_log()[since:] if call.action == "AllocateEipAddress"]

    kubectl("-n", namespace, "delete", "statefulset", "busybox", "--wait=true")
    wait_for(lambda: pod(kubectl, namespace, "busybox-0") is None, what="pending pod gone")
    apply(
        kubectl, namespace, seed_manifest("tke-statefulset-auto-never.yaml", without_extended_resources=True)
    )
    address = wait_for_address(kubectl, namespace, "busybox-0")
    body = podeip(kubectl, namespace, "busybox-0")
    assert body is not None
    assert body["spec"]["allocationType"] == {"type": "Auto", "releaseStrategy": "Never"}
    eip = next(e for e in ours(cloud.engine) if e.ip_address == address)
    assert (eip.bandwidth, eip.isp) == (100, "BGP")
    assert events(kubectl, namespace, reason=c.EV_TKE_ANNOTATIONS_READ)
    kubectl("-n", namespace, "delete", "statefulset", "busybox")
    wait_for(
        lambda: (
            (podeip(kubectl, namespace, "busybox-0") or {}).get("status", {}).get("status") == "Available"
        ),
        what="Never: kept, unbound",
    )
    leak_audit(cloud.engine, kubectl, namespace)


def test_the_eip_id_list_seed_binds_its_first_entry_without_the_resources(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    first = cloud.engine.seed_eip(allocation_id="eip-xxx1", status=EipStatus.AVAILABLE)
    second = cloud.engine.seed_eip(allocation_id="eip-xxx2", status=EipStatus.AVAILABLE)
    apply(
        kubectl, namespace, seed_manifest("tke-statefulset-eip-id-list.yaml", without_extended_resources=True)
    )
    assert wait_for_address(kubectl, namespace, "busybox-0") == first.ip_address
    assert podeip(kubectl, namespace, "busybox-0")["spec"]["allocationID"] == "eip-xxx1"  # type: ignore[index]
    kubectl("-n", namespace, "delete", "statefulset", "busybox")
    leak_audit(cloud.engine, kubectl, namespace, static_ids=(first.allocation_id, second.allocation_id))


def test_a_statefulset_takes_its_list_in_ordinal_order_keeps_it_and_a_fourth_replica_waits(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    entries = [cloud.engine.seed_eip(status=EipStatus.AVAILABLE) for _ in range(3)]
    annotations = {LIST: ",".join(e.allocation_id for e in entries)}
    apply(kubectl, namespace, workload("StatefulSet", "game", 3, annotations))
    for ordinal, entry in enumerate(entries):
        assert wait_for_address(kubectl, namespace, f"game-{ordinal}") == entry.ip_address
    old_uid = pod(kubectl, namespace, "game-1")["metadata"]["uid"]  # type: ignore[index]
    kubectl("-n", namespace, "delete", "pod", "game-1", "--wait=false")
    wait_for(
        lambda: (p := pod(kubectl, namespace, "game-1")) and p["metadata"]["uid"] != old_uid,
        what="game-1 back",
    )
    assert wait_for_address(kubectl, namespace, "game-1") == entries[1].ip_address

    kubectl("-n", namespace, "scale", "statefulset", "game", "--replicas=4")
    exhausted = wait_for(
        lambda: [e for e in events(kubectl, namespace, reason=c.EV_EIP_LIST_EXHAUSTED)], what="list Warning"
    )
    assert exhausted[0]["involvedObject"]["name"] == "game-3" and exhausted[0]["type"] == "Warning"  # type: ignore[index]
    assert "replica 3" in exhausted[0]["message"]  # type: ignore[index]
    shown = wait_for(lambda: gate(kubectl, namespace, "game-3"), what="game-3 gate")
    assert shown["status"] == "False" and shown["reason"] == c.EV_EIP_LIST_EXHAUSTED  # type: ignore[index]
    assert podeip(kubectl, namespace, "game-3") is None
    assert [e.ip_address for e in ours(cloud.engine)] == [], (
        "list entries are never tagged, nothing allocated"
    )

    kubectl("-n", namespace, "delete", "statefulset", "game")
    leak_audit(cloud.engine, kubectl, namespace, static_ids=tuple(e.allocation_id for e in entries))


def test_a_deployment_with_a_one_entry_list_binds_exactly_one_pod(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    entry = cloud.engine.seed_eip(status=EipStatus.AVAILABLE)
    apply(kubectl, namespace, workload("Deployment", "web", 2, {LIST: entry.allocation_id}))

    def names() -> list[str]:
        items = get_json(kubectl, "-n", namespace, "pods", "-l", "app=web")["items"]
        return sorted(item["metadata"]["name"] for item in items)

    wait_for(lambda: len(names()) == 2, what="two pods")

    def bound() -> list[str]:
        return [name for name in names() if eip_address_of(kubectl, namespace, name) == entry.ip_address]

    holder = wait_for(lambda: bound() or None, what="one pod bound")
    time.sleep(3 * GC_PERIOD_MINUTES * 60)  # several collector passes and retries later
    assert bound() == holder and len(holder) == 1  # type: ignore[arg-type]
    waiting = next(name for name in names() if name not in holder)  # type: ignore[operator]
    shown = gate(kubectl, namespace, waiting)
    assert shown is not None and shown["status"] == "False"
    reasons = {e["reason"] for e in events(kubectl, namespace) if e["involvedObject"]["name"] == waiting}
    assert reasons & {c.EV_EIP_LIST_EXHAUSTED, c.EV_CLAIMED_BY_OTHER}

    kubectl("-n", namespace, "delete", "pod", holder[0], "--wait=false")  # type: ignore[index]
    # The entry is free again: one of the remaining pods (the waiting one or the replacement
    # the Deployment makes) takes it, and only one.
    again = wait_for(
        lambda: ((b := bound()) and holder[0] not in names() and b) or None,  # type: ignore[index]
        timeout=120,
        what="another pod takes the freed entry",
    )
    assert len(again) == 1  # type: ignore[arg-type]
    kubectl("-n", namespace, "delete", "deployment", "web")
    leak_audit(cloud.engine, kubectl, namespace, static_ids=(entry.allocation_id,))
