"""Fixtures for the operator on the local control plane, through the official SDK.

The simulated Alibaba cloud runs in this process behind its HTTP front on 127.0.0.1, so tests
read its engine (EIP table, call log) directly; the operator runs as ``podeip run`` in a
subprocess with the Alibaba provider pointed at it, exactly as a user would run it, and can be
killed and restarted. Every test ends with a leak audit of the engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from podeip import constants as c
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.server import RunningSimulator, start_in_thread
from testbed.cluster import ControlPlane, free_port
from testbed.fixtures import Kubectl, get_json, wait_for
from testbed.process import OperatorProcess, operator_env

ACCESS_KEY_ID = "LTAItestbed0000000000001"
ACCESS_KEY_SECRET = "testbed-secret-never-real-0001"
CLUSTER_ID = "c-testbed"
GC_PERIOD_MINUTES = 0.05  # 3 s: TTL expiry and resync within a few seconds


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningSimulator]:
    engine = Engine(EngineConfig(transition_delay=0.3, quota=20))
    simulator = start_in_thread(engine, credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
    yield simulator
    simulator.stop()


def operator_environment(kubeconfig: Path, cloud: RunningSimulator, metrics_port: int) -> dict[str, str]:
    """``podeip run``'s environment for these tests: this kubeconfig, the simulated cloud."""
    env = operator_env()
    env.update(
        PODEIP_KUBECONFIG=str(kubeconfig),
        PODEIP_STANDALONE="true",
        PODEIP_CLUSTER_ID=CLUSTER_ID,
        PODEIP_NAMESPACE="kube-system",
        PODEIP_METRICS_HOST="127.0.0.1",
        PODEIP_METRICS_PORT=str(metrics_port),
        PODEIP_LOG_FORMAT="text",
        PODEIP_MAX_CONCURRENT_RECONCILES="4",
        PODEIP_GC__PERIOD_MINUTES=str(GC_PERIOD_MINUTES),
        PODEIP_GC__ORPHAN_GRACE_MINUTES="0",
        PODEIP_CLOUD__PROVIDER="alibaba",
        PODEIP_CLOUD__REGION_ID=cloud.engine.config.region_id,
        PODEIP_CLOUD__VPC_ID=cloud.engine.config.vpc_id,
        PODEIP_CLOUD__VPC_ENDPOINT=cloud.url,
        PODEIP_CLOUD__ECS_ENDPOINT=cloud.url,
        PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID=ACCESS_KEY_ID,
        PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
    )
    return env


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane,
    podeip_crd: str,
    cloud: RunningSimulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    port = free_port()
    handle = OperatorProcess(
        env=operator_environment(control_plane.kubeconfig, cloud, port),
        log_path=tmp_path_factory.mktemp("operator") / "operator.log",
        metrics_port=port,
    )
    handle.start()
    yield handle
    handle.stop()


# ---- helpers for tests ---------------------------------------------------------------------


def apply(kubectl: Kubectl, namespace: str, *objects: dict) -> None:  # type: ignore[type-arg]
    kubectl(
        "-n",
        namespace,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def pod_manifest(name: str, annotations: dict[str, str], *, gate: bool = True) -> dict:  # type: ignore[type-arg]
    spec: dict = {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]}  # type: ignore[type-arg]
    if gate:
        spec["readinessGates"] = [{"conditionType": c.READINESS_GATE}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }


def workload(kind: str, name: str, replicas: int, annotations: dict[str, str], *, gate: bool = True) -> dict:  # type: ignore[type-arg]
    template = pod_manifest(name, annotations, gate=gate)
    template = {"metadata": {"labels": {"app": name}, "annotations": annotations}, "spec": template["spec"]}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod(kubectl: Kubectl, namespace: str, name: str) -> dict | None:  # type: ignore[type-arg]
    text = kubectl("-n", namespace, "get", "pod", name, "-o", "json", "--ignore-not-found")
    return json.loads(text) if text.strip() else None


def podeip(kubectl: Kubectl, namespace: str, name: str) -> dict | None:  # type: ignore[type-arg]
    text = kubectl("-n", namespace, "get", "podeip", name, "-o", "json", "--ignore-not-found")
    return json.loads(text) if text.strip() else None


def eip_address_of(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    """The pod's allocated address once the gate (if declared) is True."""
    body = pod(kubectl, namespace, name)
    if body is None:
        return None
    annotations = body["metadata"].get("annotations") or {}
    address = annotations.get(c.ALLOCATED_EIP_ADDRESS_KEYS[0])
    if not address or annotations.get(c.ALLOCATED_EIP_ADDRESS_KEYS[1]) != address:
        return None
    gates = [g["conditionType"] for g in body["spec"].get("readinessGates") or []]
    if c.READINESS_GATE in gates:
        conditions = {x["type"]: x for x in body["status"].get("conditions") or []}
        gate = conditions.get(c.READINESS_GATE)
        if not gate or gate["status"] != "True" or gate.get("reason") != c.READINESS_REASON_OK:
            return None
    return str(address)


def wait_for_address(kubectl: Kubectl, namespace: str, name: str, timeout: float = 90) -> str:
    return str(
        wait_for(
            lambda: eip_address_of(kubectl, namespace, name),
            timeout=timeout,
            what=f"EIP on {namespace}/{name}",
        )
    )


def events(kubectl: Kubectl, namespace: str, *, reason: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    items = get_json(kubectl, "-n", namespace, "events")["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


def ours(engine: Engine) -> list:  # type: ignore[type-arg]
    return [e for e in engine.eips() if e.tags.get(c.TAG_CLUSTER_ID) == CLUSTER_ID]


def leak_audit(engine: Engine, kubectl: Kubectl, namespace: str, *, static_ids: tuple[str, ...] = ()) -> None:
    """After the test's workloads are deleted: nothing of ours is left, and nothing foreign was changed.

    - every PodEIP of the namespace is gone (deleted with its pods, or by the test);
    - no EIP tagged with our cluster remains for this namespace;
    - no EIP without our tags (Static, foreign) was released or tagged, and Static EIPs saw
      only Associate and Unassociate calls.
    """
    for item in get_json(kubectl, "-n", namespace, "podeips")["items"]:
        kubectl(
            "-n",
            namespace,
            "delete",
            "podeip",
            item["metadata"]["name"],
            "--wait=false",
            "--ignore-not-found",
        )
    wait_for(
        lambda: not get_json(kubectl, "-n", namespace, "podeips")["items"], timeout=90, what="PodEIPs gone"
    )

    def left() -> list[str]:
        # A release is accepted at once; the EIP shows "Releasing" for a moment before it vanishes.
        return [e.allocation_id for e in ours(engine) if e.tags.get(c.TAG_NAMESPACE) == namespace]

    try:
        wait_for(lambda: not left(), timeout=30, what="our EIPs gone")
    except AssertionError:
        raise AssertionError(f"EIPs leaked by namespace {namespace}: {left()}") from None
    for allocation_id in static_ids:
        actions = {call.action for call in engine.mutations(allocation_id=allocation_id)}
        assert actions <= {"AssociateEipAddress", "UnassociateEipAddress"}, (allocation_id, actions)
        assert any(e.allocation_id == allocation_id for e in engine.eips()), (
            f"static EIP {allocation_id} was released"
        )
