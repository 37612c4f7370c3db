"""Claims: at most one PodEIP may hold an allocation ID (docs/reliability.md R7, "never rob").

Two PodEIPs naming the same Static EIP, or two operator instances racing on one, must not both
associate it. The API server gives us an atomic test-and-set for free: creating an object whose
name is taken fails with 409 ``AlreadyExists``. A claim is therefore a
``coordination.k8s.io/v1`` Lease in the operator namespace, named after the allocation ID, with
``holderIdentity`` = ``<namespace>/<podeip-name>/<podeip-uid>``. The loser reads the Lease and
reports the holder (``EipClaimedByOtherPod``); the caller compares holders, so re-claiming one's
own ID is a no-op.

The Lease is only a name lock here: nobody renews it and ``leaseDurationSeconds`` is unset. A
claim ends when its holder releases it; release is guarded by the Lease's UID and
resourceVersion so that a claim taken over in between is never deleted by the old holder.
"""

from __future__ import annotations

from podeip import constants
from podeip.k8s.client import Body, KubeClient
from podeip.k8s.errors import AlreadyExists, Conflict, NotFound

#: Label on every claim, so stale claims can be listed (``podeip gc``).
CLAIM_LABEL = constants.PRIVATE_PREFIX + "claim"
#: The allocation ID as given (the Lease name is lower-cased).
ALLOCATION_ID_ANNOTATION = constants.PRIVATE_PREFIX + "allocation-id"


def holder_identity(*, namespace: str, name: str, uid: str) -> str:
    """The ``holderIdentity`` of a PodEIP's claim."""
    return f"{namespace}/{name}/{uid}"


def claim_name(allocation_id: str) -> str:
    return f"{constants.CLAIM_LEASE_PREFIX}{allocation_id.lower()}"


class Claims:
    """Claims on allocation IDs, as Leases in one namespace (the operator's)."""

    def __init__(self, client: KubeClient, *, namespace: str) -> None:
        self._client = client
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._namespace = namespace

    async def claim(self, allocation_id: str, *, holder: str) -> str:
        """Claim ``allocation_id`` for ``holder``; return whoever holds it now (compare it)."""
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": claim_name(allocation_id),
                "namespace": self._namespace,
                "labels": {CLAIM_LABEL: "true"},
                "annotations": {ALLOCATION_ID_ANNOTATION: allocation_id},
            },
            "spec": {"holderIdentity": holder},
        }
        # Create, or read the existing claim; a claim released in between means try again.
        for _ in range(3):
            try:
                created = await self._client.create(self._collection, body)
                return _holder(created) or holder
            except AlreadyExists:
                current = await self.get_holder(allocation_id)
                if current is not None:
                    return current
        raise Conflict(status=409, reason="Conflict", message=f"claim on {allocation_id} keeps changing")

    async def get_holder(self, allocation_id: str) -> str | None:
        """The current holder, or ``None`` when unclaimed."""
        try:
            return _holder(await self._client.get(self._path(allocation_id))) or None
        except NotFound:
            return None

    async def release_claim(self, allocation_id: str, *, holder: str) -> bool:
        """Delete the claim if ``holder`` holds it. ``True`` when it is gone (or never existed),
        ``False`` when someone else holds it."""
        try:
            lease = await self._client.get(self._path(allocation_id))
            if _holder(lease) != holder:
                return False
            metadata = lease["metadata"]
            preconditions = {"uid": metadata["uid"], "resourceVersion": metadata["resourceVersion"]}
            await self._client.delete(self._path(allocation_id), preconditions=preconditions)
        except NotFound:
            return True
        except Conflict:
            # Changed between our read and delete: only a new holder could have done that.
            return False
        return True

    def _path(self, allocation_id: str) -> str:
        return f"{self._collection}/{claim_name(allocation_id)}"


def _holder(lease: Body) -> str:
    return str((lease.get("spec") or {}).get("holderIdentity") or "")
