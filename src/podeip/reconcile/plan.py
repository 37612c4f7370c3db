"""The next step of a reconcile pass, as one pure decision: ``plan(observed) -> Step``.

A pass is observe → plan → act, repeated until a step ends the pass (issue 12): ``plan``
looks at what the pass has observed so far (the pod, the PodEIP, the EIP's last look, the
claim, the ENI of the pod IP, the clock's ``now``, the settings and what the operator
remembers) and names the binding's state and the one next action with its parameters. The
acting code (``binding.py``, ``teardown.py``, ``podeip.py``) carries it out: a read fills in a
fact and the pass plans again; a mutating cloud call is at most one per step, and most end the
pass with a ``Requeue`` (waits are requeues, never sleeps). No I/O here, no clock of its own:
like :func:`podeip.domain.release.decide` (which it calls) it is a table, and
``tests/unit/reconcile/test_plan.py`` is that table.

It lives in ``reconcile/`` rather than ``domain/`` because it reads the cloud's models
(``Eip``, ``Eni``), which the domain layer may not import (``pyproject.toml``, import-linter).

The safety rules it keeps, in the order they apply:

- ownership first (:mod:`podeip.domain.ownership`): an Auto EIP not provably this PodEIP's is
  left alone (``REFUSE``); an untagged one with proof is tagged (``TAG``) before anything else;
- R3: ``ALLOCATE`` looks for an EIP tagged for this PodEIP first, unless this process created
  the PodEIP and never allocated for it (``Observed.fresh_podeip``);
- R7: a Static EIP is claimed before it is looked at; one bound to something we did not bind
  is never taken (``WAIT`` with ``EipConflict``);
- R6: ``UNBIND`` only on a fresh look (at most ``FRESH`` old) and only the association this
  PodEIP recorded for its UID, which the cloud still shows;
- R10 and R1 are the act's: ``ASSOCIATE`` re-reads the pod, then records the target, then calls;
- an EIP that a Describe does not find is lost only when two looks ``LOST_CONFIRM`` apart miss it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.cloud.models import NETWORK_INTERFACE, Eip, EipStatus, Eni
from podeip.domain import ownership, release
from podeip.reconcile import records
from podeip.reconcile.looks import BUSY_REASONS, BUSY_STATES, FRESH, STEADY, TERMINATING
from podeip.settings import Settings

#: Waiting for something only a human or another pod can change (seconds).
SLOW_RETRY = 30.0
#: An EIP is taken as lost only when two looks this far apart do not find it (seconds).
LOST_CONFIRM = 5.0
#: Seconds a first bind's short waits (no pod IP yet, the EIP associating) stay unshown:
#: longer than either usually lasts, short enough to tell a user early (``shows_anything``).
QUIET = 5.0
#: Seconds between looks (at what is remembered: no request) at a pod IP another EIP still has.
HELD_RETRY = 2.0


class State(StrEnum):
    """Where a PodEIP's binding stands, as far as the pass has seen."""

    #: Facts are still missing: the step is a read (EIP, ENI, claim, owner) or the pass's
    #: bookkeeping of the pod (podLastSeen, first seen gone, expiry warning).
    OBSERVING = "Observing"
    #: No PodEIP with the pod's name: create one if the pod asks (creation reports the rest).
    NO_PODEIP = "NoPodEIP"
    #: A PodEIP another controller (AENC, Terway's migration) made: no pod UID recorded yet.
    POD_UNRECORDED = "PodUnrecorded"
    #: A same-name pod of the same owner is back for a kept EIP.
    REBORN = "Reborn"
    #: The pod is not scheduled or has no IP: no cloud call yet.
    WAITING_FOR_POD_IP = "WaitingForPodIP"
    #: Auto, no EIP recorded: allocate (after the tag lookup, R3).
    UNALLOCATED = "Unallocated"
    #: Static, the claim not taken by this pass yet.
    UNCLAIMED = "Unclaimed"
    #: Static, another PodEIP holds the claim.
    CLAIMED_BY_OTHER = "ClaimedByOther"
    #: The recorded EIP was not found, not yet confirmed.
    MISSING = "Missing"
    #: The recorded EIP was not found twice, ``LOST_CONFIRM`` apart.
    LOST = "Lost"
    #: Our PodEIP's type or Static EIP was edited after creation: nothing is done from it.
    SPEC_EDITED = "SpecEdited"
    #: The EIP's ownership verdict says it is not this PodEIP's: nothing is done to it.
    NOT_OURS = "NotOurs"
    #: An untagged Auto EIP with proof (or the administrator's opt-in): tag it.
    ADOPTABLE = "Adoptable"
    #: The cloud's own transitions: wait for them.
    ASSOCIATING = "Associating"
    UNASSOCIATING = "Unassociating"
    RELEASING = "Releasing"
    #: Ours and Available, the pod present: join the bandwidth package, find the ENI, associate.
    ALLOCATED_AVAILABLE = "AllocatedAvailable"
    #: Ours and Available, and the pod's IP still has another EIP (a pod gone had the IP).
    IP_HELD = "PodIPHeld"
    #: Bound to this pod's IP: show it.
    BOUND = "Bound"
    #: Bound to something else (an older pod IP we recorded: unbind; anything else: never taken).
    BOUND_ELSEWHERE = "BoundElsewhere"
    #: The pod is gone and the EIP still bound where we recorded: unbind at once.
    UNBINDING = "Unbinding"
    #: The pod is gone and the release matrix ends the PodEIP (Follow, TTL run out, expiry, cascade).
    ENDING = "Ending"
    #: The pod is gone and the EIP is kept (TTL running, Never, fail-safe keep).
    KEPT = "Kept"
    #: The PodEIP is being deleted and holds an EIP of ours: release (Auto) or let go (Static).
    DELETING = "Deleting"
    #: The PodEIP is being deleted and nothing of ours is left: remove the finalizer.
    FINALIZING = "Finalizing"


