"""The periodic garbage collector: a diff of the cloud against the view, and the orphan sweep,
failing closed.

Every ``garbageCollectionPeriodInMinutes``:

1. List the cloud's EIPs that carry our cluster tag (all pages) **before** listing PodEIPs, so
   that an EIP allocated between the two lists is protected by its grace period (R8).
2. Compare (``needs_pass``) each PodEIP of the watch-fed view (k8s/view.py) with that listing,
   and enqueue only those whose cloud state differs from what the PodEIP and its pod show, and
   those with time-based work (being deleted, pod gone: TTL expiry, kept-EIP expiry, cascade;
   not yet allocated; their EIP missing from the listing). At rest that is none: one listing per
   period, and no Kubernetes request. The listing is handed to the reconciler as a fresh
   observation, so an enqueued pass costs no Describe. A Static EIP is the user's and not in our
   tagged listing: one shown bound to its running pod is not enqueued (a change out of band on
   it is seen on the pod's next event, or at a restart). Without the cloud listing, only the
   time-based work is enqueued. Without a view (``podeip gc``, which has no watch) the PodEIPs
   come from the API server and nothing is enqueued that a pass would serve.
   The same diff serves the start-up (``changed_at_start``, then ``still_to_check``): after a
   restart or a takeover, the PodEIPs the view's start-up brought are compared with the warm-up
   listing, and only those that need a pass get one (pods gone or new first), plus every
   Static one.
3. Orphans (issue 10: a tag alone is never proof of orphanhood): EIPs tagged with our cluster
   and managed-by that **no PodEIP's** ``spec.allocationID`` names, whatever their
   ``podeip-uid`` tag says, whose PodEIP UID is unknown (or known, but that PodEIP records
   another allocation), allocated longer than the grace period ago, and ``Available``. Only
   when the view shows candidates are PodEIPs listed **from the API server** (not the view,
   after the cloud listing), and the candidates found again from that listing alone: nothing
   is released on the view's word. An EIP this process changed since the cloud listing began
   (a teardown's Unassociate or Release) is ours in flight, never a candidate (``_unchanged``).
   An EIP that a PodEIP names but whose ``podeip-uid`` tag names none of the PodEIPs naming it
   (a tag changed out of band) is a *tag mismatch*: reported (a Warning ``EipTagMismatch`` on
   each PodEIP naming it, the gauge ``podeip_eips{state="tag_mismatch"}``, and ``podeip gc
   --dry-run`` lists it) and never "repaired" by release. The sweep stops when a list failed,
   when there are tagged EIPs but no PodEIPs at all, or when the candidates exceed the cap
   ``max(3, fraction × tagged)``: in each case something is more likely wrong with our view
   than with the cloud. The same cap is a budget of releases per sliding hour (kept in the
   process, so a restart starts a new hour), so a steady trickle of "orphans" cannot drain the
   account either. ``InUse`` orphans are reported, never touched. The same code runs as
   ``podeip gc`` (with ``--dry-run``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP
from podeip.api.pods import PodView
from podeip.cloud.models import Eip, EipStatus
from podeip.cloud.observed import ObservedEips
from podeip.domain import tokens
from podeip.reconcile import records, steps
from podeip.reconcile.deps import Deps, log_fields, podeip_ref
from podeip.reconcile.queue import Key

logger = logging.getLogger(__name__)


@dataclass
class Sweep:
    """What one pass saw and did."""

    tagged: int = 0
    podeips: int = 0
    candidates: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    in_use_orphans: list[str] = field(default_factory=list)
    #: EIPs a PodEIP names whose podeip-uid tag names none of them: allocation ID → naming PodEIPs.
    tag_mismatches: dict[str, list[str]] = field(default_factory=dict)
    #: Candidates left for a later pass: the hourly release budget was spent.
    deferred: list[str] = field(default_factory=list)
    aborted: str | None = None


#: The window of the release budget.
BUDGET_WINDOW = timedelta(hours=1)


def _orphan_fields(eip: Eip) -> dict[str, str]:
    """Log fields of an orphan: its ID, and the PodEIP UID its tags name (no PodEIP to name)."""
    return log_fields(allocation_id=eip.allocation_id) | {"podeip_uid": eip.tags.get(c.TAG_PODEIP_UID, "")}


async def _list_podeips(d: Deps, sweep: Sweep) -> list[PodEIP] | None:
    """PodEIPs from the API server (never a cache: R8); None, and the sweep aborted, on failure."""
    try:
        bodies = await d.podeips.list()
    except Exception as error:
        sweep.aborted = f"listing PodEIPs failed: {error}"
        logger.error("garbage collection skipped: %s", sweep.aborted)
        return None
    return [PodEIP.model_validate(body) for body in bodies]


def tag_mismatches(eips: list[Eip], podeips: list[PodEIP]) -> dict[str, list[PodEIP]]:
    """The EIPs some PodEIP names whose podeip-uid tag names none of the PodEIPs naming it. Pure."""
    naming: dict[str, list[PodEIP]] = {}
    for podeip in podeips:
        if podeip.spec.allocation_id:
            naming.setdefault(podeip.spec.allocation_id, []).append(podeip)
    found: dict[str, list[PodEIP]] = {}
    for eip in eips:
        holders = naming.get(eip.allocation_id)
        if holders and eip.tags.get(c.TAG_PODEIP_UID) not in {p.metadata.uid for p in holders}:
            found[eip.allocation_id] = holders
    return found


def release_budget(released_at: deque[datetime], *, now: datetime, cap: int) -> int:
    """How many releases the sliding hour still allows (drops the times that left it)."""
    while released_at and now - released_at[0] >= BUDGET_WINDOW:
        released_at.popleft()
    return max(cap - len(released_at), 0)


def _unchanged(d: Deps, eips: list[Eip], listed_at: float | None) -> list[Eip]:
    """The listed EIPs that this process has not changed since the listing began. One it has
    (a teardown's Unassociate or Release, typically: a Follow PodEIP deleted meanwhile, its
    EIP shown ``Available`` and its PodEIP gone by the time PodEIPs are listed) is ours in
    flight, not an orphan: the listing shows what it was, and the next pass sees what it is.
    Without this, such an EIP was "released" as an orphan (a Release answered NotFound, a
    Warning and the orphan metric for our own work: a restart after churn made three)."""
    if listed_at is None or not isinstance(d.cloud, ObservedEips):
        return eips
    cloud = d.cloud
    return [eip for eip in eips if not cloud.changed_since(eip.allocation_id, listed_at)]


def orphan_candidates(
    eips: list[Eip], podeips: list[PodEIP], *, d: Deps, grace: timedelta
) -> tuple[list[Eip], list[Eip]]:
    """(releasable orphans, orphans never touched: in use, deletion-protected or PrePaid) among
    our tagged EIPs. Pure."""
    recorded = {p.metadata.uid: p.spec.allocation_id for p in podeips if p.metadata.uid}
    named = {p.spec.allocation_id for p in podeips if p.spec.allocation_id}
    now = d.clock()
    free: list[Eip] = []
    busy: list[Eip] = []
    for eip in eips:
        tags = eip.tags
        if tags.get(c.TAG_CLUSTER_ID) != d.cluster_id or tags.get(c.TAG_MANAGED_BY) != c.MANAGED_BY:
            continue
        uid = tags.get(c.TAG_PODEIP_UID)
        if not uid or eip.allocation_id in named:
            continue  # a PodEIP names it: never an orphan, whatever the tag says
        if uid in recorded and recorded[uid] in ("", eip.allocation_id):
            continue  # the PodEIP holds it, or has not recorded its allocation yet
        if eip.allocation_time is None or now - eip.allocation_time < grace:
            continue
        releasable = eip.status is EipStatus.AVAILABLE and steps.release_refused(eip) is None
        (free if releasable else busy).append(eip)
    return free, busy


def record_ages(d: Deps, podeips: list[PodEIP]) -> None:
    """The gauges the chart's alerts read: EIPs kept unbound (billed for nothing) and PodEIPs
    stuck terminating, as counts and as the longest age, from the PodEIPs alone."""
    now = d.clock()
    kept = [
        p.status.pod_last_seen
        for p in podeips
        if p.status is not None and p.status.status == EipStatus.AVAILABLE and p.status.pod_last_seen
    ]
    terminating = [p.metadata.deletion_timestamp for p in podeips if p.metadata.deletion_timestamp]
    d.metrics.eips.labels(state="kept").set(len(kept))
    d.metrics.unbound_seconds.set(max(((now - t).total_seconds() for t in kept), default=0.0))
    d.metrics.terminating_seconds.set(max(((now - t).total_seconds() for t in terminating), default=0.0))


#: Reasons of ``needs_pass`` that ``changed_at_start`` serves first: a pod gone (its EIP is unbound at
#: once: its IP may be given to another pod) or a PodEIP being deleted; then one not allocated.
GONE, NOT_ALLOCATED, DELETING = "pod gone or replaced", "not allocated", "being deleted"


def needs_pass(
    podeip: PodEIP,
    pod: PodView | None,
    listed: dict[str, Eip] | None,
    *,
    status_fields: frozenset[str] | None = None,
) -> str | None:
    """Why this PodEIP needs a pass now (None: the cloud listing agrees with what it and its pod
    show, and no time-based work waits). ``listed``: the cloud listing by allocation ID (None:
    it failed). Pure."""
    recorded_pod = podeip.annotations.get(c.ANN_POD_UID, "")
    if podeip.metadata.deletion_timestamp is not None:
        return DELETING
    if pod is None or pod.is_gone or pod.is_terminating or pod.uid != recorded_pod:
        return GONE  # TTL, kept-EIP expiry, cascade, unbinding, a reborn pod
    if not podeip.spec.allocation_id:
        return NOT_ALLOCATED
    if listed is None:
        return None  # nothing to compare with: the watch brings Kubernetes' changes
    status = podeip.status
    if podeip.spec.allocation_type.type is AllocationType.STATIC:
        shown_bound = status is not None and status.status == EipStatus.IN_USE.value
        if shown_bound and status is not None and status.private_ip_address == pod.pod_ip:
            return None
        return "static, not shown bound"
    eip = listed.get(podeip.spec.allocation_id)
    if eip is None:
        return "EIP not in the listing"
    if eip.tags.get(c.TAG_PODEIP_UID) != podeip.metadata.uid:
        return "EIP tagged for another PodEIP"
    if eip.status is not EipStatus.IN_USE or not pod.pod_ip:
        return f"EIP {eip.status}"
    if eip.private_ip_address and eip.private_ip_address != pod.pod_ip:
        return "EIP bound to another IP"
    if podeip.spec.bandwidth_package_id and eip.bandwidth_package_id != podeip.spec.bandwidth_package_id:
        return "not in its bandwidth package"
    shown = records.observed_status(eip) | {
        "eipAddress": eip.ip_address,
        "privateIPAddress": pod.pod_ip,
        "networkInterfaceID": eip.instance_id,
    }
    drift = records.status_changes(podeip, shown)
    if status_fields is not None:
        drift = {key: value for key, value in drift.items() if key in status_fields}
    if drift:
        return f"status differs: {', '.join(sorted(drift))}"
    if any(pod.annotations.get(key) != eip.ip_address for key in c.ALLOCATED_EIP_ADDRESS_KEYS):
        return "the pod does not show the address"
    gate = pod.condition(c.READINESS_GATE)
    if pod.declares_eip_gate and (gate is None or gate.status != "True"):
        return "the pod's gate is not True"
    return None


def _why(d: Deps, key: Key, podeip: PodEIP, by_id: dict[str, Eip] | None) -> str | None:
    """``needs_pass`` on the view's pod. A pod the view cannot vouch for (an unlabelled one a
    selecting watch does not deliver: k8s/view.py) is read by its pass."""
    unsure = d.view.pod_label is not None and d.view.pod_unsure(key)
    pod = None if unsure else d.view.pod(key)
    return needs_pass(podeip, pod, by_id, status_fields=d.status_fields)


def changed_at_start(d: Deps, keys: Iterable[Key]) -> tuple[list[Key], list[Key]]:
    """The keys that need a pass whatever the cloud shows, and the PodEIPs left for the warm-up
    listing to decide (``still_to_check``). First those whose pod is gone (an EIP to unbind) or
    that are being deleted, then new pods (a PodEIP to create) and PodEIPs not allocated yet,
    in ``_paired``'s order: changes made while the operator was down are served first, before
    the listing is in (``app.begin_work``), not after thousands of passes over unchanged
    PodEIPs (BENCHMARKS-scale.md: a restart after churn with 5,000 PodEIPs)."""
    gone: list[Key] = []
    new: list[Key] = []
    rest: list[Key] = []
    for key in dict.fromkeys(keys):  # (in the order they came, once each)
        podeip = d.view.podeip(key)
        if podeip is None:
            if d.view.pod(key) is not None:
                new.append(key)
            continue
        why = _why(d, key, podeip, None)
        if why is not None:
            logger.debug("start-up resync %s/%s: %s", *key, why, extra=log_fields(podeip))
        (gone if why in (GONE, DELETING) else new if why == NOT_ALLOCATED else rest).append(key)
    return _paired(d, gone, new), rest


def still_to_check(d: Deps, eips: list[Eip] | None, keys: Iterable[Key]) -> list[Key]:
    """Of these PodEIPs (their pods there), those that need a pass: every PodEIP is checked
    (R11, R14), but one whose pod and cloud state (the warm-up listing of our tagged EIPs,
    ``app.warm_up``) agree with what it shows is checked by this diff, as the collector checks
    it every period, not by a pass of its own that would look again at an EIP the listing
    showed a moment ago. Without the listing (``eips`` None), and for a Static EIP (not in our
    tagged listing: README, "Garbage collection"), the pass looks."""
    by_id = {e.allocation_id: e for e in eips} if eips is not None else None
    then: list[Key] = []
    for key in keys:
        podeip = d.view.podeip(key)
        if podeip is None:
            continue  # gone since: its deletion was queued
        why = _why(d, key, podeip, by_id)
        if why is None and (by_id is None or podeip.spec.allocation_type.type is AllocationType.STATIC):
            why = "start-up: no listing to compare with" if by_id is None else "start-up: static"
        if why is not None:
            logger.debug("start-up resync %s/%s: %s", *key, why, extra=log_fields(podeip))
            then.append(key)
    return then


def expect_holders(d: Deps, keys: Iterable[Key]) -> None:
    """The EIPs these PodEIPs (their pods gone) recorded bound: the cloud memory takes each as
    its IP's holder until a look says where it is, so that a new pod given one of those IPs
    before any look waits (or looks) instead of an Associate that Alibaba refuses."""
    if not isinstance(d.cloud, ObservedEips):
        return
    for key in keys:
        ip, allocation_id = _recorded(d, key)
        if ip and allocation_id:
            d.cloud.expect_holder(ip, allocation_id)


def _recorded(d: Deps, key: Key) -> tuple[str, str]:
    """The private IP this key's PodEIP recorded its EIP bound to, and that EIP ("": none)."""
    podeip = d.view.podeip(key)
    binding = records.binding_of(podeip) if podeip is not None else None
    if podeip is None or binding is None:
        return "", ""
    return binding.private_ip, podeip.spec.allocation_id


