"""One active operator: a renewed Lease alone decides which instance may act (docs/reliability.md R9).

So that a second instance (a rolling update gone wrong, a developer's laptop) never acts at
the same time, the instance that holds the Lease ``podeip-operator-leader`` in the operator
namespace works, and every other one only watches and waits. kopf's own peering is not used:
it pauses *every* instance, the leader included, as soon as a second one appears, and after a
crash it keeps the survivors paused until the dead one's record expires.

The protocol is client-go's: take the Lease when it is free or its holder has not renewed it
for ``leaseDurationSeconds``; the holder renews it every ``renew_every`` seconds; a standby
looks every ``retry_every`` seconds; every write carries the Lease's resourceVersion, so two
contenders never both win. A holder that has not renewed for ``renew_deadline`` (shorter than
the duration) stops taking work, so that it has stopped before anybody else may take over.
A process that finds the Lease held under its own identity (the restarted container of the
same pod: the identity is the pod's name and UID) takes it back at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from podeip.k8s.client import KubeClient
from podeip.k8s.errors import AlreadyExists, ApiError, Conflict, NotFound

logger = logging.getLogger(__name__)

LEASE_NAME = "podeip-operator-leader"


@dataclass(frozen=True)
class LeaseTimings:
    """Seconds. client-go's defaults for the duration and the deadline; a standby looks every
    2 s, so that after a crash it takes over at most ``duration + retry_every`` after the last
    renewal (a GET every 2 s is nothing to the API server)."""

    duration: float = 15.0
    renew_every: float = 5.0
    renew_deadline: float = 10.0
    retry_every: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.renew_deadline < self.duration:
            raise ValueError("leader Lease timings need 0 < renew_every < renew_deadline < duration")
        if self.retry_every <= 0:
            raise ValueError("leader Lease retry_every must be positive")


def micro_time(moment: datetime) -> str:
    """``metav1.MicroTime`` as the API server prints it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Leadership:
    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        identity: str,
        timings: LeaseTimings = LeaseTimings(),
        name: str = LEASE_NAME,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.client = client
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._name = name
        self._namespace = namespace
        self.identity = identity
        self.timings = timings
        self.duration = timings.duration
        self._clock = clock
        self._renewed: datetime | None = None
        self.held = asyncio.Event()
        self._on_change = on_change
        self._holder_seen: str | None = None

    @property
    def leading(self) -> bool:
        """Held, and renewed within the renew deadline (a stalled renewal stops us acting
        before the Lease expires for the others)."""
        renewed = self._renewed
        deadline = timedelta(seconds=self.timings.renew_deadline)
        return renewed is not None and self._clock() - renewed < deadline

    async def try_once(self) -> bool:
        """Take or renew the Lease once; whether we hold it now."""
        now = self._clock()
        try:
            lease: dict[str, Any] = await self.client.get(self._path)
        except NotFound:
            try:
                await self.client.create(self._collection, self._body(now, acquired=now))
            except (AlreadyExists, Conflict):
                return self._set(False)
            return self._set(True, now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = parse_micro_time(spec.get("renewTime"))
        lease_seconds = float(spec.get("leaseDurationSeconds") or self.duration)
        expired = renewed is None or now - renewed >= timedelta(seconds=lease_seconds)
        if holder != self.identity and holder and not expired:
            if holder != self._holder_seen:
                logger.info("standby: the leader Lease is held by %s", holder)
                self._holder_seen = holder
            return self._set(False)
        acquired = parse_micro_time(spec.get("acquireTime")) if holder == self.identity else now
        body = self._body(now, acquired=acquired or now)
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            await self.client.put(self._path, body)
        except (Conflict, NotFound):
            return self._set(False)
        if holder != self.identity:
            logger.info("took the leader Lease %s/%s (was %r)", self._namespace, self._name, holder or None)
        return self._set(True, now)

    async def run(self) -> None:
        """Keep trying and renewing until cancelled. One attempt may take no longer than the
        margin between the renew period and the deadline, so a hung request cannot keep us
        acting past the deadline."""
        timings = self.timings
        attempt_timeout = max(timings.renew_deadline - timings.renew_every, 0.5)
        while True:
            try:
                await asyncio.wait_for(self.try_once(), timeout=attempt_timeout)
            except (ApiError, TimeoutError) as error:
                logger.warning("leader Lease not renewed: %s", error or "timed out")
            if self.held.is_set() and not self.leading:
                self._set(False)
            await asyncio.sleep(timings.renew_every if self.held.is_set() else timings.retry_every)

    async def release(self) -> None:
        """Give the Lease up on a clean stop, so that a successor need not wait."""
        if not self.held.is_set():
            return
        try:
            lease: dict[str, Any] = await self.client.get(self._path)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                await self.client.put(self._path, lease)
        except ApiError as error:
            logger.info("leader Lease not released: %s", error)
        self._set(False)

    def _set(self, held: bool, renewed: datetime | None = None) -> bool:
        was = self.held.is_set()
        if held:
            self._renewed = renewed
            self.held.set()
        else:
            self._renewed = None
            self.held.clear()
        if was != held:
            logger.warning("this instance %s the leader", "is now" if held else "is no longer")
            if self._on_change is not None:
                self._on_change(held)
        return held

    def _body(self, now: datetime, *, acquired: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration)),
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(now),
            },
        }