class Do(StrEnum):
    """The next action. Reads and bookkeeping continue the pass; the others are acts."""

    NOTHING = "Nothing"
    CREATE = "CreatePodEIP"
    #: Record the pod's UID on the PodEIP (``Step.reborn``: and its new release strategy).
    TAKE_POD = "TakePod"
    #: Bookkeeping once per pass: edits reported and podLastSeen (pod present), or the refusal,
    #: the first-seen-gone moment and the expiry Events (pod gone).
    NOTE = "Note"
    LOOK = "LookAtEip"
    LOOK_OWNER = "LookAtOwner"
    READ_CLAIM = "ReadClaim"
    FIND_ENI = "FindEni"
    LIST_HELD = "ListHeldEips"
    ALLOCATE = "Allocate"
    CLAIM = "Claim"
    TAG = "Tag"
    JOIN = "JoinBandwidthPackage"
    ASSOCIATE = "Associate"
    UNBIND = "Unbind"
    RELEASE = "Release"
    #: Auto, lost out of band: forget it (new attempt) and allocate anew.
    FORGET_LOST = "ForgetLost"
    #: Teardown: an EIP not ours is left untouched (an Event), the next one is looked at.
    PRESERVE = "Preserve"
    #: Teardown: nothing to do to this EIP (Static, or bound by someone else), the next one.
    SKIP = "Skip"
    SHOW_BOUND = "ShowBound"
    #: Show ``reason``/``message`` (if any) and end the pass: look again after ``after``
    #: seconds, at the learnt poll when ``poll`` is set, or at the next event when neither.
    WAIT = "Wait"
    #: Leave the EIP alone (condition, one Warning) and look again after ``after``.
    REFUSE = "Refuse"
    DELETE_PODEIP = "DeletePodEIP"
    KEEP = "Keep"
    DROP_FINALIZER = "DropFinalizer"


@dataclass(frozen=True)
class Seen:
    """A look at the recorded EIP in this pass (``eip`` None: the cloud did not find it)."""

    eip: Eip | None
    #: Taken with ``max_age=FRESH`` (good enough to unbind on, R6).
    fresh: bool = False
    #: Taken with at most ``STEADY`` (not a terminating pod's ``TERMINATING``): good enough to
    #: tag an EIP on (adoption, a mutation of an EIP not yet ours).
    steady: bool = True


