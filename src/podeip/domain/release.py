"""What to do with a PodEIP's EIP: the release matrix of docs/compatibility.md §5, as a pure function.

Releasing is the one action that cannot be undone: a released address is gone for good, and
the user's DNS records, allow-lists and game-server listings point at it. So this module
decides, with time passed in, and the caller only carries the decision out. The rules:

- "pod gone" is NotFound or phase Succeeded/Failed; a terminating pod still holds its EIP;
- whatever the strategy, the EIP is unassociated as soon as the pod is gone (its IP may be
  handed to another pod, docs/reliability.md T7);
- Follow: Auto is released and the PodEIP deleted; Static is unassociated and the PodEIP
  deleted ("forget"); **Static is never released by any path**, and neither is anything whose
  type is not exactly ``Auto``;
- TTL: kept, unbound, until ``goneSince + releaseAfter``, then as Follow. ``goneSince`` is the
  moment the operator first saw the pod gone; the caller records it on the PodEIP (so that a
  restart neither shortens nor lengthens the TTL) and stamps ``podLastSeen`` with it. None
  means "first seen gone now": the clock starts now, never "long ago". A ``goneSince`` in the
  future (a skewed clock) counts as now and is rewritten, so it cannot postpone the release
  forever. The TTL never runs from ``podLastSeen`` while the pod was present: that is refreshed
  only once per GC period, and would release up to a period early;
- Never: kept until a user deletes the PodEIP;
- a user deleting the PodEIP releases an Auto EIP and forgets a Static one, whatever the strategy;
- a new pod with the same name and the same controller owner re-binds a kept EIP (TTL or
  Never), also after its TTL ran out while nobody looked: the pod is back, and giving it its
  old address is what the user configured the TTL for. Under Follow the old PodEIP goes first;
- an unrelated pod with the same name is refused while the EIP is kept;
- **expiry of kept EIPs** (``keptEipExpiry``, opt-in, TKE's ``--claim-expired-duration``): a
  cluster-wide limit on how long an EIP is kept unbound after its pod is gone, under Never and
  TTL alike. Once ``goneSince + expiry`` passes, the PodEIP ends as Follow would (Auto released,
  Static forgotten), whichever comes first of it and the TTL. A warning is due when
  ``min(expiry / 10, 24h)`` is left (``warn_at``), so that a user can still delete or re-create
  the workload. A same-name pod that comes back takes its EIP, also after the expiry passed
  unnoticed (as for the TTL). The fail-safe keeps below are not subject to it: what the
  operator does not understand it never releases;
- **cascade reclaim** (``cascadeReclaim``, opt-in, TKE's ``--enable-ownerref``): once the
  workload that created a kept PodEIP is deleted (the caller compares the recorded owner UID),
  the PodEIP ends at once as if its TTL had run out, also when a new workload of the same name
  already brings a same-name pod back (that pod then gets a new PodEIP);
- an unknown strategy or allocation type, and a TTL whose ``releaseAfter`` does not parse or is
  not positive, keep the EIP (fail safe; Terway's GC does the same) and say why in ``note``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from podeip.api.durations import DurationError, parse_go_duration, to_timedelta
from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.api.pods import PodView


class PodPresence(StrEnum):
    #: The pod this PodEIP serves (same UID), not finished; terminating counts as present.
    PRESENT = "Present"
    #: NotFound, or Succeeded/Failed.
    GONE = "Gone"
    #: A new pod (other UID) with the same name and controller owner, asking for an EIP.
    REBORN = "Reborn"
    #: A new pod with the same name but another owner (or not asking for an EIP).
    UNRELATED = "Unrelated"


class Action(StrEnum):
    #: Keep the EIP bound to the pod (associate it if it is not yet).
    KEEP_ASSOCIATED = "KeepAssociated"
    #: Bind the kept EIP to the new same-name pod.
    ASSOCIATE = "Associate"
    #: Unbind (compare first) and keep the EIP and the PodEIP.
    UNASSOCIATE_AND_KEEP = "UnassociateAndKeep"
    #: Auto: unbind, leave the shared bandwidth, release, delete the PodEIP.
    RELEASE = "Release"
    #: Static (or not provably Auto): unbind, delete the PodEIP, never release.
    UNASSOCIATE_AND_FORGET = "UnassociateAndForget"
    #: Unbind and keep, and tell the same-name pod that the EIP is not its own.
    REFUSE = "Refuse"


@dataclass(frozen=True)
class Decision:
    action: Action
    #: Write this to ``status.podLastSeen`` (None: leave it as it is).
    last_seen: datetime | None = None
    #: Record this as the moment the pod was first seen gone (None: leave the record as it is).
    gone_since: datetime | None = None
    #: When to look again (the TTL deadline); None: no timed check needed.
    next_check: datetime | None = None
    #: Why a fail-safe keep happened, for a Warning Event; None when all was understood.
    note: str | None = None
    #: The moment the kept-EIP expiry ends the PodEIP (None: no expiry applies).
    expires_at: datetime | None = None
    #: The expiry warning is due now (``expires_at`` is near).
    warn_expiry: bool = False
    #: The final action comes from the expiry (not the strategy).
    expired: bool = False
    #: The final action comes from the owner's deletion (cascade reclaim).
    cascaded: bool = False


#: The expiry warning comes when this fraction of the expiry is left, at most ``WARN_MAX`` before.
WARN_FRACTION = 0.1
WARN_MAX = timedelta(hours=24)


def warn_at(expires_at: datetime, expiry: timedelta) -> datetime:
    """When the warning about an expiry at ``expires_at`` is due."""
    return expires_at - min(expiry * WARN_FRACTION, WARN_MAX)


def pod_presence(
    *, pod: PodView | None, recorded_uid: str, recorded_owner: str | None, asks_for_eip: bool
) -> PodPresence:
    """Classify the pod with the PodEIP's name. ``recorded_owner`` is ``"Kind/name"``; an
    empty one (adopted PodEIPs) matches any owner. Whether a Static pod names the same EIP is
    for the caller to fold into ``asks_for_eip``."""
    if pod is None or pod.is_gone:
        return PodPresence.GONE
    if pod.uid == recorded_uid:
        return PodPresence.PRESENT
    same_owner = not recorded_owner or recorded_owner == str(pod.owner or "")
    return PodPresence.REBORN if asks_for_eip and same_owner else PodPresence.UNRELATED


def decide(
    *,
    allocation_type: AllocationType | str,
    strategy: ReleaseStrategy | str,
    release_after: str | None,
    pod: PodPresence,
    gone_since: datetime | None,
    now: datetime,
    podeip_deleted: bool = False,
    kept_expiry: timedelta | None = None,
    owner_deleted: bool = False,
) -> Decision:
    """The action for one PodEIP at ``now``; see the module docstring for the matrix.
    ``kept_expiry`` is the cluster's ``keptEipExpiry`` (None: off); ``owner_deleted``: the
    workload that created the PodEIP is gone (cascade reclaim on, the caller checked its UID)."""
    final = Action.RELEASE if allocation_type == AllocationType.AUTO else Action.UNASSOCIATE_AND_FORGET
    if podeip_deleted:
        return Decision(final)
    if pod is PodPresence.PRESENT:
        return Decision(Action.KEEP_ASSOCIATED, last_seen=now)
    if strategy not in set(ReleaseStrategy) or allocation_type not in set(AllocationType):
        note = (
            f"unknown allocation type {allocation_type!r} or release strategy {strategy!r}: the EIP is kept"
        )
        return _kept(pod, gone_since=gone_since, now=now, note=note)
    if strategy == ReleaseStrategy.FOLLOW:
        return Decision(final)
    if owner_deleted:
        return Decision(final, cascaded=True)
    if pod is PodPresence.REBORN:
        return Decision(Action.ASSOCIATE, last_seen=now)
    anchor = now if gone_since is None or gone_since > now else gone_since
    deadline: datetime | None = None
    if strategy == ReleaseStrategy.TTL:
        ttl = _ttl(release_after)
        if ttl is None:
            note = f"releaseAfter {release_after!r} is not a positive Go duration: the EIP is kept"
            return _kept(pod, gone_since=gone_since, now=now, note=note)
        deadline = anchor + ttl
        if deadline <= now:
            return Decision(final)
    if kept_expiry is None or kept_expiry <= timedelta(0):
        return _kept(pod, gone_since=gone_since, now=now, next_check=deadline)
    expires_at = anchor + kept_expiry
    if deadline is not None and deadline <= expires_at:
        return _kept(pod, gone_since=gone_since, now=now, next_check=deadline)  # the TTL ends first
    if expires_at <= now:
        return Decision(final, expires_at=expires_at, expired=True)
    warning = warn_at(expires_at, kept_expiry)
    kept = _kept(pod, gone_since=gone_since, now=now, next_check=expires_at if warning <= now else warning)
    return replace(kept, expires_at=expires_at, warn_expiry=warning <= now)


def _kept(
    pod: PodPresence,
    *,
    gone_since: datetime | None,
    now: datetime,
    next_check: datetime | None = None,
    note: str | None = None,
) -> Decision:
    action = Action.REFUSE if pod is PodPresence.UNRELATED else Action.UNASSOCIATE_AND_KEEP
    first_seen_gone = now if gone_since is None or gone_since > now else None
    return Decision(
        action, last_seen=first_seen_gone, gone_since=first_seen_gone, next_check=next_check, note=note
    )


def _ttl(release_after: str | None) -> timedelta | None:
    if release_after is None:
        return None
    try:
        nanos = parse_go_duration(release_after)
    except DurationError:
        return None
    return to_timedelta(nanos) if nanos > 0 else None
