"""We test these aspects of the seed documents' timing rules on the local control plane, with
the operator as ``podeip run`` and the simulated cloud behind the official SDK:

- an unschedulable, Pending pod gets no PodEIP and causes no cloud call at all (the simulator's
  call log shows none but the collector's listing); once it is scheduled and runs, it gets its
  EIP (seed 000: the EIP comes "after a pod IP address is allocated");
- a pod first seen Pending that then lands on a virtual (ECI) node gets no EIP while
  ``enableVirtualNode`` is off; with it on, a pod there that asks with our own key gets one,
  and one that asks only through ECI's ``eci-with-eip`` alias does not (ECI serves it);
- a TTL runs from the moment the operator first sees the pod gone, recorded on the PodEIP: the
  release comes after that moment plus the TTL, never before, and within one GC period after,
  also when the operator restarts in between;
- ACS's ``allocated-eip-id`` pins an existing EIP (Static), with a Normal Event;
- values no request can hold (a lone surrogate in ``eip-tags``, NUL, ``"1h\\n"``, 200 kB, deeply
  nested JSON) give each live pod an ``InvalidAnnotation`` Event and a False gate, nothing else;
- every test ends with a leak audit of the simulated cloud.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import (
    GC_PERIOD_MINUTES,
    OperatorProcess,
    apply,
    events,
    leak_audit,
    ours,
    pod,
    pod_manifest,
    podeip,
    wait_for_address,
)

NET, K8S = c.PREFIX_NETWORK, c.PREFIX_K8S
GC_PERIOD = GC_PERIOD_MINUTES * 60
SELECTOR = "podeip-test/schedulable"
#: The block of the test VPC that no kwok node of the test bed uses.
VIRTUAL_CIDR = "198.51.100.192/26"


def pod_calls(cloud: RunningSimulator, since: int) -> list[str]:
    """Cloud calls after ``since`` other than the collector's listing of our tagged EIPs."""
    calls = cloud.engine.call_log()[since:]
    return [
        f"{call.action} {call.params}"
        for call in calls
        if not (
            call.action == "DescribeEipAddresses"
            and not call.params.get("AllocationId")
            and c.TAG_PODEIP_UID not in json.dumps(call.params)
        )
    ]


def unschedulable(kubectl: Kubectl, namespace: str, name: str) -> bool:
    body = pod(kubectl, namespace, name) or {}
    conditions = {x["type"]: x for x in body.get("status", {}).get("conditions") or []}
    scheduled = conditions.get("PodScheduled") or {}
    return scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"


def test_an_unschedulable_pod_causes_no_cloud_call_until_it_runs(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    manifest = pod_manifest("waiting", {NET + "pod-with-eip": "true"})
    manifest["spec"]["nodeSelector"] = {SELECTOR: namespace}
    since = len(cloud.engine.call_log())
    apply(kubectl, namespace, manifest)
    wait_for(lambda: unschedulable(kubectl, namespace, "waiting"), what="the pod Unschedulable")
    time.sleep(3 * GC_PERIOD)  # three collector passes over a Pending pod
    assert pod_calls(cloud, since) == []
    assert podeip(kubectl, namespace, "waiting") is None
    node = "kwok-node-2"
    kubectl("label", "node", node, f"{SELECTOR}={namespace}")
    try:
        address = wait_for_address(kubectl, namespace, "waiting")
        body = pod(kubectl, namespace, "waiting")
        assert body is not None and body["spec"]["nodeName"] == node
        assert any(e.ip_address == address for e in ours(cloud.engine))
        assert any(call.action == "AllocateEipAddress" for call in cloud.engine.call_log()[since:])
    finally:
        kubectl("label", "node", node, f"{SELECTOR}-")
    kubectl("-n", namespace, "delete", "pod", "waiting")
    leak_audit(cloud.engine, kubectl, namespace)


def virtual_node(kubectl: Kubectl, name: str, namespace: str) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            # How the operator tells a virtual node (settings.virtual_node_label).
            "labels": {
                "type": "virtual-kubelet",
                "kubernetes.io/hostname": name,
                "podeip-test/virtual": namespace,
            },
        },
        "spec": {"podCIDR": VIRTUAL_CIDR, "podCIDRs": [VIRTUAL_CIDR]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(node))

    def ready() -> bool:
        conditions = get_json(kubectl, "node", name).get("status", {}).get("conditions") or []
        return any(x["type"] == "Ready" and x["status"] == "True" for x in conditions)

    wait_for(ready, what=f"virtual node {name} Ready")