@dataclass(frozen=True)
class Observed:
    """What the pass knows. Fields left at their default are not observed yet."""

    podeip: PodEIP | None
    pod: PodView | None
    now: datetime
    settings: Settings
    cluster_id: str
    #: The pod asks for this PodEIP's EIP (any request; a Static one names it).
    asks_for: bool = False
    seen: Seen | None = None
    #: Seconds since the recorded EIP was first not found (memory).
    missing_for: float | None = None
    #: Static: the claim, as taken (pod present) or read (pod gone, teardown), and its holder.
    claim: tuple[ownership.Claim, str] | None = None
    eni_looked: bool = False
    #: The ENI that holds the pod IP (when ``eni_looked``; None: no ENI holds it).
    pod_eni: Eni | None = None
    #: (when ``eni_looked``) Another EIP seen on the pod IP: its allocation ID ("": none), and
    #: for how long the passes have found it there (seconds, memory).
    ip_held_by: str = ""
    ip_held_for: float = 0.0
    #: Cascade reclaim applies and the recorded owner is deleted.
    owner_deleted: bool | None = None
    noted: bool = False
    #: This pass joined the bandwidth package already.
    joined: bool = False
    #: Memory: this process created the Auto PodEIP and has not allocated for it yet (R3).
    fresh_podeip: bool = False
    #: Memory: successful associate/join calls to repeat with a new token ("associate", "join").
    rounds: Mapping[str, int] = field(default_factory=dict)
    #: Teardown: the EIPs this PodEIP may hold, and those this pass is done with.
    held: tuple[Eip, ...] | None = None
    handled: frozenset[str] = frozenset()
    #: EIPs this pass tagged (adopted): a look that does not show the tags yet is a moment
    #: behind, not a reason to tag again.
    tagged: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    state: State
    do: Do
    eip: Eip | None = None
    max_age: float = FRESH
    #: ALLOCATE: look for an EIP tagged for this PodEIP first (R3).
    lookup: bool = True
    reborn: bool = False
    #: JOIN/ASSOCIATE: the round that goes into the ClientToken.
    round: int = 0
    eni: Eni | None = None
    eni_id: str = ""
    verdict: ownership.Verdict | None = None
    decision: release.Decision | None = None
    #: What is shown (condition, pod gate, and a Warning when ``warn``): catalogue reasons only.
    reason: str = ""
    message: str = ""
    warn: bool = False
    after: float | None = None
    poll: str = ""
    #: WAIT with ``after``: part of a bind in flight (another EIP's unbind awaited): the key is
    #: served first when due, and the allocation is told with the bound Event.
    in_flight: bool = False
    #: Why the pass requeues (log only).
    note: str = ""
    #: KEEP/DELETE_PODEIP: status fields to show.
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: KEEP: the EIP is unbound, the binding record goes.
    clear_binding: bool = False


_BUSY = {
    EipStatus.ASSOCIATING: State.ASSOCIATING,
    EipStatus.UNASSOCIATING: State.UNASSOCIATING,
    EipStatus.RELEASING: State.RELEASING,
}


def _spec_edited(podeip: PodEIP) -> bool:
    """The spec no longer matches the request frozen at creation (type, or the Static EIP named)."""
    frozen = records.frozen_request(podeip)
    return frozen is not None and (
        frozen.allocation_type is not podeip.spec.allocation_type.type
        or bool(frozen.allocation_id and frozen.allocation_id != podeip.spec.allocation_id)
    )


def _slow(state: State, reason: str, message: str, *, note: str, eip: Eip | None = None) -> Step:
    """Wait for what only a human or another pod can change: shown, warned, looked at again slowly."""
    return Step(
        state, Do.WAIT, eip=eip, reason=reason, message=message, warn=True, after=SLOW_RETRY, note=note
    )


