"""We test these aspects of the pod writes on a real API server: the annotation merge patch
changes and removes only our keys and leaves the others; the readiness condition goes through
pods/status and merges by type, so conditions written by others survive and the gate appears
once; both go in one request of pods/status when the gate is declared; a UID that does not match
is a Conflict and changes nothing; the pure helper agrees with
what the server stores (no patch needed right after a write); a missing pod is NotFound; lists
page through continue tokens; the client's requests are counted by verb and resource."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from podeip import constants
from podeip.k8s.client import KubeClient
from podeip.k8s.errors import Conflict, NotFound
from podeip.k8s.pods import Pods, condition_patch, pod_path
from podeip.observability.metrics import Metrics

K8S_KEY, NETWORK_KEY = constants.ALLOCATED_EIP_ADDRESS_KEYS
GATE = constants.READINESS_GATE


def pod_body(name: str, **annotations: str) -> dict[str, Any]:
    """A pod nothing will run: its node selector matches no node."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations, "labels": {"app": "podeip-test"}},
        "spec": {
            "nodeSelector": {"podeip.test/nowhere": "true"},
            "readinessGates": [{"conditionType": GATE}],
            "containers": [{"name": "app", "image": "registry.invalid/app:1"}],
        },
    }


async def create_pod(kube: KubeClient, namespace: str, name: str, **annotations: str) -> dict[str, Any]:
    return await kube.create(pod_path(namespace), pod_body(name, **annotations))


