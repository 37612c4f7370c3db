"""We test these aspects of the readiness-condition helper: nothing is sent when status, reason
and message are unchanged; a new condition and a status flip stamp lastTransitionTime with now;
a changed reason or message keeps the old lastTransitionTime; other conditions are ignored;
timestamps are UTC with second precision. And of the pod writes: the annotation patch names
only the given keys (None deletes) and the condition patch carries one condition and the UID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from podeip.k8s.client import KubeClient
from podeip.k8s.pods import Pods, condition_patch, format_time
from unit.k8s.fakeapi import FakeApi

NOW = datetime(2026, 3, 1, 12, 0, 0, 900_000, tzinfo=UTC)
EARLIER = "2026-03-01T11:00:00Z"
GATE = "k8s.aliyun.com/eip"
READY = {"type": GATE, "status": "True", "reason": "Associate eip succeed", "message": ""}


def existing(**changes: str) -> list[dict[str, Any]]:
    condition = {**READY, "lastTransitionTime": EARLIER, "lastProbeTime": EARLIER, **changes}
    return [{"type": "Ready", "status": "False", "lastTransitionTime": EARLIER}, condition]


def test_an_unchanged_condition_needs_no_patch() -> None:
    assert condition_patch(existing(), desired=READY, now=NOW) is None


def test_missing_reason_and_message_compare_as_empty() -> None:
    current = [{"type": GATE, "status": "True", "lastTransitionTime": EARLIER}]
    assert condition_patch(current, desired={"type": GATE, "status": "True"}, now=NOW) is None


def test_a_new_condition_is_stamped_with_now() -> None:
    patch = condition_patch([{"type": "Ready", "status": "False"}], desired=READY, now=NOW)
    assert patch == {
        **READY,
        "lastProbeTime": "2026-03-01T12:00:00Z",
        "lastTransitionTime": "2026-03-01T12:00:00Z",
    }


def test_no_conditions_at_all_is_like_a_new_condition() -> None:
    patch = condition_patch(None, desired=READY, now=NOW)
    assert patch is not None
    assert patch["lastTransitionTime"] == "2026-03-01T12:00:00Z"


def test_a_status_flip_moves_last_transition_time() -> None:
    desired = {"type": GATE, "status": "False", "reason": "EipLost", "message": "the EIP was unbound"}
    patch = condition_patch(existing(), desired=desired, now=NOW)
    assert patch is not None
    assert patch["status"] == "False"
    assert patch["lastTransitionTime"] == "2026-03-01T12:00:00Z"


def test_a_new_reason_without_a_flip_keeps_last_transition_time() -> None:
    current = existing(status="False", reason="Allocating")
    desired = {"type": GATE, "status": "False", "reason": "Associating", "message": "eip-1"}
    patch = condition_patch(current, desired=desired, now=NOW)
    assert patch is not None
    assert (patch["reason"], patch["message"]) == ("Associating", "eip-1")
    assert patch["lastTransitionTime"] == EARLIER
    assert patch["lastProbeTime"] == "2026-03-01T12:00:00Z"


def test_times_are_written_in_utc() -> None:
    assert (
        format_time(datetime(2026, 3, 1, 20, 0, 5, tzinfo=timezone(timedelta(hours=8))))
        == "2026-03-01T12:00:05Z"
    )


async def test_annotation_patch_names_only_the_given_keys(fake_api: FakeApi, client: KubeClient) -> None:
    await Pods(client).patch_pod_annotations("ns", "p", {"a/b": "1.2.3.4", "c/d": None})
    (seen,) = fake_api.requests
    assert (seen.method, seen.path) == ("PATCH", "/api/v1/namespaces/ns/pods/p")
    assert seen.headers["Content-Type"] == "application/merge-patch+json"
    assert seen.body == {"metadata": {"annotations": {"a/b": "1.2.3.4", "c/d": None}}}


async def test_condition_patch_carries_one_condition_and_the_uid(
    fake_api: FakeApi, client: KubeClient
) -> None:
    await Pods(client).set_pod_condition("ns", "p", uid="u-1", condition=READY)
    (seen,) = fake_api.requests
    assert (seen.method, seen.path) == ("PATCH", "/api/v1/namespaces/ns/pods/p/status")
    assert seen.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert seen.body == {"metadata": {"uid": "u-1"}, "status": {"conditions": [READY]}}


async def test_the_address_and_the_gate_are_one_request_of_pods_status(
    fake_api: FakeApi, client: KubeClient
) -> None:
    await Pods(client).show("ns", "p", uid="u-1", annotations={"a/b": "1.2.3.4"}, condition=READY)
    (seen,) = fake_api.requests
    assert (seen.method, seen.path) == ("PATCH", "/api/v1/namespaces/ns/pods/p/status")
    assert seen.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert seen.body == {
        "metadata": {"uid": "u-1", "annotations": {"a/b": "1.2.3.4"}},
        "status": {"conditions": [READY]},
    }


async def test_without_a_gate_the_address_is_the_merge_patch_with_the_uid(
    fake_api: FakeApi, client: KubeClient
) -> None:
    await Pods(client).show("ns", "p", uid="u-1", annotations={"a/b": None}, condition=None)
    (seen,) = fake_api.requests
    assert (seen.method, seen.path) == ("PATCH", "/api/v1/namespaces/ns/pods/p")
    assert seen.body == {"metadata": {"annotations": {"a/b": None}, "uid": "u-1"}}