def plan(o: Observed) -> Step:
    podeip, pod = o.podeip, o.pod
    if podeip is None:
        return Step(State.NO_PODEIP, Do.CREATE if pod is not None else Do.NOTHING)
    if podeip.metadata.deletion_timestamp is not None:
        return _teardown(o, podeip)
    if _spec_edited(podeip):
        # Our PodEIP's spec was edited after creation (S26; the chart's admission policy refuses
        # it, this guards clusters without it): nothing is done from it (found by the model test).
        message = "spec.allocationType or allocationID differs from the pod's request: edits are not applied"
        return _slow(
            State.SPEC_EDITED, c.EV_CONFLICT, message, note="PodEIP spec differs from its frozen request"
        )
    gate = _gate(o, podeip)
    if gate is not None:
        return gate
    if not podeip.annotations.get(c.ANN_POD_UID) and pod is not None and not pod.is_gone and o.asks_for:
        return Step(State.POD_UNRECORDED, Do.TAKE_POD)
    if o.owner_deleted is None:
        return Step(State.OBSERVING, Do.LOOK_OWNER)
    kind, strategy = records.kind_of_strategy(podeip)
    decision = release.decide(
        allocation_type=kind,
        strategy=strategy,
        release_after=podeip.spec.allocation_type.release_after,
        pod=release.pod_presence(
            pod=pod,
            recorded_uid=podeip.annotations.get(c.ANN_POD_UID, ""),
            recorded_owner=podeip.annotations.get(c.ANN_OWNER, ""),
            asks_for_eip=o.asks_for,
        ),
        gone_since=records.gone_since_of(podeip),
        now=o.now,
        kept_expiry=o.settings.kept_eip_expiry,
        owner_deleted=o.owner_deleted,
    )
    if decision.action is release.Action.ASSOCIATE and pod is not None:
        return Step(State.REBORN, Do.TAKE_POD, reborn=True, decision=decision)
    if not o.noted:
        return Step(State.OBSERVING, Do.NOTE, decision=decision)
    if decision.action is release.Action.KEEP_ASSOCIATED and pod is not None:
        return _bind(o, podeip, pod)
    return _let_go(o, podeip, decision)


# ---- ownership ----------------------------------------------------------------------------------
def judge(
    o: Observed,
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
            cluster_id=o.cluster_id,
            tags=eip.tags,
            status=eip.status.value,
            recorded_for=recorded.podeip_uid if recorded else None,
            record_shown=recorded is not None and recorded.holds(eip),
            on_live_pod=on_live_pod,
            adoption_opted_in=o.settings.adopt_untagged_eips,
            claim=claim[0],
            claim_holder=claim[1],
        )
    )


def may_unbind(podeip: PodEIP, eip: Eip, verdict: ownership.Verdict) -> bool:
    """R6: the verdict allows it, and the cloud shows the EIP where this PodEIP recorded."""
    binding = records.binding_of(podeip)
    return ownership.Act.UNASSOCIATE in verdict.may and binding is not None and binding.holds(eip)


def _age(o: Observed, podeip: PodEIP) -> float:
    """Seconds since the PodEIP was created (``QUIET`` when unknown: nothing is kept quiet)."""
    created = podeip.metadata.creation_timestamp
    return QUIET if created is None else max(0.0, (o.now - created).total_seconds())


def shows_anything(podeip: PodEIP, pod: PodView) -> bool:
    """Whether the PodEIP or the pod shows any binding state yet. A first binding shows nothing
    until bound (one status write, one pod write), or a wait once it lasts longer than
    ``QUIET`` (no pod IP yet, the EIP still associating), or a failure. Nothing shown is not
    ready: an absent readiness-gate condition counts as False (Kubernetes' pod readiness), no
    address annotation is written, and the PodEIP has no Ready condition and no address."""
    status = podeip.status
    if status is not None and (
        status.eip_address or any(x.type == c.COND_READY for x in status.conditions or ())
    ):
        return True
    if any(pod.annotations.get(key) for key in c.ALLOCATED_EIP_ADDRESS_KEYS):
        return True
    return any(cond.type == c.READINESS_GATE for cond in pod.conditions)


def _steady(o: Observed) -> float:
    """How old a look may be for a pod that is there: ``STEADY``, or ``TERMINATING`` once the
    pod is being deleted (its binding stays until it is gone, and nothing a look could show
    would be done for it now; its deletion's pass then looks fresh before the unbind, R6)."""
    return TERMINATING if o.pod is not None and o.pod.is_terminating else STEADY


