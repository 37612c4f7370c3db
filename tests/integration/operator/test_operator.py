"""We test these aspects of the operator on the local control plane, through the official SDK:

- the seed documents' Deployment (bandwidth 5, readiness gate): every pod gets its EIP, the
  annotations under both prefixes and the gate condition; PodEIP status and kubectl columns;
  Follow releases every EIP when the Deployment goes;
- the seed documents' StatefulSet with a TTL (shortened): a deleted pod comes back with the same
  address; after the StatefulSet is gone the EIPs are released once the TTL has passed;
- Never keeps the PodEIP and the EIP (unbound) until a user deletes the PodEIP;
- a static EIP is associated, never released, and unassociated when its pod goes; a second pod
  naming it waits with an Event that names the holder; an EIP bound elsewhere is never taken;
- bad annotations get an Event naming key and value, and nothing is allocated;
- PodEIPs left by AENC are adopted without a second EIP when the cloud shows their EIP bound to
  their pod (the proof), an unbound one only once an administrator opts in;
- the operator refuses to start while Terway's EIP pool is on;
- every test ends with a leak audit of the simulated cloud.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from podeip import constants as c
from podeip.cloud.models import NETWORK_INTERFACE, EipStatus
from podeip.simulator.engine import Engine
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import (
    CLUSTER_ID,
    OperatorProcess,
    apply,
    eip_address_of,
    events,
    leak_audit,
    ours,
    pod,
    pod_manifest,
    podeip,
    wait_for_address,
    workload,
)

K8S = c.PREFIX_K8S
NET = c.PREFIX_NETWORK


def test_seed_deployment_pods_get_eips_and_follow_releases_them(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    annotations = {K8S + "pod-with-eip": "true", K8S + "eip-bandwidth": "5"}
    apply(kubectl, namespace, workload("Deployment", "web", 2, annotations))
    names = wait_for(
        lambda: [p["metadata"]["name"] for p in get_json(kubectl, "-n", namespace, "pods")["items"]] or None,
        what="deployment pods",
    )
    addresses = {name: wait_for_address(kubectl, namespace, name) for name in names}  # type: ignore[union-attr]
    assert len(set(addresses.values())) == 2
    for name, address in addresses.items():
        body = podeip(kubectl, namespace, name)
        assert body is not None
        assert body["metadata"]["finalizers"] == [c.FINALIZER]
        assert body["spec"]["allocationType"] == {"type": "Auto", "releaseStrategy": "Follow"}
        status = body["status"]
        pod_ip = pod(kubectl, namespace, name)["status"]["podIP"]  # type: ignore[index]
        assert status["eipAddress"] == address
        assert status["privateIPAddress"] == pod_ip
        assert status["networkInterfaceID"].startswith("eni-")
        assert status["status"] == "InUse"
        assert status["internetChargeType"] == "PayByTraffic"
        assert status["isp"] == "BGP"
        assert status["podLastSeen"]
        eip = next(e for e in cloud.engine.eips() if e.allocation_id == body["spec"]["allocationID"])
        assert eip.bandwidth == 5
        assert eip.private_ip_address == pod_ip
        assert eip.tags[c.TAG_PODEIP_UID] == body["metadata"]["uid"]
    table = kubectl("-n", namespace, "get", "peip", "-o", "wide")
    header = table.splitlines()[0].split()
    assert header[:6] == ["NAME", "EIP", "POD-IP", "STATUS", "TYPE", "STRATEGY"]
    assert all(address in table for address in addresses.values())
    kubectl("-n", namespace, "delete", "deployment", "web")
    wait_for(
        lambda: not get_json(kubectl, "-n", namespace, "podeips")["items"], timeout=90, what="PodEIPs gone"
    )
    leak_audit(cloud.engine, kubectl, namespace)


def test_statefulset_pod_recreated_within_ttl_keeps_its_address_and_expiry_releases(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    annotations = {NET + "pod-with-eip": "true", NET + "pod-eip-release-strategy": "20s"}
    apply(kubectl, namespace, workload("StatefulSet", "game", 2, annotations))
    first = {name: wait_for_address(kubectl, namespace, name) for name in ("game-0", "game-1")}
    spec = podeip(kubectl, namespace, "game-0")["spec"]  # type: ignore[index]
    assert spec["allocationType"] == {"type": "Auto", "releaseStrategy": "TTL", "releaseAfter": "20s"}
    old_uid = pod(kubectl, namespace, "game-0")["metadata"]["uid"]  # type: ignore[index]
    kubectl("-n", namespace, "delete", "pod", "game-0", "--wait=false")
    wait_for(
        lambda: (p := pod(kubectl, namespace, "game-0")) and p["metadata"]["uid"] != old_uid,
        what="game-0 back",
    )
    assert wait_for_address(kubectl, namespace, "game-0") == first["game-0"]
    allocations = {e.allocation_id for e in ours(cloud.engine) if e.tags.get(c.TAG_NAMESPACE) == namespace}
    assert len(allocations) == 2, "the returning pod must reuse its EIP, not allocate another"
    kubectl("-n", namespace, "delete", "statefulset", "game")

    def kept_unbound() -> bool:
        bodies = [podeip(kubectl, namespace, n) for n in ("game-0", "game-1")]
        return all(b and b.get("status", {}).get("status") == "Available" for b in bodies)

    wait_for(kept_unbound, timeout=60, what="EIPs kept and unbound while the TTL runs")
    kept = podeip(kubectl, namespace, "game-1")
    assert kept["status"]["eipAddress"] == first["game-1"]  # type: ignore[index]
    assert "privateIPAddress" not in kept["status"]  # type: ignore[index]
    assert kept["status"]["podLastSeen"]  # type: ignore[index]
    wait_for(
        lambda: not get_json(kubectl, "-n", namespace, "podeips")["items"], timeout=90, what="TTL expiry"
    )
    wait_for(
        lambda: not [e for e in ours(cloud.engine) if e.allocation_id in allocations], what="EIPs released"
    )
    leak_audit(cloud.engine, kubectl, namespace)


def test_never_keeps_the_eip_until_the_podeip_is_deleted(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    apply(
        kubectl,
        namespace,
        pod_manifest("keeper", {K8S + "pod-with-eip": "true", K8S + "pod-eip-release-strategy": "Never"}),
    )
    address = wait_for_address(kubectl, namespace, "keeper")
    allocation_id = podeip(kubectl, namespace, "keeper")["spec"]["allocationID"]  # type: ignore[index]
    kubectl("-n", namespace, "delete", "pod", "keeper")
    wait_for(
        lambda: podeip(kubectl, namespace, "keeper")["status"].get("status") == "Available", what="unbound"
    )  # type: ignore[index]
    time.sleep(2 * 60 * 0.05)  # two GC periods: Never must not be released by the collector
    body = podeip(kubectl, namespace, "keeper")
    assert body is not None and body["status"]["eipAddress"] == address
    eip = next(e for e in cloud.engine.eips() if e.allocation_id == allocation_id)
    assert eip.status is EipStatus.AVAILABLE
    kubectl("-n", namespace, "delete", "podeip", "keeper")
    wait_for(lambda: podeip(kubectl, namespace, "keeper") is None, what="PodEIP gone")
    wait_for(lambda: all(e.allocation_id != allocation_id for e in cloud.engine.eips()), what="EIP released")
    leak_audit(cloud.engine, kubectl, namespace)


def test_static_eip_is_shared_by_nobody_never_released_and_never_robbed(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    engine = cloud.engine
    static = engine.seed_eip(status=EipStatus.AVAILABLE)
    bound_elsewhere = engine.seed_eip(
        status=EipStatus.IN_USE, instance_id="i-someoneelse01", instance_type="EcsInstance"
    )
    apply(
        kubectl,
        namespace,
        pod_manifest("holder", {K8S + "pod-eip-instanceid": static.allocation_id}),
        pod_manifest("robber", {NET + "pod-eip-instanceid": bound_elsewhere.allocation_id}),
    )
    assert wait_for_address(kubectl, namespace, "holder") == static.ip_address
    apply(kubectl, namespace, pod_manifest("second", {K8S + "eci-eip-instanceid": static.allocation_id}))
    claimed = wait_for(lambda: events(kubectl, namespace, reason=c.EV_CLAIMED_BY_OTHER), what="claim Event")
    assert f"{namespace}/holder" in claimed[0]["message"]  # type: ignore[index]
    assert eip_address_of(kubectl, namespace, "second") is None
    conflict = wait_for(lambda: events(kubectl, namespace, reason=c.EV_CONFLICT), what="conflict Event")
    assert bound_elsewhere.allocation_id in conflict[0]["message"]  # type: ignore[index]
    kubectl("-n", namespace, "delete", "pod", "holder")
    assert wait_for_address(kubectl, namespace, "second") == static.ip_address
    kubectl("-n", namespace, "delete", "pod", "second", "robber")
    wait_for(
        lambda: not get_json(kubectl, "-n", namespace, "podeips")["items"], timeout=90, what="PodEIPs gone"
    )
    after = {e.allocation_id: e for e in engine.eips()}
    assert after[static.allocation_id].status is EipStatus.AVAILABLE
    assert after[bound_elsewhere.allocation_id].instance_id == "i-someoneelse01"
    assert engine.mutations(allocation_id=bound_elsewhere.allocation_id) == []
    leak_audit(engine, kubectl, namespace, static_ids=(static.allocation_id, bound_elsewhere.allocation_id))


def test_bad_annotations_get_an_event_naming_key_and_value_and_nothing_is_allocated(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    before = len(cloud.engine.call_log(action="AllocateEipAddress"))
    apply(
        kubectl, namespace, pod_manifest("bad", {K8S + "pod-with-eip": "true", NET + "eip-bandwidth": "fast"})
    )
    found = wait_for(
        lambda: events(kubectl, namespace, reason=c.EV_INVALID_ANNOTATION), what="InvalidAnnotation Event"
    )
    message = found[0]["message"]  # type: ignore[index]
    assert NET + "eip-bandwidth" in message and "fast" in message
    body = pod(kubectl, namespace, "bad")
    gate = {x["type"]: x for x in body["status"].get("conditions", [])}.get(c.READINESS_GATE)  # type: ignore[index]
    assert gate is not None and gate["status"] == "False" and gate["reason"] == c.EV_INVALID_ANNOTATION
    assert podeip(kubectl, namespace, "bad") is None
    assert len(cloud.engine.call_log(action="AllocateEipAddress")) == before
    leak_audit(cloud.engine, kubectl, namespace)


def left_by_aenc(name: str, allocation_id: str) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "alibabacloud.com/v1beta1",
        "kind": "PodEIP",
        "metadata": {
            "name": name,
            "finalizers": [c.FINALIZER],
            "annotations": {c.CONTROLLER_MARKER_KEY: "ack-extend-network-controller"},
        },
        "spec": {
            "allocationID": allocation_id,
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    }


def bind_as_aenc_did(engine: Engine, allocation_id: str, pod_ip: str) -> None:
    """Associate the EIP with the pod IP out of band, through the ENI that holds that IP."""
    engine.materialize_block(pod_ip)
    eni = next(e for e in engine.eni_views() if pod_ip in (e.primary_ip, *e.private_ips))
    engine.edit_eip(
        allocation_id,
        instance_id=eni.eni_id,
        instance_type=NETWORK_INTERFACE,
        private_ip=pod_ip,
        status=EipStatus.IN_USE,
    )


def test_podeip_left_by_aenc_is_adopted_without_a_new_allocation(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    """Adoption with proof: AENC bound the EIP to the pod; an unbound one waits for an opt-in."""
    engine = cloud.engine
    existing = engine.seed_eip(status=EipStatus.AVAILABLE)
    unbound = engine.seed_eip(status=EipStatus.AVAILABLE)
    # The migration: AENC is removed, its PodEIPs and pods stay, then our operator starts.
    operator.stop()
    allocations_before = len(engine.call_log(action="AllocateEipAddress"))
    apply(kubectl, namespace, left_by_aenc("migrated", existing.allocation_id))
    apply(kubectl, namespace, left_by_aenc("unbound", unbound.allocation_id))
    apply(
        kubectl,
        namespace,
        pod_manifest("migrated", {K8S + "pod-with-eip": "true"}),
        pod_manifest("unbound", {K8S + "pod-with-eip": "true"}),
    )
    pod_ip = wait_for(
        lambda: (pod(kubectl, namespace, "migrated") or {}).get("status", {}).get("podIP"), what="pod IP"
    )
    bind_as_aenc_did(engine, existing.allocation_id, str(pod_ip))
    wait_for(lambda: (pod(kubectl, namespace, "unbound") or {}).get("status", {}).get("podIP"), what="pod IP")
    operator.start()
    assert wait_for_address(kubectl, namespace, "migrated") == existing.ip_address
    assert len(engine.call_log(action="AllocateEipAddress")) == allocations_before
    adopted = next(e for e in engine.eips() if e.allocation_id == existing.allocation_id)
    uid = podeip(kubectl, namespace, "migrated")["metadata"]["uid"]  # type: ignore[index]
    assert adopted.tags[c.TAG_PODEIP_UID] == uid and adopted.tags[c.TAG_CLUSTER_ID] == CLUSTER_ID
    tagged_only = {call.action for call in engine.mutations(allocation_id=existing.allocation_id)}
    assert tagged_only == {"TagResources"}
    assert events(kubectl, namespace, reason=c.EV_ADOPTED)
    # Without proof nothing is done, until an administrator opts in.
    wait_for(lambda: events(kubectl, namespace, reason=c.EV_NOT_ADOPTED), what="EipNotAdopted")
    assert engine.mutations(allocation_id=unbound.allocation_id) == []
    operator.stop()
    try:
        operator.start(PODEIP_ADOPT_UNTAGGED_EIPS="true")
        assert wait_for_address(kubectl, namespace, "unbound") == unbound.ip_address
    finally:
        operator.stop()
        operator.start()
    kubectl("-n", namespace, "delete", "pod", "migrated", "unbound")
    wait_for(lambda: podeip(kubectl, namespace, "migrated") is None, what="Follow deletes the adopted PodEIP")
    for allocation_id in (existing.allocation_id, unbound.allocation_id):
        wait_for(lambda: all(e.allocation_id != allocation_id for e in engine.eips()), what="released")  # noqa: B023
    leak_audit(engine, kubectl, namespace)


def test_operator_refuses_to_run_beside_terways_eip_pool(
    operator: OperatorProcess, kubectl: Kubectl, tmp_path: Path
) -> None:
    eni_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "eni-config", "namespace": "kube-system"},
        "data": {"eni_conf": json.dumps({"version": "1", "enable_eip_pool": "true"})},
    }
    kubectl("apply", "-f", "-", input=json.dumps(eni_config))
    try:
        operator.stop()
        log = tmp_path / "refused.log"
        with log.open("wb") as output:
            result = subprocess.run(
                [sys.executable, "-m", "podeip", "run"],
                env=operator.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
        assert result.returncode == 3
        assert "enable_eip_pool" in log.read_text()
        refusals = [
            e
            for e in events(kubectl, "kube-system", reason=c.EV_OTHER_CONTROLLER)
            if e["involvedObject"]["kind"] == "ConfigMap" and e["involvedObject"]["name"] == "eni-config"
        ]
        assert refusals and refusals[0]["type"] == "Warning"
    finally:
        kubectl("-n", "kube-system", "delete", "configmap", "eni-config")
        operator.start()
