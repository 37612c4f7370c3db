"""We test these aspects of the local control plane that every other integration test relies on:

- a CRD with a status subresource and printer columns is served, and kubectl shows the columns;
- kube-controller-manager, kube-scheduler and kwok together run a StatefulSet: pods are
  scheduled onto fake nodes, become Running and get pod IPs from the fake pod network;
- a deleted StatefulSet pod comes back with the same name and a new UID;
- a pod's readiness gate holds Ready back until its condition is True (our kwok stages);
- ServiceAccount tokens authenticate, and RBAC denies what was not granted;
- every process listens on loopback only.
"""

from __future__ import annotations

import ipaddress
import json
import os
import textwrap
from pathlib import Path

from testbed.cluster import LOOPBACK, POD_NETWORK, ControlPlane
from testbed.fixtures import Kubectl, get_json, wait_for

WIDGET_CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.testbed.podeip.dev}
    spec:
      group: testbed.podeip.dev
      scope: Namespaced
      names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wdg]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        additionalPrinterColumns:
        - {name: Colour, type: string, jsonPath: .spec.colour}
        - {name: Phase, type: string, jsonPath: .status.phase}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec: {type: object, properties: {colour: {type: string}}}
              status: {type: object, properties: {phase: {type: string}}}
    """
)


def statefulset(name: str, replicas: int) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "registry.invalid/nothing:1"}]},
                },
            },
        }
    )


def test_crd_with_status_subresource_and_printer_columns_is_served(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-f", "-", input=WIDGET_CRD)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/widgets.testbed.podeip.dev")
    widget = {
        "apiVersion": "testbed.podeip.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"colour": "teal"},
    }
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(widget))
    status = json.dumps({"status": {"phase": "Polished"}})
    kubectl("-n", namespace, "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", status)
    read = get_json(kubectl, "-n", namespace, "widget", "w1")
    assert read["spec"] == {"colour": "teal"}
    assert read["status"] == {"phase": "Polished"}
    table = kubectl("-n", namespace, "get", "wdg")
    header, row = table.strip().splitlines()
    assert header.split() == ["NAME", "COLOUR", "PHASE"]
    assert row.split()[:3] == ["w1", "teal", "Polished"]


def test_statefulset_pods_run_on_fake_nodes_with_pod_ips(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=statefulset("web", 2))

    def running_pods() -> list[dict] | None:  # type: ignore[type-arg]
        pods = get_json(kubectl, "-n", namespace, "pods", "-l", "app=web")["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running" and p["status"].get("podIP")]
        return running if len(running) == 2 else None

    pods = wait_for(running_pods, timeout=90, what="2 Running pods with IPs")
    assert sorted(p["metadata"]["name"] for p in pods) == ["web-0", "web-1"]  # type: ignore[union-attr]
    for pod in pods:  # type: ignore[union-attr]
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_NETWORK)
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["hostIP"] == LOOPBACK


def test_deleted_statefulset_pod_returns_with_same_name_and_new_uid(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=statefulset("db", 1))

    def pod_running() -> dict | None:  # type: ignore[type-arg]
        pod = json.loads(
            kubectl("-n", namespace, "get", "pod", "db-0", "-o", "json", "--ignore-not-found") or "null"
        )
        return pod if pod and pod["status"].get("phase") == "Running" else None

    first = wait_for(pod_running, timeout=90, what="db-0 Running")
    kubectl("-n", namespace, "delete", "pod", "db-0", "--wait=false")

    def reborn() -> dict | None:  # type: ignore[type-arg]
        pod = pod_running()
        return pod if pod and pod["metadata"]["uid"] != first["metadata"]["uid"] else None  # type: ignore[index]

    second = wait_for(reborn, timeout=90, what="db-0 recreated")
    assert second["metadata"]["name"] == "db-0"  # type: ignore[index]
    assert second["status"]["podIP"]  # type: ignore[index]


def test_readiness_gate_holds_ready_until_its_condition_is_true(kubectl: Kubectl, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gated"},
        "spec": {
            "readinessGates": [{"conditionType": "example.com/gate"}],
            "containers": [{"name": "main", "image": "registry.invalid/nothing:1"}],
        },
    }
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(pod))

    def conditions() -> dict[str, str]:
        status = get_json(kubectl, "-n", namespace, "pod", "gated")["status"]
        return {c["type"]: c["status"] for c in status.get("conditions", [])} if status.get("podIP") else {}

    wait_for(lambda: conditions().get("ContainersReady") == "True", timeout=60, what="gated pod running")
    assert conditions()["Ready"] == "False"
    patch = {"status": {"conditions": [{"type": "example.com/gate", "status": "True"}]}}
    kubectl(
        "-n",
        namespace,
        "patch",
        "pod",
        "gated",
        "--subresource=status",
        "--type=strategic",
        "-p",
        json.dumps(patch),
    )
    wait_for(lambda: conditions().get("Ready") == "True", timeout=60, what="Ready after the gate")
    assert conditions()["ContainersReady"] == "True"


def test_serviceaccount_token_authenticates_and_rbac_denies_the_rest(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    kubectl("-n", namespace, "create", "serviceaccount", "reader")
    kubectl("-n", namespace, "create", "role", "read-pods", "--verb=get,list", "--resource=pods")
    kubectl(
        "-n",
        namespace,
        "create",
        "rolebinding",
        "read-pods",
        "--role=read-pods",
        f"--serviceaccount={namespace}:reader",
    )
    token = kubectl("-n", namespace, "create", "token", "reader").strip()
    who = json.loads(kubectl("auth", "whoami", "-o", "json", "--token", token))
    assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:reader"
    assert kubectl("-n", namespace, "auth", "can-i", "list", "pods", "--token", token).strip() == "yes"
    denied = kubectl("-n", namespace, "auth", "can-i", "create", "pods", "--token", token, check=False)
    assert denied.strip().startswith("no")
    listing = kubectl("-n", namespace, "get", "secrets", "--token", token, check=False)
    assert "Forbidden" in listing or "forbidden" in listing


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(hex address, port) of every TCP socket in LISTEN state owned by the process."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                host_hex, port_hex = fields[1].split(":")
                found.append((host_hex, int(port_hex, 16)))
    return found


def test_every_process_listens_on_loopback_only(control_plane: ControlPlane) -> None:
    address_flags = ("--bind-address", "--advertise-address", "--node-ip", "--server-address")
    for name, command in control_plane.commands().items():
        for index, arg in enumerate(command):
            if arg in address_flags:
                assert command[index + 1].split(":")[0] == LOOPBACK, (name, arg)
            if arg.startswith(("--listen-", "--advertise-client", "--initial-advertise", "--etcd-servers")):
                assert f"//{LOOPBACK}:" in command[index + 1], (name, arg)
    loopback = {"0100007F", "00000000000000000000000001000000"}
    total = 0
    for name, pid in control_plane.pids.items():
        for host_hex, port in listening_sockets(pid):
            total += 1
            assert host_hex in loopback, f"{name} listens on {host_hex}:{port}"
    assert total >= 5