def _gate(o: Observed, podeip: PodEIP) -> Step | None:
    """Before any other step on an Auto PodEIP's EIP: adopt an untagged EIP with proof, and
    leave alone one that another PodEIP's tags name or that has no proof. (Static EIPs go by
    their claim.) None: go on."""
    if podeip.spec.allocation_type.type is not AllocationType.AUTO or not podeip.spec.allocation_id:
        return None
    if o.seen is None:
        # The pod gone, the look after the gate must be fresh (R6, before an unbind): one look
        # serves both, and a far Unassociate slot is reserved before it (looks.Looks.eip).
        gone = o.pod is None or o.pod.is_gone
        return Step(State.OBSERVING, Do.LOOK, max_age=FRESH if gone else _steady(o))
    eip, pod = o.seen.eip, o.pod
    if eip is None:
        return None  # the binding path confirms a missing EIP and allocates anew (or not)
    verdict = judge(o, podeip, eip)
    live = pod is not None and not pod.is_gone and bool(pod.pod_ip) and eip.status is EipStatus.IN_USE
    if verdict.standing is ownership.Standing.NOT_ADOPTED and live and pod is not None:
        # The proof: the cloud shows the EIP bound to exactly this live pod's IP.
        known, eni_id = eni_on_pod(o, podeip, pod, eip)
        if not known:
            return Step(State.OBSERVING, Do.FIND_ENI)
        if eni_id:
            verdict = judge(o, podeip, eip, on_live_pod=True)
    if verdict.standing is ownership.Standing.ADOPT:
        if not o.seen.steady:  # a terminating pod's long-remembered look: not to tag on
            return Step(State.OBSERVING, Do.LOOK, max_age=STEADY)
        return _tag(o, eip, verdict)
    if verdict.standing is not ownership.Standing.OURS:
        return Step(
            State.NOT_OURS, Do.REFUSE, eip=eip, verdict=verdict, after=SLOW_RETRY, note="EIP not ours"
        )
    return None


def _tag(o: Observed, eip: Eip, verdict: ownership.Verdict) -> Step:
    """Tag an adoptable EIP, once per pass: one this pass tagged whose look does not show the
    tags yet is looked at again a moment later (not tagged again at every step)."""
    if eip.allocation_id in o.tagged:
        return Step(State.ADOPTABLE, Do.WAIT, eip=eip, after=LOST_CONFIRM, note="tags not shown yet")
    return Step(State.ADOPTABLE, Do.TAG, eip=eip, verdict=verdict)


