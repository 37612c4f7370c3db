"""The state a reconcile pass keeps between passes, and the two writers every step uses.

``Reconciler`` is split by concern into mixins (``binding``, ``teardown``, ``podeip``); they
share this base. Nothing here survives a restart, and nothing needs to: every value is a cache
or a counter whose loss costs at most one extra cloud or API call.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.k8s import errors as kube_errors
from podeip.reconcile import outputs, records
from podeip.reconcile.deps import Deps, pod_ref, podeip_ref
from podeip.reconcile.looks import Looks
from podeip.reconcile.queue import Key

REPORTS_REMEMBERED = 10_000


def key_of(podeip: PodEIP) -> Key:
    return podeip.metadata.namespace or "", podeip.metadata.name or ""


class PassBase:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.looks = Looks(deps.cloud, clock=deps.clock)
        #: UIDs of Auto PodEIPs this process created and has not yet allocated for: no earlier
        #: attempt can exist, so the tag lookup before Allocate (R3) is skipped for them.
        self._fresh: set[str] = set()
        #: Successful calls whose token must change when repeated: ((key, "associate"|"join") → n).
        self._rounds: dict[tuple[Key, str], int] = {}
        #: Static claims this process holds: allocation ID → (holder, monotonic time confirmed).
        self._claims: dict[str, tuple[str, float]] = {}
        #: Allocation IDs a Describe did not find: when first missed (monotonic).
        self._missing: dict[str, float] = {}
        #: pod uid → the last findings we reported (bounded: old pods fall out first).
        self._reported: OrderedDict[str, str] = OrderedDict()
        self._virtual_nodes: dict[str, bool] = {}

    # ---- what the PodEIP and the pod show ------------------------------------------------------
    async def _show(
        self, podeip: PodEIP, pod: PodView | None, *, reason: str, message: str, warn: bool = False
    ) -> None:
        """A not-Ready state: PodEIP condition, pod gate (if declared), and an Event when warn."""
        await self._write_status(podeip, {}, ready=("False", reason, message))
        if pod is not None and pod.uid == podeip.annotations.get(c.ANN_POD_UID):
            await outputs.publish(
                self.d.pods, pod, address=None, reason=reason, message=message, now=self.d.clock()
            )
            if warn:
                await self.d.events.warning(pod_ref(pod), reason=reason, message=message)
        if warn:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)

    async def _write_status(
        self, podeip: PodEIP, fields: dict[str, Any], *, ready: tuple[str, str, str]
    ) -> None:
        changes = records.status_changes(podeip, fields)
        conditions = records.with_condition(
            podeip, type=c.COND_READY, status=ready[0], reason=ready[1], message=ready[2], now=self.d.clock()
        )
        if conditions is not None:
            changes["conditions"] = conditions
        if self.d.status_fields is not None:
            changes = {key: value for key, value in changes.items() if key in self.d.status_fields}
        if changes:
            with contextlib.suppress(kube_errors.NotFound):
                await self.d.podeips.patch_status(*key_of(podeip), changes)
