"""kopf adapters: every watch event goes into the view (k8s/view.py), which enqueues the key of
whatever changed, nothing more.

No state is kept on user pods (docs/reliability.md R11): pods are watched with ``on.event`` only, so
kopf adds no finalizer and no annotation to them. PodEIPs are watched the same way; their
finalizer is ours and is handled by the reconciler. The pod filter passes on pods that ask for
an EIP, have a PodEIP, or are in the view (so that one that stops asking leaves it). An event that
changes nothing in the view (a re-listing, the echo of our own write, whose answer is already
there) enqueues nothing. On start, the view lists both resources itself (``app.fill_view``).
"""

from __future__ import annotations

from typing import Any

import kopf

from podeip import constants as c
from podeip.controllers.memo import Operator
from podeip.reconcile.deps import ENABLING_KEYS, asks_for_eip

__all__ = ["ENABLING_KEYS", "asks_for_eip", "register"]


def concerns_us(meta: kopf.Meta, memo: Operator, **_: Any) -> bool:
    """A pod that asks for an EIP, has a PodEIP (its deletion matters as much), or is in the view
    (so that one that stops asking leaves it). Other pods never reach a handler."""
    return memo.view.watches((meta.namespace or "", meta.name or ""), meta.annotations)


def register(registry: kopf.OperatorRegistry, *, cascade: bool = False) -> None:
    if cascade:
        # Cascade reclaim: a deleted StatefulSet's kept PodEIPs are looked at now, not at the
        # next collector pass (which covers the custom stateful kinds).
        @kopf.on.event("apps", "v1", "statefulsets", registry=registry, id="owner-event")
        async def on_owner_event(type: str | None, meta: kopf.Meta, memo: Operator, **_: Any) -> None:
            if type == "DELETED":
                # Its pods (and their PodEIPs) are named <statefulset>-<ordinal>.
                prefix = f"{meta.name}-"
                for key in [
                    k for k in memo.view.podeip_keys() if k[0] == meta.namespace and k[1].startswith(prefix)
                ]:
                    memo.queue.add(key)

    @kopf.on.event("", "v1", "pods", registry=registry, id="pod-event", when=concerns_us)
    async def on_pod_event(type: str | None, body: kopf.Body, memo: Operator, **_: Any) -> None:
        memo.view.pod_event(type, body)

    @kopf.on.event(c.GROUP, c.VERSION, c.PLURAL, registry=registry, id="podeip-event")
    async def on_podeip_event(type: str | None, body: kopf.Body, memo: Operator, **_: Any) -> None:
        memo.view.podeip_event(type, body)

    @kopf.on.probe(registry=registry, id="queue")
    async def on_probe_queue(memo: Operator, **_: Any) -> dict[str, int]:
        return {"queued": len(memo.queue), **memo.view.sizes()}

    @kopf.on.login(registry=registry, id="login")
    def on_login(memo: Operator, **_: Any) -> kopf.ConnectionInfo:
        """Synchronous on purpose: loading may run an exec plugin, and kopf runs synchronous
        handlers in its executor. kopf calls it again after ``expiration`` and after a 401."""
        return kopf.ConnectionInfo(**memo.connection.login_fields())