# ---- the pod is there -----------------------------------------------------------------------
def _bind(o: Observed, podeip: PodEIP, pod: PodView) -> Step:
    if not pod.pod_ip or not pod.node_name:
        # No cloud call before the pod is scheduled and has its IP (seed 000: the EIP comes
        # "after a pod IP address is allocated"): an EIP for a pod that may never run is
        # billed and takes quota. The pod's next event (its IP) brings it back.
        # A first bind shows the wait only once it lasts (QUIET): kwok, Terway and the CNI
        # give the IP within a moment, and a condition and a pod gate written for that moment
        # are two requests per pod in a burst (BENCHMARKS.md). The IP's event comes sooner.
        age = _age(o, podeip)
        if age < QUIET and not shows_anything(podeip, pod):
            return Step(State.WAITING_FOR_POD_IP, Do.WAIT, after=QUIET - age, note="the pod has no IP yet")
        return Step(
            State.WAITING_FOR_POD_IP, Do.WAIT, reason=c.EV_WAITING_FOR_POD_IP, message="the pod has no IP yet"
        )
    kind = podeip.spec.allocation_type.type
    allocation_id = podeip.spec.allocation_id
    if kind is AllocationType.AUTO and not allocation_id:
        return Step(State.UNALLOCATED, Do.ALLOCATE, lookup=not o.fresh_podeip)
    if kind is AllocationType.STATIC:
        if o.claim is None:
            return Step(State.UNCLAIMED, Do.CLAIM)
        if o.claim[0] is not ownership.Claim.MINE:
            message = f"EIP {allocation_id} is claimed by pod {o.claim[1].rpartition('/')[0]}; waiting"
            return _slow(
                State.CLAIMED_BY_OTHER, c.EV_CLAIMED_BY_OTHER, message, note="EIP claimed by another pod"
            )
    if o.seen is None:
        return Step(State.OBSERVING, Do.LOOK, max_age=_steady(o))
    eip = o.seen.eip
    if eip is None:
        return _missing(o, podeip)
    if (
        ownership.tag_state(eip.tags, cluster_id=o.cluster_id, podeip_uid=podeip.metadata.uid or "")
        == "foreign"
    ):
        # A Static EIP (an Auto one was judged by the gate).
        verdict = judge(o, podeip, eip)
        return Step(
            State.NOT_OURS, Do.REFUSE, eip=eip, verdict=verdict, after=SLOW_RETRY, note="EIP not ours"
        )
    if eip.status in BUSY_STATES:
        return Step(
            _BUSY[eip.status],
            Do.WAIT,
            eip=eip,
            reason=BUSY_REASONS[eip.status],
            message=f"EIP {allocation_id} is {eip.status}",
            poll=eip.status.value,
        )
    if eip.status is EipStatus.IN_USE:
        return _in_use(o, podeip, pod, eip)
    # Available (and ours): join the bandwidth package, find the ENI of the pod IP, associate.
    package = podeip.spec.bandwidth_package_id
    if package and eip.bandwidth_package_id != package and not o.joined:
        return Step(State.ALLOCATED_AVAILABLE, Do.JOIN, eip=eip, round=o.rounds.get("join", -1) + 1)
    if not o.eni_looked:
        return Step(State.OBSERVING, Do.FIND_ENI)
    if o.pod_eni is None:
        return _slow(
            State.ALLOCATED_AVAILABLE,
            c.EV_NO_ENI,
            f"no ENI in the VPC holds pod IP {pod.pod_ip}",
            note="no ENI for the pod IP",
            eip=eip,
        )
    if o.ip_held_by:
        # Alibaba gives a private IP one EIP: the IP of a pod gone, given to this pod while
        # that pod's EIP is still there, is waited for (that PodEIP's pass unbinds it), not
        # tried (InvalidAssociation.Duplicated spends an Associate slot and backs off).
        note = "pod IP still has another EIP"
        if o.ip_held_for < QUIET and not shows_anything(podeip, pod):
            return Step(State.IP_HELD, Do.WAIT, eip=eip, after=HELD_RETRY, in_flight=True, note=note)
        message = f"pod IP {pod.pod_ip} still has EIP {o.ip_held_by}; waiting for it to be unbound"
        return Step(
            State.IP_HELD,
            Do.WAIT,
            eip=eip,
            reason=c.EV_POD_IP_STILL_BOUND,
            message=message,
            after=HELD_RETRY,
            in_flight=True,
            note=note,
        )
    association = o.rounds.get("associate", -1) + 1
    if association == 0 and was_bound_to(podeip, pod, o.pod_eni.eni_id):
        # Bound here before, unbound since, and this process does not remember the round
        # (a restart): round 0's token was spent on the first binding, and Alibaba would
        # answer it as a replay and bind nothing. The EIP is Available, so no earlier call
        # of ours is pending for it: any token not used before is safe, and the time is one.
        association = int(o.now.timestamp())
    return Step(State.ALLOCATED_AVAILABLE, Do.ASSOCIATE, eip=eip, eni=o.pod_eni, round=association)


def _in_use(o: Observed, podeip: PodEIP, pod: PodView, eip: Eip) -> Step:
    known, eni_id = eni_on_pod(o, podeip, pod, eip)
    if not known:
        return Step(State.OBSERVING, Do.FIND_ENI)
    if eni_id:
        return Step(State.BOUND, Do.SHOW_BOUND, eip=eip, eni_id=eni_id)
    assert o.seen is not None
    if not o.seen.fresh:
        return Step(State.OBSERVING, Do.LOOK, max_age=FRESH)  # a fresh look before unbinding (R6)
    # A Static PodEIP got here only holding the claim.
    static = podeip.spec.allocation_type.type is AllocationType.STATIC
    claim = ownership.Claim.MINE if static else ownership.Claim.NONE
    verdict = judge(o, podeip, eip, claim=(claim, ""))
    if may_unbind(podeip, eip, verdict):
        return Step(
            State.BOUND_ELSEWHERE,
            Do.UNBIND,
            eip=eip,
            verdict=verdict,
            note="unbinding from the previous pod IP",
        )
    where = f"{eip.instance_type} {eip.instance_id} {eip.private_ip_address}".strip()
    message = f"EIP {eip.allocation_id} is bound to {where}, not by us; it is never taken away"
    return _slow(State.BOUND_ELSEWHERE, c.EV_CONFLICT, message, note="EIP bound elsewhere", eip=eip)