def _paired(d: Deps, gone: list[Key], new: list[Key]) -> list[Key]:
    """The gone pods' PodEIPs and the new pods, in the order their rate-limited calls should go.
    A new pod given a gone pod's IP binds only once that pod's EIP is unbound there (Alibaba
    gives a private IP one EIP). Unassociates and Allocates take their slots in the order the
    passes come, at the same rate: so the gone pods whose IP a new pod has go first, in the
    order of those pods, and new pods whose IP is free go before those that must wait. Then
    each waiting pod's IP is free by the time its Allocate slot comes, and no Associate slot
    goes unused while pods wait (a restart after churn: BENCHMARKS-scale.md)."""

    def pod_ip(key: Key) -> str:
        pod = d.view.pod(key)
        return (pod.pod_ip or "") if pod is not None else ""

    held = {ip: n for n, key in enumerate(gone) if (ip := _recorded(d, key)[0])}
    waiting = sorted((held[ip], key) for key in new if (ip := pod_ip(key)) in held)
    holders = {gone[n] for n, _ in waiting}
    later = {key for _, key in waiting}
    free = [key for key in new if key not in later]
    return [
        *[key for key in gone if key in holders],
        *[key for key in gone if key not in holders],
        *free,
        *[key for _, key in waiting],
    ]


