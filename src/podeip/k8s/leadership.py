"""One active operator: a renewed Lease decides which instance may act (docs/reliability.md R9).

kopf's peering pauses the *watching* of a lower-priority instance, but the operator's work
queue and garbage collector run apart from kopf. So that a second instance (a rolling update
gone wrong, a developer's laptop) never acts at the same time, the instance that holds the
Lease ``podeip-operator-leader`` in the operator namespace works, and every other one waits.

The protocol is the usual one: take the Lease when it is free or its holder has not renewed it
for ``leaseDurationSeconds``; renew it every third of that; every write carries the Lease's
resourceVersion, so two contenders never both win. A holder that fails to renew for a whole
duration stops acting before anybody else may take over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from podeip.k8s.client import KubeClient
from podeip.k8s.errors import AlreadyExists, ApiError, Conflict, NotFound

logger = logging.getLogger(__name__)

LEASE_NAME = "podeip-operator-leader"


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
        duration: float = 15.0,
        name: str = LEASE_NAME,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._name = name
        self._namespace = namespace
        self.identity = identity
        self.duration = duration
        self._clock = clock
        self._renewed: datetime | None = None
        self.held = asyncio.Event()

    @property
    def leading(self) -> bool:
        """Held, and renewed within the duration (a stalled renewal stops us acting first)."""
        renewed = self._renewed
        return renewed is not None and self._clock() - renewed < timedelta(seconds=self.duration)

    async def try_once(self) -> bool:
        """Take or renew the Lease once; whether we hold it now."""
        now = self._clock()
        try:
            lease: dict[str, Any] = await self._client.get(self._path)
        except NotFound:
            try:
                await self._client.create(self._collection, self._body(now, acquired=now))
            except (AlreadyExists, Conflict):
                return self._set(False)
            return self._set(True, now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = parse_micro_time(spec.get("renewTime"))
        lease_seconds = float(spec.get("leaseDurationSeconds") or self.duration)
        expired = renewed is None or now - renewed >= timedelta(seconds=lease_seconds)
        if holder != self.identity and holder and not expired:
            return self._set(False)
        acquired = parse_micro_time(spec.get("acquireTime")) if holder == self.identity else now
        body = self._body(now, acquired=acquired or now)
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            await self._client.put(self._path, body)
        except (Conflict, NotFound):
            return self._set(False)
        if holder != self.identity:
            logger.info("took the leader Lease %s/%s (was %r)", self._namespace, self._name, holder or None)
        return self._set(True, now)

    async def run(self) -> None:
        """Keep trying and renewing until cancelled."""
        while True:
            try:
                await self.try_once()
            except ApiError as error:
                logger.warning("leader Lease not renewed: %s", error)
                if not self.leading:
                    self._set(False)
            await asyncio.sleep(self.duration / 3 if self.leading else self.duration / 2)

    async def release(self) -> None:
        """Give the Lease up on a clean stop, so that a successor need not wait."""
        if not self.held.is_set():
            return
        try:
            lease: dict[str, Any] = await self._client.get(self._path)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                await self._client.put(self._path, lease)
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
        return held

    def _body(self, now: datetime, *, acquired: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.duration),
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(now),
            },
        }