def _missing(o: Observed, podeip: PodEIP) -> Step:
    """The recorded EIP is not found. Only two looks apart, and no EIP tagged for this
    PodEIP, make it lost: a Describe that briefly misses an EIP must not cause a second one."""
    if o.missing_for is None or o.missing_for < LOST_CONFIRM:
        return Step(State.MISSING, Do.WAIT, after=LOST_CONFIRM, note="EIP not found; looking again")
    static = podeip.spec.allocation_type.type is AllocationType.STATIC
    if static or records.frozen_request(podeip) is None:
        # A Static EIP is the user's; an adopted PodEIP has no request to allocate anew with.
        return _slow(
            State.LOST,
            c.EV_EIP_NOT_FOUND,
            f"EIP {podeip.spec.allocation_id} no longer exists",
            note="EIP missing",
        )
    return Step(State.LOST, Do.FORGET_LOST)


def eni_on_pod(o: Observed, podeip: PodEIP, pod: PodView, eip: Eip) -> tuple[bool, str | None]:
    """(known, the ENI through which the EIP is bound to this pod's IP or None if elsewhere).

    Private IPs are unique in a VPC, so an ENI binding to the pod's current IP is this pod's.
    An exclusive ENI bound by its primary IP reports no private IP: then the ENI that holds
    the pod IP must be the bound instance (not known until ``FIND_ENI``)."""
    if eip.instance_type and eip.instance_type != NETWORK_INTERFACE:
        return True, None
    if eip.private_ip_address:
        return True, (eip.instance_id if eip.private_ip_address == pod.pod_ip else None)
    binding = records.binding_of(podeip)
    if binding and binding.primary and binding.eni_id == eip.instance_id and binding.private_ip == pod.pod_ip:
        return True, eip.instance_id
    if not o.eni_looked:
        return False, None
    eni = o.pod_eni
    if eni and eni.eni_id == eip.instance_id and eni.primary_ip == pod.pod_ip:
        return True, eni.eni_id
    return True, None


def was_bound_to(podeip: PodEIP, pod: PodView, eni_id: str) -> bool:
    """The PodEIP's status shows its EIP bound to this pod IP on this ENI (from a pass that
    saw it InUse there): an association to this target has been made before."""
    status = podeip.status
    return bool(
        status
        and status.eip_address
        and status.private_ip_address == pod.pod_ip
        and status.network_interface_id == eni_id
    )


# ---- the pod is gone -----------------------------------------------------------------------------
def _let_go(o: Observed, podeip: PodEIP, decision: release.Decision) -> Step:
    """Unbind at once (whatever the strategy), then delete the PodEIP, wait for the TTL, or keep."""
    allocation_id = podeip.spec.allocation_id
    eip: Eip | None = None
    if allocation_id:
        if o.seen is None or not o.seen.fresh:
            return Step(State.OBSERVING, Do.LOOK, max_age=FRESH)
        eip = o.seen.eip
    left_alone: ownership.Verdict | None = None
    if eip is not None and eip.status in BUSY_STATES:
        return Step(_BUSY[eip.status], Do.WAIT, eip=eip, poll=eip.status.value)
    if eip is not None and eip.status is EipStatus.IN_USE:
        claim = _claim_needed(o, podeip)
        if claim is None:
            return Step(State.OBSERVING, Do.READ_CLAIM)
        verdict = judge(o, podeip, eip, claim=claim)
        if may_unbind(podeip, eip, verdict):
            return Step(
                State.UNBINDING, Do.UNBIND, eip=eip, verdict=verdict, decision=decision, note="unassociating"
            )
        if verdict.standing is ownership.Standing.HELD_BY_OTHER:  # a Static EIP another PodEIP holds
            left_alone = verdict
    fields: dict[str, Any] = {"privateIPAddress": None, "networkInterfaceID": None}
    if eip is not None:
        fields |= records.observed_status(eip)
    # podLastSeen shows the moment the TTL runs from.
    seen_gone = records.gone_since_of(podeip) or decision.last_seen
    if seen_gone is not None:
        fields["podLastSeen"] = seen_gone
    if decision.action in (release.Action.RELEASE, release.Action.UNASSOCIATE_AND_FORGET):
        return Step(
            State.ENDING,
            Do.DELETE_PODEIP,
            eip=eip,
            verdict=left_alone,
            decision=decision,
            fields=fields,
            reason=c.EV_RELEASING,
            message="the pod is gone",
        )
    strategy = podeip.spec.allocation_type.release_strategy
    reason = c.EV_WAITING_FOR_TTL if strategy is ReleaseStrategy.TTL else c.EV_POD_GONE
    message = f"the pod is gone; EIP {allocation_id} is kept ({strategy})"
    if (until := decision.expires_at or decision.next_check) is not None:
        message += f" until {until.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    clear = (
        eip is not None
        and eip.status is EipStatus.AVAILABLE
        and bool(podeip.annotations.get(records.ANN_BINDING))
    )
    after = None
    if decision.next_check is not None:
        after = max((decision.next_check - o.now).total_seconds(), 0.0) + 0.5
    return Step(
        State.KEPT,
        Do.KEEP,
        eip=eip,
        verdict=left_alone,
        decision=decision,
        fields=fields,
        reason=reason,
        message=message,
        clear_binding=clear,
        after=after,
        note=reason,
    )


