"""What the pod shows: the ``allocated-eipAddress`` annotations and the readiness condition.

Both are compatibility surfaces (docs/compatibility.md §3.1, §3.2) and both are written narrowly: a
merge patch of our two annotation keys only, and a strategic merge patch of the one condition
on ``pods/status`` with the pod UID as precondition, never the whole list. Nothing is written
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
    """Show ``address`` on the pod (``None``: not bound, with ``reason``). True if it changed."""
    changed = False
    wanted = dict.fromkeys(c.ALLOCATED_EIP_ADDRESS_KEYS, address)
    if any(pod.annotations.get(key) != value for key, value in wanted.items()):
        try:
            await pods.patch_pod_annotations(pod.namespace, pod.name, wanted, uid=pod.uid)
            changed = True
        except (NotFound, Conflict):
            return False  # gone, or replaced by a same-name pod: its own pass decides
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
        if patch is not None:
            try:
                await pods.set_pod_condition(pod.namespace, pod.name, uid=pod.uid, condition=patch)
                changed = True
            except (NotFound, Conflict):
                # The pod is gone or was replaced by a same-name pod: its next pass decides.
                logger.debug(
                    "pod %s/%s changed while setting its EIP condition",
                    pod.namespace,
                    pod.name,
                    extra=log_fields(pod=pod),
                )
    return changed
