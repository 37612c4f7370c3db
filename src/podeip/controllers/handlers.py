"""kopf adapters: every watch event becomes a key in the work queue, nothing more.

No state is kept on user pods (docs/reliability.md R11): pods are watched with ``on.event`` only, so
kopf adds no finalizer and no annotation to them. PodEIPs are watched the same way; their
finalizer is ours and is handled by the reconciler. On start, kopf lists every pod and PodEIP
and delivers each as an event, which is how work missed while the operator was down resumes.
"""

from __future__ import annotations

from typing import Any

import kopf

from podeip import constants as c
from podeip.controllers.memo import Operator
from podeip.domain.annotations import candidate_keys

#: Any of these annotations makes a pod ours to look at (both prefixes, and the aliases).
ENABLING_KEYS = frozenset(
    candidate_keys(c.POD_WITH_EIP)
    + candidate_keys(c.POD_EIP_INSTANCE_ID)
    + candidate_keys(c.POD_EIP_INSTANCE_ID_LIST)
    + (c.TKE_EIP_ATTRIBUTES, c.TKE_EIP_ID_LIST)
)


def concerns_us(meta: kopf.Meta, memo: Operator, **_: Any) -> bool:
    """A pod that asks for an EIP, or has a PodEIP (its deletion matters as much)."""
    annotations = meta.annotations
    if any(key in annotations for key in ENABLING_KEYS):
        return True
    return (meta.namespace or "", meta.name or "") in memo.known


def register(registry: kopf.OperatorRegistry, *, cascade: bool = False) -> None:
    if cascade:
        # Cascade reclaim: a deleted StatefulSet's kept PodEIPs are looked at now, not at the
        # next collector pass (which covers the custom stateful kinds).
        @kopf.on.event("apps", "v1", "statefulsets", registry=registry, id="owner-event")
        async def on_owner_event(type: str | None, meta: kopf.Meta, memo: Operator, **_: Any) -> None:
            if type == "DELETED":
                # Its pods (and their PodEIPs) are named <statefulset>-<ordinal>.
                prefix = f"{meta.name}-"
                for key in [k for k in memo.known if k[0] == meta.namespace and k[1].startswith(prefix)]:
                    memo.queue.add(key)

    @kopf.on.event("", "v1", "pods", registry=registry, id="pod-event", when=concerns_us)
    async def on_pod_event(type: str | None, meta: kopf.Meta, memo: Operator, **_: Any) -> None:
        # A deleted pod breaks any hold of its key: its EIP is unbound at once (its IP may be
        # given to another pod), not after a backoff or a poll (reconcile/queue.py).
        memo.queue.add((meta.namespace or "", meta.name or ""), urgent=type == "DELETED")

    @kopf.on.event(c.GROUP, c.VERSION, c.PLURAL, registry=registry, id="podeip-event")
    async def on_podeip_event(type: str | None, meta: kopf.Meta, memo: Operator, **_: Any) -> None:
        key = (meta.namespace or "", meta.name or "")
        if type == "DELETED":
            memo.known.discard(key)
        else:
            memo.known.add(key)
        memo.queue.add(key)

    @kopf.on.probe(registry=registry, id="queue")
    async def on_probe_queue(memo: Operator, **_: Any) -> dict[str, int]:
        return {"queued": len(memo.queue), "podeips": len(memo.known)}

    @kopf.on.login(registry=registry, id="login")
    def on_login(memo: Operator, **_: Any) -> kopf.ConnectionInfo:
        """Synchronous on purpose: loading may run an exec plugin, and kopf runs synchronous
        handlers in its executor. kopf calls it again after ``expiration`` and after a 401."""
        return kopf.ConnectionInfo(**memo.connection.login_fields())