async def run_pass(d: Deps, *, dry_run: bool = False) -> Sweep:
    sweep = Sweep()
    listed_at = d.cloud.now() if isinstance(d.cloud, ObservedEips) else None
    try:
        eips: list[Eip] | None = await d.cloud.describe_eips(
            tags={c.TAG_CLUSTER_ID: d.cluster_id, c.TAG_MANAGED_BY: c.MANAGED_BY}
        )
    except Exception as error:
        eips = None
        sweep.aborted = f"listing the cloud failed: {error}"
    watched = d.view.ready.is_set()  # the operator's view; ``podeip gc`` has none
    if watched:
        podeips = d.view.podeips()
    else:
        listed_podeips = await _list_podeips(d, sweep)
        if listed_podeips is None:
            return sweep
        podeips = listed_podeips
    sweep.podeips = len(podeips)
    record_ages(d, podeips)
    by_id = {e.allocation_id: e for e in eips} if eips is not None else None
    for podeip in podeips:
        key = (podeip.metadata.namespace or "", podeip.metadata.name or "")
        # Without a view (no watch): every PodEIP, as a resync from Kubernetes.
        why = _why(d, key, podeip, by_id) if watched else "resync"
        if why is not None:
            logger.debug("resync %s/%s: %s", *key, why, extra=log_fields(podeip))
            d.enqueue(key)
    if eips is None:
        logger.error("orphan sweep skipped: %s", sweep.aborted)
        return sweep
    if watched:
        # The view may be a moment behind: it only tells whether a fresh listing is worth its
        # cost. Candidates are found again from the API server's listing, taken after the cloud's.
        grace = timedelta(minutes=d.settings.gc.orphan_grace_minutes)
        free, busy = orphan_candidates(_unchanged(d, eips, listed_at), podeips, d=d, grace=grace)
        if free or busy:
            fresh = await _list_podeips(d, sweep)
            if fresh is None:
                return sweep
            podeips = fresh
            sweep.podeips = len(podeips)
    sweep.tagged = len(eips)
    managed = {p.spec.allocation_id for p in podeips if p.spec.allocation_id}
    d.metrics.eips.labels(state="managed").set(len(managed))
    grace = timedelta(minutes=d.settings.gc.orphan_grace_minutes)
    free, busy = orphan_candidates(_unchanged(d, eips, listed_at), podeips, d=d, grace=grace)
    sweep.candidates = [e.allocation_id for e in free]
    sweep.in_use_orphans = [e.allocation_id for e in busy]
    d.metrics.eips.labels(state="orphaned").set(len(free) + len(busy))
    mismatched = tag_mismatches(eips, podeips)
    sweep.tag_mismatches = {
        allocation_id: [f"{p.metadata.namespace}/{p.metadata.name}" for p in holders]
        for allocation_id, holders in mismatched.items()
    }
    d.metrics.eips.labels(state="tag_mismatch").set(len(mismatched))
    by_id = {e.allocation_id: e for e in eips}
    for allocation_id, holders in mismatched.items():
        tag = by_id[allocation_id].tags.get(c.TAG_PODEIP_UID)
        message = (
            f"EIP {allocation_id} is named by this PodEIP but its ownership tag names PodEIP uid {tag}: "
            "it is never released for that; fix or remove the tag (README: How ownership works)"
        )
        logger.warning(
            "%s (PodEIPs %s)",
            message,
            ", ".join(sweep.tag_mismatches[allocation_id]),
            extra=log_fields(allocation_id=allocation_id),
        )
        if not (dry_run or d.settings.gc.dry_run):
            for podeip in holders:
                await d.events.warning(podeip_ref(podeip), reason=c.EV_TAG_MISMATCH, message=message)
    for eip in busy:
        logger.warning(
            "EIP %s carries our tags but no PodEIP holds it, and %s: not touched",
            eip.allocation_id,
            steps.release_refused(eip) or f"it is {eip.status} on {eip.instance_id}",
            extra=_orphan_fields(eip),
        )
    if not free:
        return sweep
    cap = max(3, int(d.settings.gc.orphan_max_fraction * len(eips)))
    if not podeips:
        sweep.aborted = f"{len(eips)} tagged EIPs but no PodEIP at all: refusing to sweep"
    elif len(free) > cap:
        sweep.aborted = f"{len(free)} of {len(eips)} tagged EIPs look orphaned: too many, refusing to sweep"
    if sweep.aborted:
        logger.error("orphan sweep aborted: %s (candidates %s)", sweep.aborted, ", ".join(sweep.candidates))
        return sweep
    budget = release_budget(d.released_at, now=d.clock(), cap=cap)
    sweep.deferred = [e.allocation_id for e in free[budget:]]
    if sweep.deferred:
        logger.warning("orphan sweep: %d releases this hour already (cap %d); deferred %s",
                       cap - budget, cap, ", ".join(sweep.deferred))  # fmt: skip
    for eip in free[:budget]:
        if dry_run or d.settings.gc.dry_run:
            logger.warning(
                "orphan EIP %s (%s) would be released (dry run)",
                eip.allocation_id,
                eip.ip_address,
                extra=_orphan_fields(eip),
            )
            continue
        if eip.bandwidth_package_id:
            await d.cloud.remove_from_bandwidth_package(
                eip.allocation_id, bandwidth_package_id=eip.bandwidth_package_id,
                client_token=tokens.client_token(
                    podeip_uid=eip.tags.get(c.TAG_PODEIP_UID, ""), operation="RemoveCommonBandwidthPackageIp",
                    attempt=0, request_hash=tokens.digest(eip.allocation_id, eip.bandwidth_package_id),
                ),
            )  # fmt: skip
        d.released_at.append(d.clock())  # counted before the call: a failed release still counts
        await d.cloud.release_eip(eip.allocation_id)
        sweep.released.append(eip.allocation_id)
        d.metrics.gc_released.labels(strategy="orphan").inc()
        logger.warning(
            "released orphan EIP %s (%s), tagged for unknown PodEIP %s",
            eip.allocation_id,
            eip.ip_address,
            eip.tags.get(c.TAG_PODEIP_UID),
            extra=_orphan_fields(eip) | log_fields(operation="ReleaseEipAddress"),
        )
    return sweep
