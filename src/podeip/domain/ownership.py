"""Who may act on an EIP: the ownership rules, as one pure decision (issue 10).

Releasing an EIP loses its address for good, and unbinding one takes a live pod off the
Internet, so what the operator may do to an EIP is decided from evidence that the person who
writes a PodEIP cannot fabricate:

- the cloud's own state of the EIP: its deciding tags (cluster-id, managed-by, podeip-uid) and
  where it is associated;
- what the operator itself recorded: the tags it set when it allocated (or adopted) the EIP
  name the PodEIP's UID, which the API server assigns and nobody can choose; the binding it
  wrote before Associate names the PodEIP's UID and the pod it bound; a Static EIP's claim
  Lease names the PodEIP (UID included) that holds it.

A PodEIP's spec or status alone is never proof of ownership, and a tag alone is never proof of
orphanhood (the sweep's side of the rules is in :mod:`podeip.reconcile.gc`). The rules:

1. **Auto, tagged for this PodEIP** (all three deciding tags match): ours. Associate; unbind
   only an association we recorded for this PodEIP's UID that the cloud still shows; release
   only when ``Available``.
2. **Auto, without any deciding tag** (AENC's or Terway's EIPs, or a user's own): adopted (tagged
   for this PodEIP, then rule 1) only with proof: the cloud shows it bound to exactly the live
   pod's IP, or an administrator opted in (``adoptUntaggedEips`` or ``podeip adopt``).
   Otherwise nothing at all: a Warning ``EipNotAdopted`` says why, and when the PodEIP is
   deleted its finalizer goes without any mutating cloud call.
3. **Deciding tags that name another PodEIP, cluster or operator**: one EIP, one PodEIP. Only the
   PodEIP the tags name acts; this one gets a Warning and a condition naming the holder.
4. **Static**: never tagged, never released. Only the PodEIP that holds the claim acts on it
   (associate; unbind only what it recorded and the cloud still shows); without the claim,
   nothing (the binding path claims first). A Static EIP carrying another PodEIP's deciding
   tags is held by that PodEIP (rule 3).
5. **Anything else** (an unknown allocation type): nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from podeip import constants as c


class Standing(StrEnum):
    #: This PodEIP may act on the EIP (within ``Verdict.may``).
    OURS = "Ours"
    #: An untagged Auto EIP with proof: tag it for this PodEIP; from then on it is ours.
    ADOPT = "Adopt"
    #: An untagged Auto EIP without proof: no cloud call at all.
    NOT_ADOPTED = "NotAdopted"
    #: Another PodEIP (or cluster, or tool) holds it: no cloud call at all.
    HELD_BY_OTHER = "HeldByOther"
    #: Static, and nobody holds the claim yet: claim it before anything else.
    UNCLAIMED = "Unclaimed"
    #: Not provably Auto or Static: no cloud call at all.
    UNKNOWN = "Unknown"


class Act(StrEnum):
    TAG = "Tag"
    ASSOCIATE = "Associate"
    UNASSOCIATE = "Unassociate"
    RELEASE = "Release"


class Claim(StrEnum):
    """Who holds a Static EIP's claim Lease, from this PodEIP's point of view."""

    MINE = "Mine"
    OTHER = "Other"
    NONE = "None"


@dataclass(frozen=True)
class Evidence:
    #: ``spec.allocationType.type`` as written (``Auto``, ``Static``, or anything else).
    allocation_type: str
    podeip_uid: str
    cluster_id: str
    #: The EIP's tags, as the cloud shows them.
    tags: Mapping[str, str]
    #: The EIP's status, as the cloud shows it (``Available``, ``InUse``, …).
    status: str
    #: The PodEIP UID the operator's binding record names ("" for a record written before
    #: records named it; None when there is no record).
    recorded_for: str | None = None
    #: The cloud shows the EIP associated exactly where that record says.
    record_shown: bool = False
    #: The cloud shows the EIP associated with exactly the IP of the live pod of this PodEIP.
    on_live_pod: bool = False
    #: An administrator opted in to adopting untagged EIPs (setting or ``podeip adopt``).
    adoption_opted_in: bool = False
    claim: Claim = Claim.NONE
    #: Who holds the claim when it is another's (``namespace/name/uid``), for messages.
    claim_holder: str = ""


@dataclass(frozen=True)
class Verdict:
    standing: Standing
    may: frozenset[Act]
    #: Why, for a condition, an Event or a log line.
    reason: str
    #: The Warning Event reason to report (None: nothing to warn about).
    event: str | None = None


def tag_state(tags: Mapping[str, str], *, cluster_id: str, podeip_uid: str) -> str:
    """``ours`` (the three deciding tags name this cluster, operator and PodEIP), ``untagged``
    (no deciding tag at all) or ``foreign`` (any other combination)."""
    deciding = (tags.get(c.TAG_CLUSTER_ID), tags.get(c.TAG_MANAGED_BY), tags.get(c.TAG_PODEIP_UID))
    if cluster_id and podeip_uid and deciding == (cluster_id[:128], c.MANAGED_BY, podeip_uid[:128]):
        return "ours"
    return "untagged" if deciding == (None, None, None) else "foreign"


def holder_of(tags: Mapping[str, str]) -> str:
    """The PodEIP that an EIP's tags name, for messages: ``namespace/name (uid …, cluster …)``."""
    where = f"{tags.get(c.TAG_NAMESPACE, '?')}/{tags.get(c.TAG_POD_NAME, '?')}"
    uid = tags.get(c.TAG_PODEIP_UID, "none")
    return f"PodEIP {where} (uid {uid}, cluster {tags.get(c.TAG_CLUSTER_ID, 'none')})"


