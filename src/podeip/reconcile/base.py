"""What the operator remembers between passes (``Memory``), and one pass's context (``Pass``).

Composition, not inheritance: the ``Reconciler`` owns one ``Memory`` and one ``Looks``; each
pass gets a ``Pass`` with them, the dependencies, and the one status write it owes. The act
functions (``binding.py``, ``teardown.py``, ``pools.py``, ``owners.py``) take the ``Pass``.

Nothing in ``Memory`` survives a restart, and nothing needs to: each field is a cache or a
counter, and its documentation says what its loss costs (at most an extra call or Event, never
a wrong action: everything that decides is recorded on the PodEIP or in the cloud's tags).

One status write per pass (issue 12 item 4): ``show`` and ``status`` only collect the status
fields and the Ready condition; ``flush`` writes them once, at the end of the pass, whatever
ended it. The "record before the cloud call" writes (finalizer, frozen request, allocation ID,
binding) are not status: they stay immediate (``steps.record``), the crash-safety contract.

Fewer writes until bound (issue 13): ``podLastSeen`` (display only: the TTL runs from the
recorded ``pod-gone-since``) rides along with the pass's first status write, or is written
alone by a pass that ends settled (no requeue); a pass that comes back soon carries it later.
The allocation's Event is folded into the bound one (``Memory.allocated``): one Event per
bind, on the pod, naming both (docs/compatibility.md §3.4's reasons); a bind that stops short
of bound (a failure, a wait: anything but an Associate in flight or a rate-limit slot
reserved) sends ``EipAllocated`` at the end of that pass, so the allocation is always told.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, format_kube_time
from podeip.api.pods import PodView
from podeip.cloud.models import Eip
from podeip.domain import ownership
from podeip.domain.request import ParseResult
from podeip.k8s import errors as kube_errors
from podeip.k8s.events import ObjectRef
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


@dataclass
class Memory:
    """What the operator remembers between passes, and what losing it at a restart costs."""

    #: UIDs of Auto PodEIPs this process created and has not yet allocated for: no earlier
    #: attempt can exist, so the tag lookup before Allocate (R3) is skipped for them.
    #: Lost: one DescribeEipAddresses by tag before the first Allocate.
    fresh: set[str] = field(default_factory=set)
    #: Successful calls whose token must change when repeated: (key, "associate"|"join") → n.
    #: Lost: a re-association after an out-of-band unbind takes a time-based token (see
    #: ``plan.was_bound_to``); a re-join may be answered as a replay once, then joins.
    rounds: dict[tuple[Key, str], int] = field(default_factory=dict)
    #: Static claims this process holds: allocation ID → (holder, monotonic time confirmed).
    #: Lost: one Lease read per Static PodEIP.
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: Allocation IDs a Describe did not find: when first missed (monotonic).
    #: Lost: the lost-EIP confirmation starts again (``LOST_CONFIRM`` later, never sooner).
    missing: dict[str, float] = field(default_factory=dict)
    #: Pod or PodEIP UID → the last findings reported as Events (bounded: old ones fall out).
    #: Lost: each current finding's Event is emitted once more.
    reported: OrderedDict[str, str] = field(default_factory=OrderedDict)
    #: Node name → whether it is a virtual node. Lost: one Node read per node.
    virtual_nodes: dict[str, bool] = field(default_factory=dict)
    #: Cascade reclaim: (namespace, owner UID) → (deleted, monotonic time read).
    #: Lost: one read of the owner.
    owners_seen: dict[tuple[str, str], tuple[bool, float]] = field(default_factory=dict)
    #: Cascade reclaim: (apiVersion, kind) → resource plural (None: unknown). Lost: one discovery read.
    plurals: dict[tuple[str, str], str | None] = field(default_factory=dict)
    #: PodEIP UID → the pod and the allocation ("EIP <ip> (<id>)") not yet told: the bound
    #: Event names it (one Event per bind), or ``EipAllocated`` alone when the bind stops
    #: short of bound (a failure, a wait). Bounded as ``reported``.
    #: Lost: the bound Event says "associated" only (the allocation ID is in it all the same).
    allocated: OrderedDict[str, tuple[ObjectRef, str]] = field(default_factory=OrderedDict)
    #: PodEIP UID → when its pass first found the pod IP still held by another EIP (monotonic;
    #: ``plan.QUIET`` runs from then). Lost: that wait's QUIET starts again.
    held: dict[str, float] = field(default_factory=dict)

    def remember_allocation(self, uid: str, pod: ObjectRef, what: str) -> None:
        self.allocated[uid] = (pod, what)
        while len(self.allocated) > REPORTS_REMEMBERED:
            self.allocated.popitem(last=False)

    def remember_report(self, uid: str, signature: str) -> None:
        self.reported[uid] = signature
        self.reported.move_to_end(uid)
        while len(self.reported) > REPORTS_REMEMBERED:
            self.reported.popitem(last=False)

    def new_report(self, uid: str, signature: str) -> bool:
        """Whether this finding is new for the object (and remember it)."""
        if self.reported.get(uid) == signature:
            return False
        self.remember_report(uid, signature)
        return True


class Pass:
    """One pass over one key."""

    def __init__(
        self,
        deps: Deps,
        memory: Memory,
        looks: Looks,
        podeip: PodEIP,
        *,
        parse: Callable[[PodView], ParseResult],
    ) -> None:
        self.d = deps
        self.memory = memory
        self.looks = looks
        self.parse = parse
        #: The PodEIP as last written or read in this pass (the status write compares with it).
        self.podeip = podeip
        self._fields: dict[str, Any] = {}
        self._ready: tuple[str, str, str] | None = None
        #: ``podLastSeen`` to stamp (a PodEIP that shows none yet): rides along (module doc).
        self._last_seen: datetime | None = None

    # ---- what the PodEIP and the pod show ------------------------------------------------------
    async def show(
        self, podeip: PodEIP, pod: PodView | None, *, reason: str, message: str, warn: bool = False
    ) -> None:
        """A not-Ready state: PodEIP condition, pod gate (if declared), and an Event when warn."""
        self.status(podeip, {}, ready=("False", reason, message))
        if pod is not None and pod.uid == podeip.annotations.get(c.ANN_POD_UID):
            await outputs.publish(
                self.d.pods, pod, address=None, reason=reason, message=message, now=self.d.clock()
            )
            if warn:
                await self.d.events.warning(pod_ref(pod), reason=reason, message=message)
        if warn:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)

    def status(self, podeip: PodEIP, fields: Mapping[str, Any], *, ready: tuple[str, str, str]) -> None:
        """Collect status fields and the Ready condition for the pass's one status write."""
        self.podeip = podeip
        self._fields.update(fields)
        self._ready = ready

    def seen_now(self, podeip: PodEIP) -> None:
        """``podLastSeen`` is stamped once, so that a bound PodEIP shows it as AENC's do, and
        not refreshed while the pod runs: no TTL runs from it then. The TTL runs from the
        recorded ``pod-gone-since`` (teardown.py stamps it, and ``podLastSeen`` with it, on the
        first pass that sees the pod gone), so a refresh every GC period would only cost a write
        per PodEIP per period (and one request at rest). Written with the pass's status write."""
        if podeip.status is None or podeip.status.pod_last_seen is None:
            self._last_seen = self.d.clock()

    def allocated(self, pod: PodView, eip: Eip) -> None:
        """This pass allocated ``eip`` for the pod: told with the bound Event (module doc)."""
        what = f"EIP {eip.ip_address} ({eip.allocation_id})"
        self.memory.remember_allocation(self.podeip.metadata.uid or "", pod_ref(pod), what)

    async def flush(self, *, settled: bool = True, in_flight: bool = False) -> None:
        """The pass's one status write: the fields and the condition together, when changed
        (``podLastSeen`` along, or alone when the pass is ``settled``: it ended without a
        requeue); then ``EipAllocated`` for an allocation not told yet, unless the bind is
        ``in_flight`` (an Associate to look at, a rate-limit slot reserved: bound comes next)."""
        await self._flush_status(settled=settled)
        uid = self.podeip.metadata.uid or ""
        if uid in self.memory.allocated and not in_flight:
            pod, what = self.memory.allocated.pop(uid)
            await self.d.events.normal(pod, reason=c.EV_ALLOCATED, message=f"{what} allocated")

    async def _flush_status(self, *, settled: bool) -> None:
        podeip, ready = self.podeip, self._ready
        changes = records.status_changes(podeip, self._fields)
        if ready is not None:
            conditions = records.with_condition(
                podeip,
                type=c.COND_READY,
                status=ready[0],
                reason=ready[1],
                message=ready[2],
                now=self.d.clock(),
            )
            if conditions is not None:
                changes["conditions"] = conditions
        self._fields, self._ready = {}, None
        if self.d.status_fields is not None:
            changes = {key: value for key, value in changes.items() if key in self.d.status_fields}
        if self._last_seen is not None and (changes or settled):
            if podeip.status is None or podeip.status.pod_last_seen is None:
                changes.setdefault("podLastSeen", format_kube_time(self._last_seen))
            self._last_seen = None
        if changes:
            with contextlib.suppress(kube_errors.NotFound):
                await self.d.podeips.patch_status(*key_of(podeip), changes)

    # ---- ownership (plan.judge decides; these gather the evidence or act on it) ---------------
    async def claim_of(self, podeip: PodEIP) -> tuple[ownership.Claim, str]:
        """Who holds this Static PodEIP's claim, and its holder identity (read, never taken:
        see ``binding.claim``)."""
        if podeip.spec.allocation_type.type is not AllocationType.STATIC or not podeip.spec.allocation_id:
            return ownership.Claim.NONE, ""
        namespace, name = key_of(podeip)
        me = holder_identity(namespace=namespace, name=name, uid=podeip.metadata.uid or "")
        held = self.memory.claims.get(podeip.spec.allocation_id)
        if held is not None and held[0] == me and self.d.monotonic() - held[1] < CLAIM_RECHECK:
            return ownership.Claim.MINE, me
        holder = await self.d.claims.get_holder(podeip.spec.allocation_id)
        if holder is None:
            return ownership.Claim.NONE, ""
        return (ownership.Claim.MINE if holder == me else ownership.Claim.OTHER), holder

    async def adopt_eip(self, podeip: PodEIP, eip: Eip, verdict: ownership.Verdict) -> None:
        """An untagged Auto EIP (AENC's or Terway's time) counts as ours only once tagged, and is
        tagged only on the ownership verdict's word (proof, or an administrator's opt-in)."""
        if ownership.Act.TAG not in verdict.may or steps.owner_tags_state(self.d, podeip, eip) != "untagged":
            return
        await self.d.cloud.tag_eips([eip.allocation_id], tags=steps.owner_tags(self.d, podeip))
        message = f"EIP {eip.allocation_id} tagged as managed by this PodEIP ({verdict.reason})"
        await self.d.events.normal(podeip_ref(podeip), reason=c.EV_ADOPTED, message=message)

    async def left_alone(self, podeip: PodEIP, verdict: ownership.Verdict) -> None:
        """One EIP, one PodEIP: this PodEIP does nothing to its EIP; a condition and a Warning
        (on the PodEIP only: the pod of another PodEIP is not ours to change) say why."""
        message = f"EIP {podeip.spec.allocation_id}: {verdict.reason}; nothing is done to it"
        reason = verdict.event or c.EV_CONFLICT
        self.status(podeip, {}, ready=("False", reason, message))
        # Once per finding, not on every resync.
        if self.memory.new_report(podeip.metadata.uid or "", reason + message):
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)

    async def tell_once(self, pod: PodView, reason: str, message: str) -> None:
        await tell_once(self.d, self.memory, pod, reason, message)


async def tell_once(d: Deps, memory: Memory, pod: PodView, reason: str, message: str) -> None:
    """A Warning on the pod, once per finding."""
    if memory.new_report(pod.uid, reason + message):
        await d.events.warning(pod_ref(pod), reason=reason, message=message)
