"""We test these aspects: the pod view reads every field the operator needs from a raw body,
picks the controller owner (not just any owner), treats Succeeded/Failed as gone but a
terminating pod as present, recognizes the EIP readiness gate, and tolerates absent fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podeip.api.pods import Owner, PodView

BODY: dict[str, Any] = {
    "metadata": {
        "name": "example-0",
        "namespace": "default",
        "uid": "uid-1",
        "annotations": {"k8s.aliyun.com/pod-with-eip": "true"},
        "labels": {"app": "example"},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n1"},
            {
                "apiVersion": "apps.kruise.io/v1beta1",
                "kind": "StatefulSet",
                "name": "example",
                "controller": True,
            },
        ],
        "deletionTimestamp": "2024-05-01T10:00:00Z",
    },
    "spec": {
        "nodeName": "node-a",
        "hostNetwork": False,
        "readinessGates": [{"conditionType": "k8s.aliyun.com/eip"}, {"conditionType": "other"}],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.5",
        "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        "conditions": [
            {"type": "Ready", "status": "False"},
            {
                "type": "k8s.aliyun.com/eip",
                "status": "True",
                "reason": "Associate eip succeed",
                "lastTransitionTime": "2024-05-01T09:00:00Z",
            },
        ],
    },
}


def test_pod_view_reads_every_field_from_a_raw_body() -> None:
    pod = PodView.from_body(BODY)
    assert (pod.name, pod.namespace, pod.uid) == ("example-0", "default", "uid-1")
    assert pod.annotations == {"k8s.aliyun.com/pod-with-eip": "true"}
    assert pod.labels == {"app": "example"}
    assert pod.owner == Owner(kind="StatefulSet", name="example", api_version="apps.kruise.io/v1beta1")
    assert str(pod.owner) == "StatefulSet/example"
    assert (pod.node_name, pod.phase, pod.pod_ip) == ("node-a", "Running", "10.0.0.5")
    assert pod.pod_ips == ("10.0.0.5", "fd00::5")
    assert pod.host_network is False
    assert pod.readiness_gates == ("k8s.aliyun.com/eip", "other")
    assert pod.declares_eip_gate
    assert pod.deletion_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    gate = pod.condition("k8s.aliyun.com/eip")
    assert gate is not None and gate.reason == "Associate eip succeed"
    assert gate.last_transition_time == datetime(2024, 5, 1, 9, tzinfo=UTC)


def test_terminating_pod_is_not_gone_but_finished_pods_are() -> None:
    assert PodView.from_body(BODY).is_terminating
    assert not PodView.from_body(BODY).is_gone
    for phase in ("Succeeded", "Failed"):
        assert PodView.from_body({**BODY, "status": {"phase": phase}}).is_gone
    assert not PodView.from_body({**BODY, "status": {"phase": "Pending"}}).is_gone


def test_bare_pod_with_only_non_controller_owners_has_no_owner() -> None:
    body = {
        "metadata": {
            "name": "p",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": False}],
        }
    }
    assert PodView.from_body(body).owner is None


def test_empty_body_gives_kubernetes_defaults() -> None:
    pod = PodView.from_body({})
    assert (pod.name, pod.namespace, pod.uid) == ("", "", "")
    assert pod.annotations == {} and pod.owner is None and pod.phase is None and pod.pod_ip is None
    assert pod.readiness_gates == () and pod.conditions == () and not pod.declares_eip_gate
    assert not pod.host_network and pod.deletion_timestamp is None and not pod.is_gone