def judge(e: Evidence) -> Verdict:
    """What this PodEIP may do to the EIP; see the module docstring for the rules."""
    state = tag_state(e.tags, cluster_id=e.cluster_id, podeip_uid=e.podeip_uid)
    unbind = frozenset({Act.UNASSOCIATE}) if _recorded_here(e) else frozenset()
    if state == "foreign" and e.allocation_type in ("Auto", "Static"):
        reason = f"its ownership tags name {holder_of(e.tags)}; only that PodEIP acts on it"
        return Verdict(Standing.HELD_BY_OTHER, frozenset(), reason, c.EV_CLAIMED_BY_OTHER)
    if e.allocation_type == "Auto":
        if state == "ours":
            may = {Act.ASSOCIATE} | unbind
            if e.status == "Available":
                may.add(Act.RELEASE)
            return Verdict(Standing.OURS, frozenset(may), "tagged for this PodEIP")
        if e.on_live_pod:
            reason = "untagged, and bound to this PodEIP's pod IP"
            return Verdict(Standing.ADOPT, frozenset({Act.TAG}), reason)
        if e.adoption_opted_in:
            return Verdict(Standing.ADOPT, frozenset({Act.TAG}), "untagged, and adoption is opted in")
        reason = (
            "it carries no ownership tags and the cloud does not show it bound to this PodEIP's pod: "
            "it is not adopted (run `podeip adopt` or set adoptUntaggedEips to take it over)"
        )
        return Verdict(Standing.NOT_ADOPTED, frozenset(), reason, c.EV_NOT_ADOPTED)
    if e.allocation_type == "Static":
        if e.claim is Claim.MINE:
            return Verdict(Standing.OURS, frozenset({Act.ASSOCIATE}) | unbind, "this PodEIP holds the claim")
        if e.claim is Claim.OTHER:
            holder = f"PodEIP {e.claim_holder}" if e.claim_holder else "another PodEIP"
            reason = f"{holder} holds its claim; only that PodEIP acts on it"
            return Verdict(Standing.HELD_BY_OTHER, frozenset(), reason, c.EV_CLAIMED_BY_OTHER)
        return Verdict(Standing.UNCLAIMED, frozenset(), "nobody holds its claim yet")
    reason = f"allocation type {e.allocation_type!r} is neither Auto nor Static"
    return Verdict(Standing.UNKNOWN, frozenset(), reason)


def _recorded_here(e: Evidence) -> bool:
    """Rule 3 of the issue: an association we recorded for this PodEIP, still shown by the cloud.

    A record without a UID was written before records named one; it counts only together with
    the tags or the claim that prove the EIP is this PodEIP's (``judge`` requires both)."""
    return (
        e.status == "InUse"
        and e.recorded_for is not None
        and e.recorded_for in ("", e.podeip_uid)
        and e.record_shown
    )
