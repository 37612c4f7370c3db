"""The only two writes the operator makes to user pods, shaped so they cannot clobber anything.

Compatibility obliges us to write the ``allocated-eipAddress`` annotations and the readiness
condition ``k8s.aliyun.com/eip`` (docs/compatibility.md §3.1, §3.2), in one request when the pod
declares the gate (:meth:`Pods.show`). Both reference controllers had bugs
here: AENC once overwrote other pod conditions, and annotation updates conflicted with other
writers. So:

* annotations go in a JSON merge patch that names only our keys (``None`` deletes a key);
* the condition goes in a strategic merge patch on ``pods/status`` that carries this one
  condition (the API server merges the list by ``type``) and the pod UID as a precondition, so
  a pod deleted and re-created under the same name is never touched by a stale decision.

:func:`condition_patch` is the pure half: given the pod's current conditions it returns the
condition to send, or ``None`` when nothing would change, and moves ``lastTransitionTime`` only
when the status flips (CCM's readiness-gate helper does the same).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podeip.k8s.client import Body, Items, KubeClient
from podeip.k8s.errors import Invalid, as_conflict, invalid_fields


def pod_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/pods"
    return base if name is None else f"{base}/{name}"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes stores ``metav1.Time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition_patch(
    current: Sequence[Mapping[str, Any]] | None,
    *,
    desired: Mapping[str, str],
    now: datetime,
) -> dict[str, str] | None:
    """The condition to write, or ``None`` when status, reason and message are already there.

    ``desired`` holds ``type`` and ``status`` and optionally ``reason`` and ``message``.
    """
    kind = desired["type"]
    existing = next((c for c in current or () if c.get("type") == kind), None)
    fields = ("status", "reason", "message")
    if existing is not None and all(existing.get(f, "") == desired.get(f, "") for f in fields):
        return None
    stamp = format_time(now)
    if existing is None or existing.get("status") != desired["status"]:
        transition = stamp
    else:
        transition = str(existing.get("lastTransitionTime") or stamp)
    return {
        "type": kind,
        "status": desired["status"],
        "reason": desired.get("reason", ""),
        "message": desired.get("message", ""),
        "lastProbeTime": stamp,
        "lastTransitionTime": transition,
    }


class Pods:
    """Reads of pods, and the two narrow writes."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def get_pod(self, namespace: str, name: str) -> Body:
        return await self._client.get(pod_path(namespace, name))

    async def list_pods(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Items:
        path = "/api/v1/pods" if namespace is None else pod_path(namespace)
        return await self._client.list(path, label_selector=label_selector, field_selector=field_selector)

    def pages(
        self, *, page_size: int = 500, label_selector: str | None = None
    ) -> AsyncIterator[tuple[Items, str]]:
        """Every pod of the cluster (or those ``label_selector`` selects), page by page, with
        the listing's resourceVersion."""
        return self._client.pages("/api/v1/pods", page_size=page_size, label_selector=label_selector)

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None], *, uid: str | None = None
    ) -> Body:
        """Set (or with ``None`` remove) only the given annotation keys; with ``uid``, only on
        that pod (``Conflict`` when a same-name pod replaced it)."""
        metadata: dict[str, Any] = {"annotations": dict(annotations)}
        if uid is not None:
            metadata["uid"] = uid
        try:
            return await self._client.patch(
                pod_path(namespace, name), {"metadata": metadata}, patch_type="merge"
            )
        except Invalid as exc:
            if "metadata.uid" in invalid_fields(exc):
                raise as_conflict(exc) from exc
            raise

    async def show(
        self,
        namespace: str,
        name: str,
        *,
        uid: str,
        annotations: Mapping[str, str | None] | None,
        condition: Mapping[str, str] | None,
    ) -> Body:
        """Both writes in one request where one is enough: with a condition, one strategic merge
        patch of ``pods/status`` that carries the annotations too (the pod status strategy keeps
        metadata changes, all but ownerReferences and deletionTimestamp); without one, the
        merge patch of the annotations. ``Conflict`` if the UID differs."""
        if condition is None:
            return await self.patch_pod_annotations(namespace, name, annotations or {}, uid=uid)
        metadata: dict[str, Any] = {"uid": uid}
        if annotations:
            metadata["annotations"] = dict(annotations)
        patch = {"metadata": metadata, "status": {"conditions": [dict(condition)]}}
        try:
            return await self._client.patch(
                f"{pod_path(namespace, name)}/status", patch, patch_type="strategic"
            )
        except Invalid as exc:
            if "metadata.uid" in invalid_fields(exc):
                raise as_conflict(exc) from exc
            raise

    async def set_pod_condition(
        self, namespace: str, name: str, *, uid: str, condition: Mapping[str, str]
    ) -> Body:
        """Merge one condition into ``status.conditions``; ``Conflict`` if the UID differs."""
        patch = {"metadata": {"uid": uid}, "status": {"conditions": [dict(condition)]}}
        try:
            return await self._client.patch(
                f"{pod_path(namespace, name)}/status", patch, patch_type="strategic"
            )
        except Invalid as exc:
            # The API server reports a UID mismatch as "metadata.uid: field is immutable" (422).
            if "metadata.uid" in invalid_fields(exc):
                raise as_conflict(exc) from exc
            raise
