"""We test these aspects of the Event recorder: the first occurrence creates a complete core/v1
Event; a repeat of the same (object, type, reason, message) within the window patches count and
lastTimestamp instead of creating; a different message, a different object or a repeat after
the window creates a new Event; an Event deleted on the server is re-created; the cache is
bounded; failures are logged and never raised; long messages are cut to the API's limit."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from podeip.k8s.client import KubeClient
from podeip.k8s.events import EventRecorder, ObjectRef
from unit.k8s.fakeapi import FakeApi, Seen, status_body

POD = ObjectRef(api_version="v1", kind="Pod", namespace="ns", name="web-0", uid="uid-1")
OTHER = ObjectRef(
    api_version="alibabacloud.com/v1beta1", kind="PodEIP", namespace="ns", name="web-0", uid="uid-2"
)
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class EventStore:
    """Just enough of the events API: create, merge-patch, 404 for unknown names."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    async def __call__(self, seen: Seen) -> web.Response:
        name = seen.path.rsplit("/", 1)[-1]
        if seen.method == "POST":
            self.events[seen.body["metadata"]["name"]] = seen.body
            return web.json_response(seen.body, status=201)
        if seen.method == "PATCH" and name in self.events:
            self.events[name].update(seen.body)
            return web.json_response(self.events[name])
        return web.json_response(status_body(404, "NotFound"), status=404)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(fake_api: FakeApi) -> EventStore:
    store = EventStore()
    fake_api.handler = store
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder(client: KubeClient, clock: Clock) -> EventRecorder:
    return EventRecorder(client, instance="podeip-operator-abc", clock=clock, window=timedelta(minutes=10))


async def test_the_first_occurrence_creates_a_complete_event(
    store: EventStore, recorder: EventRecorder
) -> None:
    await recorder.warning(POD, reason="QuotaExceeded", message="no EIP quota left")
    (event,) = store.events.values()
    assert event["metadata"]["namespace"] == "ns"
    assert event["metadata"]["name"].startswith("web-0.")
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": "ns",
        "name": "web-0",
        "uid": "uid-1",
    }
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning",
        "QuotaExceeded",
        "no EIP quota left",
    )
    assert event["count"] == 1
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-03-01T12:00:00Z"
    assert event["source"] == {"component": "podeip-operator"}
    assert (event["reportingComponent"], event["reportingInstance"]) == (
        "podeip-operator",
        "podeip-operator-abc",
    )


async def test_repeats_within_the_window_bump_the_count(
    fake_api: FakeApi, store: EventStore, recorder: EventRecorder, clock: Clock
) -> None:
    for minute in range(3):
        clock.now = T0 + timedelta(minutes=minute * 9)
        await recorder.warning(POD, reason="QuotaExceeded", message="no quota")
    (event,) = store.events.values()
    assert event["count"] == 3
    assert event["firstTimestamp"] == "2026-03-01T12:00:00Z"
    assert event["lastTimestamp"] == "2026-03-01T12:18:00Z"
    assert [r.method for r in fake_api.requests] == ["POST", "PATCH", "PATCH"]


async def test_a_different_message_type_or_object_creates_a_new_event(
    store: EventStore, recorder: EventRecorder
) -> None:
    await recorder.normal(POD, reason="EipAllocated", message="eip-1")
    await recorder.normal(POD, reason="EipAllocated", message="eip-2")
    await recorder.warning(POD, reason="EipAllocated", message="eip-2")
    await recorder.normal(OTHER, reason="EipAllocated", message="eip-1")
    assert len(store.events) == 4
    assert all(event["count"] == 1 for event in store.events.values())


async def test_a_repeat_after_the_window_creates_a_new_event(
    store: EventStore, recorder: EventRecorder, clock: Clock
) -> None:
    await recorder.normal(POD, reason="EipAssociated", message="x")
    clock.now = T0 + timedelta(minutes=11)
    await recorder.normal(POD, reason="EipAssociated", message="x")
    assert sorted(event["lastTimestamp"] for event in store.events.values()) == [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:11:00Z",
    ]


async def test_an_event_expired_on_the_server_is_created_again(
    store: EventStore, recorder: EventRecorder
) -> None:
    await recorder.normal(POD, reason="EipAssociated", message="x")
    store.events.clear()
    await recorder.normal(POD, reason="EipAssociated", message="x")
    (event,) = store.events.values()
    assert event["count"] == 1


async def test_the_cache_is_bounded_and_forgets_the_oldest(
    client: KubeClient, store: EventStore, clock: Clock
) -> None:
    recorder = EventRecorder(client, instance="i", clock=clock, cache_size=2)
    for message in ("a", "b", "c", "a"):
        await recorder.normal(POD, reason="EipAssociated", message=message)
    # "a" was evicted by "c", so its repeat created a second Event.
    assert sorted(event["message"] for event in store.events.values()) == ["a", "a", "b", "c"]


async def test_failures_are_logged_and_never_raised(
    fake_api: FakeApi, recorder: EventRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.reply(403, status_body(403, "Forbidden", "events is forbidden"))
    with caplog.at_level(logging.WARNING, logger="podeip.k8s.events"):
        await recorder.warning(POD, reason="QuotaExceeded", message="x")
    assert "could not record Event QuotaExceeded on Pod ns/web-0" in caplog.text


async def test_long_messages_are_cut_to_the_api_limit(store: EventStore, recorder: EventRecorder) -> None:
    await recorder.normal(POD, reason="EipAssociated", message="x" * 5000)
    (event,) = store.events.values()
    assert len(event["message"]) == 1024


def test_object_refs_are_read_from_bodies() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "ns", "name": "web-0", "uid": "uid-1"},
    }
    assert ObjectRef.from_body(body) == POD
