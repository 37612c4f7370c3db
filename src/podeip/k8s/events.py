"""Kubernetes Events on pods and PodEIPs, best effort and aggregated.

Events are how users see what the operator did (``kubectl describe pod``), so every transition
records one (docs/style.md rule 9). They are also the easiest way to flood the API server: a pod stuck
on a quota error would emit the same Warning on every retry. Like client-go's recorder, we keep
a small in-memory cache keyed by (object UID, type, reason, message): a repeat within the
window PATCHes the existing Event's ``count`` and ``lastTimestamp`` instead of creating another.

Recording never fails the caller: a reconcile must not stop because an Event could not be
written (RBAC, a terminating namespace, the API server busy). Failures are logged.

Events go through our own client (not kopf's ``kopf.event``), so ``podeip.reconcile`` can emit
them without importing kopf.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from podeip import constants
from podeip.k8s.client import KubeClient
from podeip.k8s.errors import NotFound
from podeip.k8s.pods import format_time

logger = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
#: Kubernetes limits an Event message to 1 KiB.
_MAX_MESSAGE = 1024


@dataclasses.dataclass(frozen=True, kw_only=True)
class ObjectRef:
    """The ``involvedObject`` of an Event."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ObjectRef:
        """From an object as the API server (or kopf) returns it."""
        metadata = body["metadata"]
        return cls(
            api_version=str(body["apiVersion"]),
            kind=str(body["kind"]),
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            uid=str(metadata["uid"]),
        )


@dataclasses.dataclass(frozen=True)
class _Recorded:
    name: str
    count: int
    first: datetime
    last: datetime


_Key = tuple[str, str, str, str]


class EventRecorder:
    """Creates ``core/v1`` Events; repeats within ``window`` bump the count of the first one."""

    def __init__(
        self,
        client: KubeClient,
        *,
        instance: str,
        window: timedelta = timedelta(minutes=10),
        cache_size: int = 4096,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._instance = instance
        self._window = window
        self._cache_size = cache_size
        self._clock = clock
        self._recent: OrderedDict[_Key, _Recorded] = OrderedDict()

    async def normal(self, obj: ObjectRef, *, reason: str, message: str) -> None:
        await self.record(obj, type="Normal", reason=reason, message=message)

    async def warning(self, obj: ObjectRef, *, reason: str, message: str) -> None:
        await self.record(obj, type="Warning", reason=reason, message=message)

    async def record(self, obj: ObjectRef, *, type: EventType, reason: str, message: str) -> None:
        """Record one occurrence; never raises (Events are best effort)."""
        message = message[:_MAX_MESSAGE]
        key: _Key = (obj.uid, type, reason, message)
        now = self._clock()
        try:
            previous = self._recent.get(key)
            repeat = previous is not None and now - previous.last <= self._window
            if previous is not None and repeat and await self._bump(obj, previous, key=key, now=now):
                return
            await self._create(obj, key=key, now=now)
        except Exception:
            logger.warning(
                "could not record Event %s on %s %s/%s",
                reason,
                obj.kind,
                obj.namespace,
                obj.name,
                exc_info=True,
            )

    async def _create(self, obj: ObjectRef, *, key: _Key, now: datetime) -> None:
        _, type_, reason, message = key
        stamp = format_time(now)
        # Name as client-go does: the object's name and a unique suffix.
        name = f"{obj.name}.{secrets.token_hex(8)}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": obj.namespace},
            "involvedObject": {
                "apiVersion": obj.api_version,
                "kind": obj.kind,
                "namespace": obj.namespace,
                "name": obj.name,
                "uid": obj.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": constants.EVENT_COMPONENT},
            "reportingComponent": constants.EVENT_COMPONENT,
            "reportingInstance": self._instance,
        }
        await self._client.create(f"/api/v1/namespaces/{obj.namespace}/events", body)
        self._remember(key, _Recorded(name=name, count=1, first=now, last=now))

    async def _bump(self, obj: ObjectRef, previous: _Recorded, *, key: _Key, now: datetime) -> bool:
        """Patch the cached Event's count; ``False`` if it has expired on the server."""
        count = previous.count + 1
        patch = {"count": count, "lastTimestamp": format_time(now)}
        path = f"/api/v1/namespaces/{obj.namespace}/events/{previous.name}"
        try:
            await self._client.patch(path, patch, patch_type="merge")
        except NotFound:
            self._recent.pop(key, None)
            return False
        self._remember(key, dataclasses.replace(previous, count=count, last=now))
        return True

    def _remember(self, key: _Key, recorded: _Recorded) -> None:
        self._recent[key] = recorded
        self._recent.move_to_end(key)
        while len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)