def conditions_by_type(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    conditions = pod.get("status", {}).get("conditions") or []
    assert len({c["type"] for c in conditions}) == len(conditions), conditions
    return {c["type"]: c for c in conditions}


async def test_annotation_patch_touches_only_our_keys(kube: KubeClient, namespace: str) -> None:
    await create_pod(kube, namespace, "web-0", **{"user/key": "keep", NETWORK_KEY: "198.51.100.9"})
    pods = Pods(kube)
    await pods.patch_pod_annotations(namespace, "web-0", {K8S_KEY: "203.0.113.5", NETWORK_KEY: "203.0.113.5"})
    pod = await pods.get_pod(namespace, "web-0")
    assert pod["metadata"]["annotations"] == {
        "user/key": "keep",
        K8S_KEY: "203.0.113.5",
        NETWORK_KEY: "203.0.113.5",
    }

    await pods.patch_pod_annotations(namespace, "web-0", {K8S_KEY: None, NETWORK_KEY: None})
    pod = await pods.get_pod(namespace, "web-0")
    assert pod["metadata"]["annotations"] == {"user/key": "keep"}


async def test_the_gate_condition_merges_with_conditions_written_by_others(
    kube: KubeClient, namespace: str
) -> None:
    pod = await create_pod(kube, namespace, "web-0")
    uid = pod["metadata"]["uid"]
    foreign = {
        "type": "example.com/warmed-up",
        "status": "True",
        "reason": "Warm",
        "message": "by someone else",
    }
    await kube.patch(
        f"{pod_path(namespace, 'web-0')}/status",
        {"status": {"conditions": [foreign]}},
        patch_type="strategic",
    )

    pods = Pods(kube)
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    pending = condition_patch(
        None, desired={"type": GATE, "status": "False", "reason": "Allocating"}, now=now
    )
    assert pending is not None
    await pods.set_pod_condition(namespace, "web-0", uid=uid, condition=pending)
    ready = {"type": GATE, "status": "True", "reason": constants.READINESS_REASON_OK, "message": ""}
    current = conditions_by_type(await pods.get_pod(namespace, "web-0"))
    flip = condition_patch(list(current.values()), desired=ready, now=datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
    assert flip is not None
    stored = await pods.set_pod_condition(namespace, "web-0", uid=uid, condition=flip)

    conditions = conditions_by_type(stored)
    assert conditions["example.com/warmed-up"]["message"] == "by someone else"
    assert conditions[GATE]["status"] == "True"
    assert conditions[GATE]["reason"] == constants.READINESS_REASON_OK
    assert conditions[GATE]["lastTransitionTime"] == "2026-03-01T12:05:00Z"
    # What the server stored is what the helper compares against: nothing more to write.
    assert condition_patch(stored["status"]["conditions"], desired=ready, now=datetime.now(UTC)) is None


async def test_a_stale_uid_is_a_conflict_and_changes_nothing(kube: KubeClient, namespace: str) -> None:
    await create_pod(kube, namespace, "web-0")
    pods = Pods(kube)
    condition = {"type": GATE, "status": "True", "reason": constants.READINESS_REASON_OK, "message": ""}
    with pytest.raises(Conflict):
        await pods.set_pod_condition(
            namespace, "web-0", uid="00000000-0000-0000-0000-000000000000", condition=condition
        )
    assert GATE not in conditions_by_type(await pods.get_pod(namespace, "web-0"))


async def test_a_missing_pod_is_not_found(kube: KubeClient, namespace: str) -> None:
    pods = Pods(kube)
    with pytest.raises(NotFound):
        await pods.get_pod(namespace, "absent")
    with pytest.raises(NotFound):
        await pods.patch_pod_annotations(namespace, "absent", {K8S_KEY: "203.0.113.5"})
    with pytest.raises(NotFound):
        await pods.set_pod_condition(namespace, "absent", uid="u", condition={"type": GATE, "status": "True"})


async def test_lists_page_through_continue_tokens(kube: KubeClient, namespace: str, metrics: Metrics) -> None:
    for index in range(3):
        await create_pod(kube, namespace, f"web-{index}")
    items = await kube.list(pod_path(namespace), label_selector="app=podeip-test", page_size=1)
    assert sorted(item["metadata"]["name"] for item in items) == ["web-0", "web-1", "web-2"]
    assert {item["kind"] for item in items} == {"Pod"}
    assert (
        metrics.registry.get_sample_value(
            "podeip_kube_api_requests_total", {"verb": "list", "resource": "pods", "code": "200"}
        )
        == 3
    )
    assert (
        metrics.registry.get_sample_value(
            "podeip_kube_api_requests_total", {"verb": "create", "resource": "pods", "code": "201"}
        )
        == 3
    )
    assert [
        p["metadata"]["name"]
        for p in await Pods(kube).list_pods(namespace, field_selector="metadata.name=web-1")
    ] == ["web-1"]


async def test_the_address_and_the_gate_go_in_one_request(
    kube: KubeClient, namespace: str, metrics: Metrics
) -> None:
    """``Pods.show``: one patch of pods/status carries our annotations and the condition; the
    server keeps both (the pod status strategy keeps metadata changes), the other annotations
    survive, and removing the address (``None``) with the condition False is one request too."""
    pod = await create_pod(kube, namespace, "web-0", **{"user/key": "keep"})
    uid, pods = pod["metadata"]["uid"], Pods(kube)

    def status_patches() -> float:
        labels = {"verb": "patch", "resource": "pods/status", "code": "200"}
        return metrics.registry.get_sample_value("podeip_kube_api_requests_total", labels) or 0.0

    ready = {"type": GATE, "status": "True", "reason": constants.READINESS_REASON_OK, "message": ""}
    condition = condition_patch(None, desired=ready, now=datetime.now(UTC))
    stored = await pods.show(
        namespace,
        "web-0",
        uid=uid,
        annotations={K8S_KEY: "203.0.113.5", NETWORK_KEY: "203.0.113.5"},
        condition=condition,
    )
    assert status_patches() == 1
    for body in (stored, await pods.get_pod(namespace, "web-0")):
        assert body["metadata"]["annotations"] == {
            "user/key": "keep",
            K8S_KEY: "203.0.113.5",
            NETWORK_KEY: "203.0.113.5",
        }
        assert conditions_by_type(body)[GATE]["status"] == "True"
    gone = condition_patch(
        stored["status"]["conditions"],
        desired={"type": GATE, "status": "False", "reason": "Released"},
        now=datetime.now(UTC),
    )
    stored = await pods.show(
        namespace, "web-0", uid=uid, annotations={K8S_KEY: None, NETWORK_KEY: None}, condition=gone
    )
    assert status_patches() == 2
    assert stored["metadata"]["annotations"] == {"user/key": "keep"}
    assert conditions_by_type(stored)[GATE]["status"] == "False"
    with pytest.raises(Conflict):
        await pods.show(
            namespace,
            "web-0",
            uid="00000000-0000-0000-0000-000000000000",
            annotations={K8S_KEY: "x"},
            condition=gone,
        )
    assert K8S_KEY not in (await pods.get_pod(namespace, "web-0"))["metadata"]["annotations"]
