"""What the pod shows: the ``allocated-eipAddress`` annotations and the readiness condition.

Both are compatibility surfaces (docs/compatibility.md §3.1, §3.2) and both are written narrowly, in
one request (``Pods.show``): our two annotation keys only, and the one condition (never the
whole list), with the pod UID as precondition. Nothing is written
when the pod already shows the desired state, and the condition is touched only on pods that
declare the ``k8s.aliyun.com/eip`` readiness gate.
"""

from __future__ import annotations

import logging
from datetime import datetime

from podeip import constants as c
from podeip.api.pods import PodView
from podeip.k8s.errors import Conflict, NotFound
from podeip.k8s.pods import Pods, condition_patch
from podeip.reconcile.deps import log_fields

logger = logging.getLogger(__name__)


async def publish(
    pods: Pods,
    pod: PodView,
    *,
    address: str | None,
    reason: str,
    message: str = "",
    now: datetime,
) -> bool:
    """Show ``address`` on the pod (``None``: not bound, with ``reason``). True if it changed.

    One request: the annotations are metadata and the condition is in ``pods/status``, but a
    patch of ``pods/status`` keeps metadata changes too (the pod status strategy resets only
    ownerReferences and deletionTimestamp), so a pod with the gate gets both in one strategic
    merge patch of ``pods/status``, and a pod without it the merge patch of the annotations.
    Nothing is sent when the pod already shows it all."""
    wanted = dict.fromkeys(c.ALLOCATED_EIP_ADDRESS_KEYS, address)
    annotations = wanted if any(pod.annotations.get(key) != value for key, value in wanted.items()) else None
    patch = None
    if pod.declares_eip_gate:
        desired = {
            "type": c.READINESS_GATE,
            "status": "True" if address else "False",
            "reason": c.READINESS_REASON_OK if address else reason,
            "message": message if not address else f"EIP {address} is associated with the pod",
        }
        current = [
            {
                "type": cond.type,
                "status": cond.status,
                "reason": cond.reason or "",
                "message": cond.message or "",
                "lastTransitionTime": cond.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ")
                if cond.last_transition_time
                else "",
            }
            for cond in pod.conditions
        ]
        patch = condition_patch(current, desired=desired, now=now)
    if annotations is None and patch is None:
        return False
    try:
        await pods.show(pod.namespace, pod.name, uid=pod.uid, annotations=annotations, condition=patch)
    except (NotFound, Conflict):
        # The pod is gone or was replaced by a same-name pod: its next pass decides.
        logger.debug(
            "pod %s/%s changed while showing its EIP", pod.namespace, pod.name, extra=log_fields(pod=pod)
        )
        return False
    return True
