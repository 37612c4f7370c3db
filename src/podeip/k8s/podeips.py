"""PodEIP reads and writes, every write guarded so two operators cannot both win.

docs/reliability.md R9 asks every mutation to stay safe while two operator instances overlap. The
PodEIP carries the state that decides cloud calls (client token, allocation ID), so:

* spec and metadata changes carry ``metadata.resourceVersion`` as an optimistic lock: a stale
  writer gets :class:`~podeip.k8s.errors.Conflict` and must re-read;
* status goes through the status subresource (our CRD enables it), so it can never rewrite spec;
* the finalizer is removed by a JSON patch that first *tests* the resourceVersion and the
  finalizer's index, so a concurrent change can never make us drop someone else's finalizer;
* lists come from the API server, not a cache: the orphan sweep must not decide on stale data
  (docs/reliability.md R8).

Bodies are plain dicts; the typed model lives in ``podeip.api.podeip``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from podeip import constants
from podeip.k8s.client import Body, Items, KubeClient
from podeip.k8s.errors import Conflict, Invalid, as_conflict

API_VERSION = f"{constants.GROUP}/{constants.VERSION}"


def podeip_path(namespace: str | None, name: str | None = None) -> str:
    base = f"/apis/{constants.GROUP}/{constants.VERSION}"
    if namespace is None:
        return f"{base}/{constants.PLURAL}"
    collection = f"{base}/namespaces/{namespace}/{constants.PLURAL}"
    return collection if name is None else f"{collection}/{name}"


class PodEIPs:
    """``podeips.alibabacloud.com/v1beta1`` through the operator's client."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def create(self, body: Body) -> Body:
        """Create as given; the caller puts the finalizer in ``metadata.finalizers``."""
        namespace = body["metadata"]["namespace"]
        return await self._client.create(
            podeip_path(namespace), {"apiVersion": API_VERSION, "kind": constants.KIND, **body}
        )

    async def get(self, namespace: str, name: str) -> Body:
        return await self._client.get(podeip_path(namespace, name))

    async def list(self, namespace: str | None = None, *, label_selector: str | None = None) -> Items:
        return await self._client.list(podeip_path(namespace), label_selector=label_selector)

    def pages(self, *, page_size: int = 500) -> AsyncIterator[tuple[Items, str]]:
        """Every PodEIP, page by page, with the listing's resourceVersion (the view's fill)."""
        return self._client.pages(podeip_path(None), page_size=page_size)

    async def patch_metadata_and_spec(
        self, namespace: str, name: str, patch: Body, *, resource_version: str
    ) -> Body:
        """Merge-patch ``metadata``/``spec``; ``Conflict`` if the object moved past ``resource_version``."""
        locked: dict[str, Any] = copy.deepcopy(patch)
        locked.setdefault("metadata", {})["resourceVersion"] = resource_version
        return await self._client.patch(podeip_path(namespace, name), locked, patch_type="merge")

    async def patch_status(
        self, namespace: str, name: str, status_patch: Body, *, resource_version: str | None = None
    ) -> Body:
        """Merge-patch ``status`` through the status subresource (``None`` values delete fields)."""
        patch: dict[str, Any] = {"status": status_patch}
        if resource_version is not None:
            patch["metadata"] = {"resourceVersion": resource_version}
        return await self._client.patch(f"{podeip_path(namespace, name)}/status", patch, patch_type="merge")

    async def remove_finalizer(
        self,
        namespace: str,
        name: str,
        finalizer: str,
        *,
        resource_version: str,
        finalizers: tuple[str, ...] | None = None,
    ) -> Body:
        """Drop one finalizer from the object at ``resource_version``.

        Returns the object unchanged when the finalizer is not there. Raises ``Conflict`` when
        the object has changed since ``resource_version`` (re-read and decide again), and
        ``NotFound`` when it is gone. ``finalizers``: the object's list at ``resource_version``
        when the caller knows it (the view), which spares the read; the patch tests both anyway.
        """
        if finalizers is None or finalizer not in finalizers:
            current = await self.get(namespace, name)
            metadata = current["metadata"]
            if metadata.get("resourceVersion") != resource_version:
                raise _stale(resource_version, metadata.get("resourceVersion"))
            finalizers = tuple(metadata.get("finalizers") or ())
            if finalizer not in finalizers:
                return current
        index = finalizers.index(finalizer)
        operations = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            return await self._client.patch(podeip_path(namespace, name), operations, patch_type="json")
        except Invalid as exc:
            # A failed "test" operation comes back as 422; to the caller it is a lost race.
            raise as_conflict(exc) from exc

    async def delete(self, namespace: str, name: str, *, uid: str | None = None) -> Body:
        """Delete (the finalizer keeps it until released); ``uid`` guards against a re-created twin."""
        preconditions = {"uid": uid} if uid else None
        return await self._client.delete(podeip_path(namespace, name), preconditions=preconditions)


def _stale(expected: str, actual: object) -> Conflict:
    return Conflict(
        status=409, reason="Conflict", message=f"resourceVersion is {actual}, expected {expected}"
    )
