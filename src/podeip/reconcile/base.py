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
from podeip.api.podeip import AllocationType, PodEIP
from podeip.api.pods import PodView
from podeip.cloud.models import Eip
from podeip.domain import ownership
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import outputs, records, steps
from podeip.reconcile.deps import Deps, pod_ref, podeip_ref
from podeip.reconcile.looks import Looks
from podeip.reconcile.queue import Key

REPORTS_REMEMBERED = 10_000
#: Seconds a confirmed claim on a static EIP is trusted before the Lease is read again.
CLAIM_RECHECK = 60.0


def key_of(podeip: PodEIP) -> Key:
    return podeip.metadata.namespace or "", podeip.metadata.name or ""


class PassBase:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.looks = Looks(deps.cloud, clock=deps.clock, monotonic=deps.monotonic)
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

    # ---- ownership (domain/ownership.py decides; these gather the evidence) -------------------
    def _judge(
        self,
        podeip: PodEIP,
        eip: Eip,
        *,
        on_live_pod: bool = False,
        claim: tuple[ownership.Claim, str] = (ownership.Claim.NONE, ""),
    ) -> ownership.Verdict:
        recorded = records.binding_of(podeip)
        return ownership.judge(
            ownership.Evidence(
                allocation_type=str(podeip.spec.allocation_type.type.value),
                podeip_uid=podeip.metadata.uid or "",
                cluster_id=self.d.cluster_id,
                tags=eip.tags,
                status=eip.status.value,
                recorded_for=recorded.podeip_uid if recorded else None,
                record_shown=recorded is not None and recorded.holds(eip),
                on_live_pod=on_live_pod,
                adoption_opted_in=self.d.settings.adopt_untagged_eips,
                claim=claim[0],
                claim_holder=claim[1],
            )
        )

    async def _claim_of(self, podeip: PodEIP) -> tuple[ownership.Claim, str]:
        """Who holds this Static PodEIP's claim, and its holder identity (read, never taken:
        see ``Binding._claim``)."""
        if podeip.spec.allocation_type.type is not AllocationType.STATIC or not podeip.spec.allocation_id:
            return ownership.Claim.NONE, ""
        namespace, name = key_of(podeip)
        me = holder_identity(namespace=namespace, name=name, uid=podeip.metadata.uid or "")
        held = self._claims.get(podeip.spec.allocation_id)
        if held is not None and held[0] == me and self.d.monotonic() - held[1] < CLAIM_RECHECK:
            return ownership.Claim.MINE, me
        holder = await self.d.claims.get_holder(podeip.spec.allocation_id)
        if holder is None:
            return ownership.Claim.NONE, ""
        return (ownership.Claim.MINE if holder == me else ownership.Claim.OTHER), holder

    async def _adopt_eip(self, podeip: PodEIP, eip: Eip, verdict: ownership.Verdict) -> None:
        """An untagged Auto EIP (AENC's or Terway's time) counts as ours only once tagged, and is
        tagged only on the ownership verdict's word (proof, or an administrator's opt-in)."""
        if ownership.Act.TAG not in verdict.may or steps.owner_tags_state(self.d, podeip, eip) != "untagged":
            return
        await self.d.cloud.tag_eips([eip.allocation_id], tags=steps.owner_tags(self.d, podeip))
        message = f"EIP {eip.allocation_id} tagged as managed by this PodEIP ({verdict.reason})"
        await self.d.events.normal(podeip_ref(podeip), reason=c.EV_ADOPTED, message=message)

    async def _left_alone(self, podeip: PodEIP, pod: PodView | None, verdict: ownership.Verdict) -> None:
        """One EIP, one PodEIP: this PodEIP does nothing to its EIP; a condition and a Warning
        (on the PodEIP only: the pod of another PodEIP is not ours to change) say why."""
        message = f"EIP {podeip.spec.allocation_id}: {verdict.reason}; nothing is done to it"
        reason = verdict.event or c.EV_CONFLICT
        await self._write_status(podeip, {}, ready=("False", reason, message))
        uid = podeip.metadata.uid or ""
        if self._reported.get(uid) != reason + message:  # once per finding, not on every resync
            self._remember_report(uid, reason + message)
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)

    def _remember_report(self, uid: str, signature: str) -> None:
        self._reported[uid] = signature
        self._reported.move_to_end(uid)
        while len(self._reported) > REPORTS_REMEMBERED:
            self._reported.popitem(last=False)
