"""Cascade reclaim (``cascadeReclaim``, opt-in): is the workload that created a kept PodEIP gone?

The PodEIP records its pod's
controller owner at creation (``owner`` Kind/name, ``owner-api-version``, ``owner-uid``). For a
kept PodEIP (pod gone, strategy TTL or Never) of a stateful owner (StatefulSet, or a kind in
``customStatefulWorkloadKinds``), the owner is read: NotFound, another UID (a new workload of
the same name) or a deletion in progress mean it was deleted, and the release decision ends the
PodEIP at once (Auto released, Static unbound and forgotten).

Decisions: PodEIPs without a recorded owner UID (created before this version, or by AENC) are
never cascaded, as TKE does for workloads created before ``--enable-ownerref``. When the owner
cannot be read (no RBAC for its kind, an unknown API), the EIP is kept: a failed read must never
release. The kept PodEIPs are looked at by every collector pass, and a StatefulSet's deletion
enqueues them at once (:mod:`podeip.controllers.handlers`). An answer is trusted for
``OWNER_RECHECK`` seconds, so that many PodEIPs of one workload cost one read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from podeip import constants as c
from podeip.api.podeip import PodEIP, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.domain.stateful import is_stateful
from podeip.k8s import errors as kube_errors
from podeip.reconcile.base import Memory, Pass
from podeip.reconcile.deps import Deps, log_fields
from podeip.reconcile.plan import Observed, Step

logger = logging.getLogger(__name__)

OWNER_RECHECK = 5.0
#: Plurals known without asking discovery.
KNOWN_PLURALS = {("apps/v1", "StatefulSet"): "statefulsets"}


async def look_owner(p: Pass, o: Observed, step: Step) -> Observed:
    """The LOOK_OWNER act."""
    assert o.podeip is not None
    return replace(o, owner_deleted=await owner_deleted(p.d, p.memory, o.podeip, o.pod))


async def owner_deleted(d: Deps, memory: Memory, podeip: PodEIP, pod: PodView | None) -> bool:
    """Whether cascade reclaim applies and the PodEIP's recorded owner is gone."""
    s = d.settings
    annotations = podeip.annotations
    uid, api_version = annotations.get(c.ANN_OWNER_UID, ""), annotations.get(c.ANN_OWNER_API_VERSION, "")
    kind, _, name = annotations.get(c.ANN_OWNER, "").partition("/")
    if not s.cascade_reclaim or not uid or not kind or not name:
        return False
    if podeip.spec.allocation_type.release_strategy is ReleaseStrategy.FOLLOW:
        return False
    if pod is not None and not pod.is_gone and pod.uid == annotations.get(c.ANN_POD_UID):
        return False  # the pod is there: nothing is kept
    if not is_stateful(kind, custom_kinds=s.custom_stateful_workload_kinds):
        return False
    namespace = podeip.metadata.namespace or ""
    seen = memory.owners_seen.get((namespace, uid))
    if seen is not None and d.monotonic() - seen[1] < OWNER_RECHECK:
        return seen[0]
    plural = await _plural(d, memory, api_version, kind)
    if plural is None:
        return False
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    try:
        body: dict[str, Any] = await d.client.get(f"{base}/namespaces/{namespace}/{plural}/{name}")
    except kube_errors.NotFound:
        deleted = True
    except kube_errors.ApiError as error:
        logger.warning(
            "cannot read owner %s of PodEIP %s/%s (%s): kept",
            kind,
            namespace,
            podeip.metadata.name,
            error,
            extra=log_fields(podeip),
        )
        return False
    else:
        meta = body.get("metadata") or {}
        deleted = meta.get("uid") != uid or bool(meta.get("deletionTimestamp"))
    memory.owners_seen[(namespace, uid)] = (deleted, d.monotonic())
    return deleted


async def _plural(d: Deps, memory: Memory, api_version: str, kind: str) -> str | None:
    """The resource name of a kind, from discovery (cached; None when unknown)."""
    if (api_version, kind) in KNOWN_PLURALS:
        return KNOWN_PLURALS[(api_version, kind)]
    if (api_version, kind) not in memory.plurals:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = await d.client.get(path)
        except kube_errors.ApiError:
            return None  # not cached: the API may be installed later
        found = next(
            (
                str(r.get("name"))
                for r in listing.get("resources") or ()
                if r.get("kind") == kind and "/" not in str(r.get("name"))
            ),
            None,
        )
        memory.plurals[(api_version, kind)] = found
    return memory.plurals[(api_version, kind)]