def _claim_needed(o: Observed, podeip: PodEIP) -> tuple[ownership.Claim, str] | None:
    """The claim to judge a Static EIP with (None: read it first); none for other PodEIPs."""
    if podeip.spec.allocation_type.type is not AllocationType.STATIC or not podeip.spec.allocation_id:
        return ownership.Claim.NONE, ""
    return o.claim


# ---- the PodEIP is being deleted ---------------------------------------------------------------------
def _teardown(o: Observed, podeip: PodEIP) -> Step:
    """Never gives up (R4): the finalizer goes only when no EIP of ours is left. An EIP that is
    not this PodEIP's gets no mutating call at all; an Auto EIP bound by someone else is
    neither taken nor released, and the PodEIP waits."""
    if o.held is None:
        return Step(State.OBSERVING, Do.LIST_HELD)
    auto = podeip.spec.allocation_type.type is AllocationType.AUTO
    for eip in o.held:
        if eip.allocation_id in o.handled:
            continue
        if eip.status in BUSY_STATES:
            return Step(_BUSY[eip.status], Do.WAIT, eip=eip, poll=eip.status.value)
        claim = _claim_needed(o, podeip)
        if claim is None:
            return Step(State.OBSERVING, Do.READ_CLAIM)
        verdict = judge(o, podeip, eip, claim=claim)
        if verdict.standing is ownership.Standing.ADOPT:  # opted in: adopted, then as ours
            return _tag(o, eip, verdict)
        if verdict.standing is not ownership.Standing.OURS:
            # Another PodEIP's, never adopted, or unclaimed: no call at all.
            message = f"EIP {eip.allocation_id} left untouched: {verdict.reason}"
            return Step(
                State.NOT_OURS, Do.PRESERVE, eip=eip, verdict=verdict, reason=c.EV_PRESERVED, message=message
            )
        if eip.status is EipStatus.IN_USE:
            if may_unbind(podeip, eip, verdict):
                return Step(
                    State.UNBINDING, Do.UNBIND, eip=eip, verdict=verdict, note="unassociating before release"
                )
            if not auto:
                return Step(State.BOUND_ELSEWHERE, Do.SKIP, eip=eip)  # Static: not ours to unbind
            message = (
                f"EIP {eip.allocation_id} is bound to {eip.instance_id}, which this PodEIP did not "
                "bind; it is neither taken away nor released; unbind it to let the PodEIP go"
            )
            return _slow(
                State.BOUND_ELSEWHERE, c.EV_FAILED_RELEASE, message, note="EIP bound elsewhere", eip=eip
            )
        if auto:
            return Step(State.DELETING, Do.RELEASE, eip=eip)
        return Step(State.DELETING, Do.SKIP, eip=eip)
    return Step(State.FINALIZING, Do.DROP_FINALIZER)