def test_virtual_nodes_are_decided_once_the_pod_has_its_node(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    name = f"virtual-{namespace}"
    allocations = len(cloud.engine.call_log(action="AllocateEipAddress"))
    # First seen Pending (no node has the label yet), then scheduled onto the virtual node.
    late = pod_manifest("late", {NET + "pod-with-eip": "true"})
    late["spec"]["nodeSelector"] = {"podeip-test/virtual": namespace}
    apply(kubectl, namespace, late)
    wait_for(lambda: unschedulable(kubectl, namespace, "late"), what="the pod Unschedulable")
    time.sleep(GC_PERIOD)
    virtual_node(kubectl, name, namespace)
    try:
        wait_for(
            lambda: (pod(kubectl, namespace, "late") or {}).get("status", {}).get("podIP"),
            what="the pod running on the virtual node",
        )
        skipped = wait_for(lambda: events(kubectl, namespace, reason=c.EV_POD_SKIPPED), what="PodSkipped")
        assert "virtual node" in skipped[0]["message"]  # type: ignore[index]
        time.sleep(GC_PERIOD)
        assert podeip(kubectl, namespace, "late") is None
        assert len(cloud.engine.call_log(action="AllocateEipAddress")) == allocations
        kubectl("-n", namespace, "delete", "pod", "late")

        # enableVirtualNode on: our own key is served there, ECI's alias is left to ECI.
        operator.stop()
        operator.start(PODEIP_ENABLE_VIRTUAL_NODE="true")
        own = pod_manifest("own", {NET + "pod-with-eip": "true"})
        eci = pod_manifest("eci", {K8S + "eci-with-eip": "true"})
        for manifest in (own, eci):
            manifest["spec"]["nodeName"] = name
        apply(kubectl, namespace, own, eci)
        address = wait_for_address(kubectl, namespace, "own")
        assert address in {e.ip_address for e in ours(cloud.engine)}
        time.sleep(GC_PERIOD)
        assert (pod(kubectl, namespace, "eci") or {}).get("status", {}).get("podIP")
        assert podeip(kubectl, namespace, "eci") is None
        kubectl("-n", namespace, "delete", "pod", "own", "eci")
        leak_audit(cloud.engine, kubectl, namespace)
    finally:
        operator.stop()
        operator.start()
        kubectl("-n", namespace, "delete", "pod", "--all", "--force", "--grace-period=0", check=False)
        kubectl("delete", "node", name, "--wait=false", check=False)


def test_the_ttl_runs_from_the_first_sight_of_the_pod_gone_across_a_restart(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    ttl = 30.0
    apply(
        kubectl,
        namespace,
        pod_manifest("keeper", {NET + "pod-with-eip": "true", NET + "pod-eip-release-strategy": "30s"}),
    )
    wait_for_address(kubectl, namespace, "keeper")
    allocation_id = podeip(kubectl, namespace, "keeper")["spec"]["allocationID"]  # type: ignore[index]
    before_delete = time.time()
    kubectl("-n", namespace, "delete", "pod", "keeper")
    deleted = time.time()

    def gone_since() -> str | None:
        annotations = (podeip(kubectl, namespace, "keeper") or {}).get("metadata", {}).get(
            "annotations"
        ) or {}
        return annotations.get(c.ANN_POD_GONE_SINCE)

    recorded = str(wait_for(gone_since, what="the first-seen-gone moment recorded"))
    gone = datetime.fromisoformat(recorded).timestamp()
    assert before_delete - 1 <= gone <= deleted + GC_PERIOD + 2, (before_delete, gone, deleted)

    def last_seen() -> float | None:
        shown = (podeip(kubectl, namespace, "keeper") or {}).get("status", {}).get("podLastSeen")
        return datetime.fromisoformat(shown.replace("Z", "+00:00")).timestamp() if shown else None

    wait_for(lambda: last_seen() == int(gone), what="podLastSeen stamped with the moment")
    # A restart during the wait: the recorded moment is read back, not replaced.
    time.sleep(max(0.0, gone + 5 - time.time()))
    operator.stop()
    operator.start()
    time.sleep(GC_PERIOD)
    assert gone_since() == recorded
    eip = next(e for e in cloud.engine.eips() if e.allocation_id == allocation_id)
    assert eip.status is EipStatus.AVAILABLE and time.time() < gone + ttl

    wait_for(
        lambda: all(e.allocation_id != allocation_id for e in cloud.engine.eips()),
        timeout=ttl + 4 * GC_PERIOD,
        what="the EIP released after the TTL",
    )
    [released] = [
        call
        for call in cloud.engine.call_log(action="ReleaseEipAddress")
        if call.allocation_id == allocation_id
    ]
    assert released.started >= gone + ttl, "released before the TTL ended"
    assert released.started <= gone + ttl + GC_PERIOD + 2.0, "released more than one GC period late"
    wait_for(lambda: podeip(kubectl, namespace, "keeper") is None, what="the PodEIP deleted")
    leak_audit(cloud.engine, kubectl, namespace)


def test_acs_allocated_eip_id_pins_an_existing_eip(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    static = cloud.engine.seed_eip(status=EipStatus.AVAILABLE)
    apply(kubectl, namespace, pod_manifest("pinned", {c.ACS_ALLOCATED_EIP_ID: static.allocation_id}))
    assert wait_for_address(kubectl, namespace, "pinned") == static.ip_address
    spec = podeip(kubectl, namespace, "pinned")["spec"]  # type: ignore[index]
    assert spec["allocationID"] == static.allocation_id and spec["allocationType"]["type"] == "Static"
    [note] = events(kubectl, namespace, reason=c.EV_EXISTING_EIP_REQUESTED)
    assert note["type"] == "Normal" and c.ACS_ALLOCATED_EIP_ID in note["message"]
    annotations = pod(kubectl, namespace, "pinned")["metadata"]["annotations"]  # type: ignore[index]
    assert annotations[c.ACS_ALLOCATED_EIP_ID] == static.allocation_id  # as the user wrote it
    kubectl("-n", namespace, "delete", "pod", "pinned")
    wait_for(lambda: podeip(kubectl, namespace, "pinned") is None, what="the PodEIP forgotten")
    assert any(e.allocation_id == static.allocation_id for e in cloud.engine.eips())
    leak_audit(cloud.engine, kubectl, namespace, static_ids=(static.allocation_id,))


def test_values_that_cannot_be_stored_give_an_event_and_a_false_gate_on_live_pods(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    bad = {
        "surrogate": (NET + "eip-tags", '{"a":"\\ud800"}'),
        "nul": (NET + "eip-name", "web\u00000"),
        "newline": (NET + "pod-eip-release-strategy", "1h\n"),
        "huge": (NET + "eip-description", "d" * 200_000),
        "nested": (NET + "eip-tags", "[" * 10_000 + "]" * 10_000),
    }
    allocations = len(cloud.engine.call_log(action="AllocateEipAddress"))
    for name, (key, value) in bad.items():
        # create, not apply: apply would copy the 200 kB into last-applied-configuration.
        manifest = pod_manifest(name, {NET + "pod-with-eip": "true", key: value})
        kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(manifest))

    def gate(name: str) -> dict | None:  # type: ignore[type-arg]
        conditions = (pod(kubectl, namespace, name) or {}).get("status", {}).get("conditions") or []
        return next((x for x in conditions if x["type"] == c.READINESS_GATE), None)

    for name, (key, _) in bad.items():
        found = wait_for(lambda name=name: gate(name), what=f"the gate of {name}")
        assert found["status"] == "False" and found["reason"] == c.EV_INVALID_ANNOTATION  # type: ignore[index]
        invalid = [
            e
            for e in events(kubectl, namespace, reason=c.EV_INVALID_ANNOTATION)
            if e["involvedObject"]["name"] == name
        ]
        assert invalid and key in invalid[0]["message"] and len(invalid[0]["message"]) < 1024, name
        assert podeip(kubectl, namespace, name) is None
    assert len(cloud.engine.call_log(action="AllocateEipAddress")) == allocations
    kubectl("-n", namespace, "delete", "pod", *bad)
    leak_audit(cloud.engine, kubectl, namespace)
