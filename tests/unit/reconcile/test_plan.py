"""We test these aspects: the pure ``plan`` of a reconcile pass as a table, one row per binding
state × situation, each asserting the named state, the next action and its parameters:

- no PodEIP: create it when a pod is there, nothing otherwise;
- the ownership gate of an Auto EIP: look first; another PodEIP's tags or no proof → refuse;
  proof on the live pod (or the administrator's opt-in) → tag; the ENI is asked for only
  when the proof needs it;
- a PodEIP another controller made (no pod UID) is taken by its pod; a reborn same-owner pod
  takes a kept PodEIP; the owner is looked at before the release decision; bookkeeping once;
- the pod present: no IP → wait without a cloud call; Auto unallocated → allocate, with the
  tag lookup (R3) unless this process created the PodEIP; Static → claim first, another
  holder → wait; the EIP looked at (steady), missing → look again after ``LOST_CONFIRM``,
  lost → allocate anew (Auto) or wait (Static, adopted); foreign tags → refuse; cloud
  transitions → poll; InUse on the pod → show bound; InUse elsewhere → a fresh look (R6),
  then unbind only what we recorded, else a conflict; Available → join the package, find the
  ENI, associate with the right round (a restart's time-based token);
- the pod gone: a fresh look, poll, unbind what we recorded (reading the Static claim first),
  delete the PodEIP (Follow) or keep it (TTL with the time of the next look, Never), a Static
  EIP held by another PodEIP left alone;
- the PodEIP deleted: list what it holds, poll, tag an opted-in EIP, preserve what is not ours,
  unbind ours, wait for an Auto EIP bound elsewhere, release Auto, skip Static, then drop the
  finalizer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.cloud.models import NETWORK_INTERFACE, Eip, EipStatus, Eni
from podeip.domain import ownership, parameters, release
from podeip.domain.request import EipRequest
from podeip.reconcile import records
from podeip.reconcile.looks import FRESH, STEADY, TERMINATING
from podeip.reconcile.plan import (
    HELD_RETRY,
    LOST_CONFIRM,
    QUIET,
    SLOW_RETRY,
    Do,
    Observed,
    Seen,
    State,
    Step,
    plan,
)
from podeip.settings import CloudSettings, Settings

from .fakes import pod_body

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: A PodEIP's Ready condition as a failed attempt leaves it (a state shown).
READY_FALSE = {
    "type": c.COND_READY,
    "status": "False",
    "reason": c.EV_WAITING_FOR_POD_IP,
    "message": "the pod has no IP yet",
    "lastTransitionTime": "2026-12-01T11:00:00Z",
}
CLUSTER = "c-unit"
UID, POD_UID = "peip-uid-1", "pod-uid-1"
POD_IP, ENI_ID = "10.0.0.5", "eni-1"
SETTINGS = Settings(cloud=CloudSettings(provider="simulated"))
OURS = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: UID}
OTHERS = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: "someone-else"}
RECORDED = records.Binding(ENI_ID, POD_IP, podeip_uid=UID, pod_uid=POD_UID)
OLD_IP_RECORD = records.Binding(ENI_ID, "10.0.0.9", podeip_uid=UID, pod_uid=POD_UID)


def podeip(
    *,
    kind: str = "Auto",
    strategy: str = "Follow",
    release_after: str | None = None,
    allocation_id: str = "eip-1",
    pod_uid: str | None = POD_UID,
    binding: records.Binding | None = None,
    deleting: bool = False,
    gone_since: datetime | None = None,
    frozen: bool = True,
    package: str | None = None,
    status: dict[str, Any] | None = None,
    created: datetime | None = None,
) -> PodEIP:
    annotations: dict[str, str] = {c.ANN_OWNER: "StatefulSet/web"}
    if pod_uid:
        annotations[c.ANN_POD_UID] = pod_uid
    if frozen:
        auto: dict[str, Any] = {
            "bandwidth": 5,
            "internet_charge_type": parameters.InternetChargeType.PAY_BY_TRAFFIC,
            "instance_charge_type": parameters.InstanceChargeType.POST_PAID,
        }
        request = EipRequest(
            allocation_type=AllocationType(kind),
            allocation_id=allocation_id if kind == "Static" else None,
            release_strategy=ReleaseStrategy(strategy),
            release_after=release_after,
            release_ttl=timedelta(minutes=10) if release_after else None,
            **(auto if kind == "Auto" else {}),
        )
        annotations[c.ANN_REQUEST] = request.canonical_json()
    if binding is not None:
        annotations[records.ANN_BINDING] = binding.format()
    if gone_since is not None:
        annotations[c.ANN_POD_GONE_SINCE] = records.format_gone_since(gone_since)
    allocation_type = {"type": kind, "releaseStrategy": strategy}
    if release_after:
        allocation_type["releaseAfter"] = release_after
    spec: dict[str, Any] = {"allocationID": allocation_id, "allocationType": allocation_type}
    if package:
        spec["bandwidthPackageID"] = package
    meta: dict[str, Any] = {
        "name": "web-0",
        "namespace": "ns",
        "uid": UID,
        "resourceVersion": "1",
        "annotations": annotations,
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T11:59:00Z"
    if created is not None:
        meta["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": meta, "spec": spec}
    if status:
        body["status"] = status
    return PodEIP.model_validate(body)


def pod(*, uid: str = POD_UID, pod_ip: str | None = POD_IP, phase: str = "Running") -> PodView:
    body = pod_body("web-0", {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}, pod_ip=pod_ip, phase=phase, uid=uid)
    return PodView.from_body(body)


def eip(
    status: EipStatus = EipStatus.AVAILABLE,
    *,
    tags: dict[str, str] | None = None,
    private_ip: str = "",
    instance: str = "",
    instance_type: str = "",
    package: str = "",
) -> Eip:
    return Eip(
        allocation_id="eip-1",
        ip_address="203.0.113.7",
        status=status,
        tags=OURS if tags is None else tags,
        private_ip_address=private_ip,
        instance_id=instance,
        instance_type=instance_type or (NETWORK_INTERFACE if instance else ""),
        bandwidth_package_id=package,
    )


IN_USE_HERE = eip(EipStatus.IN_USE, private_ip=POD_IP, instance=ENI_ID)
IN_USE_OLD_IP = eip(EipStatus.IN_USE, private_ip="10.0.0.9", instance=ENI_ID)
ENI = Eni(eni_id=ENI_ID, vpc_id="vpc-1", primary_ip="10.0.0.1", private_ips=(POD_IP,))


def seen(found: Eip | None, *, fresh: bool = False, steady: bool = True) -> Seen:
    return Seen(found, fresh=fresh, steady=steady)


def observed(**overrides: Any) -> Observed:
    """A pod present with its IP, its Auto/Follow PodEIP allocated, the EIP ours and Available
    as just looked at, the owner looked at and the pass's bookkeeping done."""
    base: dict[str, Any] = {
        "podeip": podeip(),
        "pod": pod(),
        "now": NOW,
        "settings": SETTINGS,
        "cluster_id": CLUSTER,
        "asks_for": True,
        "seen": seen(eip()),
        "owner_deleted": False,
        "noted": True,
    }
    return Observed(**(base | overrides))


@dataclass(frozen=True)
class Row:
    name: str
    observed: Observed
    state: State
    do: Do
    #: The step's parameters that matter for this row.
    params: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Step], bool] | None = None


GONE_AUTO_FOLLOW = {"pod": None, "noted": True}
STATIC = {"kind": "Static", "allocation_id": "eip-1"}
MINE = (ownership.Claim.MINE, "ns/web-0/" + UID)


def edited(original: PodEIP, **spec: Any) -> PodEIP:
    """The PodEIP with its spec edited after creation (its frozen request unchanged)."""
    body = original.model_dump(by_alias=True, exclude_none=True, mode="json")
    body["spec"] |= spec
    return PodEIP.model_validate(body)


ROWS = [
    # ---- no PodEIP ----------------------------------------------------------------------------
    Row("no podeip, a pod: create", observed(podeip=None), State.NO_PODEIP, Do.CREATE),
    Row("no podeip, no pod: nothing", observed(podeip=None, pod=None), State.NO_PODEIP, Do.NOTHING),
    # ---- our PodEIP's spec edited after creation (S26) -------------------------------------------
    Row(
        "spec edited to static: nothing done from it",
        observed(podeip=edited(podeip(), allocationType={"type": "Static", "releaseStrategy": "Follow"})),
        State.SPEC_EDITED,
        Do.WAIT,
        {"reason": c.EV_CONFLICT, "warn": True, "after": SLOW_RETRY},
    ),
    Row(
        "static spec names another eip: nothing done from it",
        observed(podeip=edited(podeip(kind="Static"), allocationID="eip-theirs")),
        State.SPEC_EDITED,
        Do.WAIT,
        {"reason": c.EV_CONFLICT, "warn": True, "after": SLOW_RETRY},
    ),
    # ---- the ownership gate (Auto, allocated) ---------------------------------------------------
    Row("gate: not looked yet", observed(seen=None), State.OBSERVING, Do.LOOK, {"max_age": STEADY}),
    Row(
        "gate, the pod terminating: what is remembered stands (it is unbound once gone)",
        observed(seen=None, pod=dataclasses.replace(pod(), deletion_timestamp=NOW)),
        State.OBSERVING,
        Do.LOOK,
        {"max_age": TERMINATING},
    ),
    Row(
        "gate, the pod gone: one fresh look serves the gate and the unbind",
        observed(seen=None, pod=None),
        State.OBSERVING,
        Do.LOOK,
        {"max_age": FRESH},
    ),
    Row(
        "gate: another podeip's tags",
        observed(seen=seen(eip(tags=OTHERS))),
        State.NOT_OURS,
        Do.REFUSE,
        {"after": SLOW_RETRY},
        lambda s: s.verdict is not None and s.verdict.standing is ownership.Standing.HELD_BY_OTHER,
    ),
    Row(
        "gate: untagged, available, no proof",
        observed(seen=seen(eip(tags={}))),
        State.NOT_OURS,
        Do.REFUSE,
        check=lambda s: s.verdict is not None and s.verdict.event == c.EV_NOT_ADOPTED,
    ),
    Row(
        "gate: untagged, on the live pod's IP: tag",
        observed(seen=seen(eip(EipStatus.IN_USE, tags={}, private_ip=POD_IP, instance=ENI_ID))),
        State.ADOPTABLE,
        Do.TAG,
        check=lambda s: s.verdict is not None and ownership.Act.TAG in s.verdict.may,
    ),
    Row(
        "gate: untagged, on the terminating pod's IP, a look only TERMINATING old: look again first",
        observed(
            seen=seen(eip(EipStatus.IN_USE, tags={}, private_ip=POD_IP, instance=ENI_ID), steady=False),
            pod=dataclasses.replace(pod(), deletion_timestamp=NOW),
        ),
        State.OBSERVING,
        Do.LOOK,
        {"max_age": STEADY},
    ),
    Row(
        "gate: untagged, on an ENI's primary IP: the ENI decides",
        observed(seen=seen(eip(EipStatus.IN_USE, tags={}, instance=ENI_ID))),
        State.OBSERVING,
        Do.FIND_ENI,
    ),
    Row(
        "gate: untagged, on another IP: refuse",
        observed(seen=seen(eip(EipStatus.IN_USE, tags={}, private_ip="10.9.9.9", instance=ENI_ID))),
        State.NOT_OURS,
        Do.REFUSE,
    ),
    Row(
        "gate: untagged, adoption opted in: tag",
        observed(
            seen=seen(eip(tags={})),
            settings=Settings(cloud=CloudSettings(provider="simulated"), adopt_untagged_eips=True),
        ),
        State.ADOPTABLE,
        Do.TAG,
    ),
    # ---- whose pod, which decision ----------------------------------------------------------------
    Row(
        "podeip of another controller: take its pod",
        observed(podeip=podeip(pod_uid=None, frozen=False)),
        State.POD_UNRECORDED,
        Do.TAKE_POD,
        {"reborn": False},
    ),
    Row("owner not looked at", observed(owner_deleted=None), State.OBSERVING, Do.LOOK_OWNER),
    Row(
        "reborn same-owner pod takes the kept eip",
        observed(podeip=podeip(strategy="Never"), pod=pod(uid="pod-uid-2"), seen=seen(eip())),
        State.REBORN,
        Do.TAKE_POD,
        {"reborn": True},
    ),
    Row(
        "pod present: bookkeeping first",
        observed(noted=False),
        State.OBSERVING,
        Do.NOTE,
        check=lambda s: s.decision is not None and s.decision.action is release.Action.KEEP_ASSOCIATED,
    ),
    # ---- the pod is there ----------------------------------------------------------------------------
    Row(
        "no pod ip: wait, no cloud call",
        observed(podeip=podeip(allocation_id=""), pod=pod(pod_ip=None), seen=None),
        State.WAITING_FOR_POD_IP,
        Do.WAIT,
        {"reason": c.EV_WAITING_FOR_POD_IP, "after": None, "poll": ""},
    ),
    Row(
        "no pod ip a moment after the PodEIP was made: nothing shown, looked at when QUIET",
        observed(podeip=podeip(allocation_id="", created=NOW - timedelta(seconds=2)), pod=pod(pod_ip=None)),
        State.WAITING_FOR_POD_IP,
        Do.WAIT,
        {"reason": "", "after": QUIET - 2, "poll": ""},
    ),
    Row(
        "no pod ip for QUIET seconds: shown (the IP's event ends the wait)",
        observed(
            podeip=podeip(allocation_id="", created=NOW - timedelta(seconds=QUIET)), pod=pod(pod_ip=None)
        ),
        State.WAITING_FOR_POD_IP,
        Do.WAIT,
        {"reason": c.EV_WAITING_FOR_POD_IP, "after": None},
    ),
    Row(
        "no pod ip again on a PodEIP that shows a state: shown at once",
        observed(
            podeip=podeip(allocation_id="", created=NOW, status={"conditions": [READY_FALSE]}),
            pod=pod(pod_ip=None),
        ),
        State.WAITING_FOR_POD_IP,
        Do.WAIT,
        {"reason": c.EV_WAITING_FOR_POD_IP, "after": None},
    ),
    Row(
        "auto unallocated: allocate after the tag lookup",
        observed(podeip=podeip(allocation_id=""), seen=None),
        State.UNALLOCATED,
        Do.ALLOCATE,
        {"lookup": True},
    ),
    Row(
        "auto unallocated, created by this process: no lookup (R3)",
        observed(podeip=podeip(allocation_id=""), seen=None, fresh_podeip=True),
        State.UNALLOCATED,
        Do.ALLOCATE,
        {"lookup": False},
    ),
    Row(
        "static: claim first",
        observed(podeip=podeip(**STATIC), seen=None),
        State.UNCLAIMED,
        Do.CLAIM,
    ),
    Row(
        "static claimed by another pod: wait",
        observed(podeip=podeip(**STATIC), claim=(ownership.Claim.OTHER, "ns/web-1/uid-9"), seen=None),
        State.CLAIMED_BY_OTHER,
        Do.WAIT,
        {"reason": c.EV_CLAIMED_BY_OTHER, "warn": True, "after": SLOW_RETRY},
        lambda s: "pod ns/web-1;" in s.message,
    ),
    Row(
        "static claimed: look at the eip",
        observed(podeip=podeip(**STATIC), claim=MINE, seen=None),
        State.OBSERVING,
        Do.LOOK,
        {"max_age": STEADY},
    ),
    Row(
        "missing, first miss: look again",
        observed(seen=seen(None), missing_for=0.0),
        State.MISSING,
        Do.WAIT,
        {"after": LOST_CONFIRM, "reason": ""},
    ),
    Row(
        "missing twice apart, auto: forget and allocate anew",
        observed(seen=seen(None), missing_for=LOST_CONFIRM),
        State.LOST,
        Do.FORGET_LOST,
    ),
    Row(
        "missing twice apart, static: wait",
        observed(podeip=podeip(**STATIC), claim=MINE, seen=seen(None), missing_for=LOST_CONFIRM),
        State.LOST,
        Do.WAIT,
        {"reason": c.EV_EIP_NOT_FOUND, "warn": True, "after": SLOW_RETRY},
    ),
    Row(
        "missing twice apart, adopted (no request): wait",
        observed(podeip=podeip(frozen=False), seen=seen(None), missing_for=LOST_CONFIRM),
        State.LOST,
        Do.WAIT,
        {"reason": c.EV_EIP_NOT_FOUND},
    ),
    Row(
        "static with another podeip's tags: refuse",
        observed(podeip=podeip(**STATIC), claim=MINE, seen=seen(eip(tags=OTHERS))),
        State.NOT_OURS,
        Do.REFUSE,
        {"after": SLOW_RETRY},
    ),
    Row(
        "associating in the cloud: poll",
        observed(seen=seen(eip(EipStatus.ASSOCIATING))),
        State.ASSOCIATING,
        Do.WAIT,
        {"reason": c.EV_ASSOCIATING, "poll": "Associating"},
    ),
    Row(
        "unassociating in the cloud: poll",
        observed(seen=seen(eip(EipStatus.UNASSOCIATING))),
        State.UNASSOCIATING,
        Do.WAIT,
        {"reason": c.EV_UNASSOCIATING, "poll": "Unassociating"},
    ),
    Row(
        "bound to the pod ip: show",
        observed(seen=seen(IN_USE_HERE)),
        State.BOUND,
        Do.SHOW_BOUND,
        {"eni_id": ENI_ID, "eip": IN_USE_HERE},
    ),
    Row(
        "bound by the primary ip we recorded: show",
        observed(
            podeip=podeip(binding=records.Binding(ENI_ID, POD_IP, primary=True, podeip_uid=UID)),
            seen=seen(eip(EipStatus.IN_USE, instance=ENI_ID)),
        ),
        State.BOUND,
        Do.SHOW_BOUND,
        {"eni_id": ENI_ID},
    ),
    Row(
        "bound by a primary ip, not recorded: find the eni",
        observed(seen=seen(eip(EipStatus.IN_USE, instance=ENI_ID))),
        State.OBSERVING,
        Do.FIND_ENI,
    ),
    Row(
        "bound by the primary ip the eni holds: show",
        observed(
            seen=seen(eip(EipStatus.IN_USE, instance=ENI_ID)),
            eni_looked=True,
            pod_eni=Eni(eni_id=ENI_ID, vpc_id="vpc-1", primary_ip=POD_IP),
        ),
        State.BOUND,
        Do.SHOW_BOUND,
        {"eni_id": ENI_ID},
    ),
    Row(
        "bound elsewhere, steady look: a fresh look first (R6)",
        observed(podeip=podeip(binding=OLD_IP_RECORD), seen=seen(IN_USE_OLD_IP)),
        State.OBSERVING,
        Do.LOOK,
        {"max_age": FRESH},
    ),
    Row(
        "bound to the old pod ip we recorded, fresh: unbind",
        observed(podeip=podeip(binding=OLD_IP_RECORD), seen=seen(IN_USE_OLD_IP, fresh=True)),
        State.BOUND_ELSEWHERE,
        Do.UNBIND,
        {"eip": IN_USE_OLD_IP},
    ),
    Row(
        "bound elsewhere, not recorded: conflict, never taken",
        observed(seen=seen(IN_USE_OLD_IP, fresh=True)),
        State.BOUND_ELSEWHERE,
        Do.WAIT,
        {"reason": c.EV_CONFLICT, "warn": True, "after": SLOW_RETRY},
        lambda s: "never taken away" in s.message,
    ),
    Row(
        "bound to an ecs instance: conflict",
        observed(seen=seen(eip(EipStatus.IN_USE, instance="i-1", instance_type="EcsInstance"), fresh=True)),
        State.BOUND_ELSEWHERE,
        Do.WAIT,
        {"reason": c.EV_CONFLICT},
    ),
    Row(
        "static bound to the old ip we recorded, claim held: unbind",
        observed(
            podeip=podeip(**STATIC, binding=OLD_IP_RECORD),
            claim=MINE,
            seen=seen(eip(EipStatus.IN_USE, tags={}, private_ip="10.0.0.9", instance=ENI_ID), fresh=True),
        ),
        State.BOUND_ELSEWHERE,
        Do.UNBIND,
    ),
    Row(
        "available, bandwidth package asked: join (round 0)",
        observed(podeip=podeip(package="cbwp-1")),
        State.ALLOCATED_AVAILABLE,
        Do.JOIN,
        {"round": 0},
    ),
    Row(
        "available, joined before in this process: next round",
        observed(podeip=podeip(package="cbwp-1"), rounds={"join": 0}),
        State.ALLOCATED_AVAILABLE,
        Do.JOIN,
        {"round": 1},
    ),
    Row(
        "available, in the package: find the eni",
        observed(podeip=podeip(package="cbwp-1"), seen=seen(eip(package="cbwp-1"))),
        State.OBSERVING,
        Do.FIND_ENI,
    ),
    Row(
        "available, joined in this pass: find the eni",
        observed(podeip=podeip(package="cbwp-1"), joined=True),
        State.OBSERVING,
        Do.FIND_ENI,
    ),
    Row(
        "available, no eni holds the pod ip: wait",
        observed(eni_looked=True, pod_eni=None),
        State.ALLOCATED_AVAILABLE,
        Do.WAIT,
        {"reason": c.EV_NO_ENI, "warn": True, "after": SLOW_RETRY},
    ),
    Row(
        "available, eni found: associate, round 0",
        observed(eni_looked=True, pod_eni=ENI),
        State.ALLOCATED_AVAILABLE,
        Do.ASSOCIATE,
        {"eni": ENI, "round": 0},
    ),
    Row(
        "available, the pod IP still has another EIP (a pod gone had it), first bind: wait unshown",
        observed(eni_looked=True, pod_eni=ENI, ip_held_by="eip-old", ip_held_for=QUIET - 1),
        State.IP_HELD,
        Do.WAIT,
        {"reason": "", "after": HELD_RETRY, "poll": "", "in_flight": True},
    ),
    Row(
        "available, the pod IP still has another EIP for QUIET: shown, still no Associate",
        observed(eni_looked=True, pod_eni=ENI, ip_held_by="eip-old", ip_held_for=QUIET),
        State.IP_HELD,
        Do.WAIT,
        {"reason": c.EV_POD_IP_STILL_BOUND, "after": HELD_RETRY, "warn": False, "in_flight": True},
        check=lambda s: "eip-old" in s.message and POD_IP in s.message,
    ),
    Row(
        "available, associated before in this process: next round",
        observed(eni_looked=True, pod_eni=ENI, rounds={"associate": 2}),
        State.ALLOCATED_AVAILABLE,
        Do.ASSOCIATE,
        {"round": 3},
    ),
    Row(
        "available, bound here before a restart: a token never used (the time)",
        observed(
            podeip=podeip(
                status={"eipAddress": "203.0.113.7", "privateIPAddress": POD_IP, "networkInterfaceID": ENI_ID}
            ),
            eni_looked=True,
            pod_eni=ENI,
        ),
        State.ALLOCATED_AVAILABLE,
        Do.ASSOCIATE,
        {"round": int(NOW.timestamp())},
    ),
    # ---- the pod is gone -----------------------------------------------------------------------------
    Row(
        "gone: bookkeeping first (first seen gone now)",
        observed(pod=None, noted=False),
        State.OBSERVING,
        Do.NOTE,
        check=lambda s: s.decision is not None and s.decision.action is release.Action.RELEASE,
    ),
    Row("gone: a fresh look", observed(**GONE_AUTO_FOLLOW), State.OBSERVING, Do.LOOK, {"max_age": FRESH}),
    Row(
        "gone, releasing in the cloud: poll",
        observed(**GONE_AUTO_FOLLOW, seen=seen(eip(EipStatus.RELEASING), fresh=True)),
        State.RELEASING,
        Do.WAIT,
        {"poll": "Releasing", "reason": ""},
    ),
    Row(
        "gone, bound where we recorded: unbind at once",
        observed(**GONE_AUTO_FOLLOW, podeip=podeip(binding=RECORDED), seen=seen(IN_USE_HERE, fresh=True)),
        State.UNBINDING,
        Do.UNBIND,
        {"note": "unassociating"},
    ),
    Row(
        "gone, follow, unbound: delete the podeip",
        observed(**GONE_AUTO_FOLLOW, seen=seen(eip(), fresh=True)),
        State.ENDING,
        Do.DELETE_PODEIP,
        {"reason": c.EV_RELEASING, "verdict": None},
        lambda s: s.fields["privateIPAddress"] is None and s.fields["status"] == "Available",
    ),
    Row(
        "gone, static follow: read the claim before judging",
        observed(
            **GONE_AUTO_FOLLOW, podeip=podeip(**STATIC, binding=RECORDED), seen=seen(IN_USE_HERE, fresh=True)
        ),
        State.OBSERVING,
        Do.READ_CLAIM,
    ),
    Row(
        "gone, static held by another podeip: left alone, then forgotten",
        observed(
            **GONE_AUTO_FOLLOW,
            podeip=podeip(**STATIC, binding=RECORDED),
            seen=seen(eip(EipStatus.IN_USE, tags={}, private_ip=POD_IP, instance=ENI_ID), fresh=True),
            claim=(ownership.Claim.OTHER, "ns/other/uid-2"),
        ),
        State.ENDING,
        Do.DELETE_PODEIP,
        check=lambda s: s.verdict is not None and s.verdict.standing is ownership.Standing.HELD_BY_OTHER,
    ),
    Row(
        "gone, ttl running: keep, look again at the deadline",
        observed(
            pod=None,
            podeip=podeip(
                strategy="TTL", release_after="10m", gone_since=NOW - timedelta(minutes=4), binding=RECORDED
            ),
            seen=seen(eip(), fresh=True),
        ),
        State.KEPT,
        Do.KEEP,
        {"reason": c.EV_WAITING_FOR_TTL, "after": 6 * 60 + 0.5, "clear_binding": True},
        lambda s: s.fields["podLastSeen"] == NOW - timedelta(minutes=4),
    ),
    Row(
        "gone, ttl run out: delete the podeip",
        observed(
            pod=None,
            podeip=podeip(strategy="TTL", release_after="10m", gone_since=NOW - timedelta(minutes=11)),
            seen=seen(eip(), fresh=True),
        ),
        State.ENDING,
        Do.DELETE_PODEIP,
    ),
    Row(
        "gone, never: keep without a timed look",
        observed(pod=None, podeip=podeip(strategy="Never", gone_since=NOW), seen=seen(eip(), fresh=True)),
        State.KEPT,
        Do.KEEP,
        {"reason": c.EV_POD_GONE, "after": None, "clear_binding": False},
    ),
    Row(
        "unrelated same-name pod, never: kept (the refusal is bookkeeping)",
        observed(
            podeip=podeip(strategy="Never", gone_since=NOW),
            pod=pod(uid="pod-uid-2"),
            asks_for=False,
            seen=seen(eip(), fresh=True),
        ),
        State.KEPT,
        Do.KEEP,
        check=lambda s: s.decision is not None and s.decision.action is release.Action.REFUSE,
    ),
    # ---- the PodEIP is being deleted -----------------------------------------------------------------
    Row(
        "deleting: list what it holds", observed(podeip=podeip(deleting=True)), State.OBSERVING, Do.LIST_HELD
    ),
    Row(
        "deleting, nothing held: drop the finalizer",
        observed(podeip=podeip(deleting=True), held=()),
        State.FINALIZING,
        Do.DROP_FINALIZER,
    ),
    Row(
        "deleting, unassociating in the cloud: poll",
        observed(podeip=podeip(deleting=True), held=(eip(EipStatus.UNASSOCIATING),)),
        State.UNASSOCIATING,
        Do.WAIT,
        {"poll": "Unassociating"},
    ),
    Row(
        "deleting, ours available: release",
        observed(podeip=podeip(deleting=True), held=(eip(),)),
        State.DELETING,
        Do.RELEASE,
        {"eip": eip()},
    ),
    Row(
        "deleting, released in this pass: drop the finalizer",
        observed(podeip=podeip(deleting=True), held=(eip(),), handled=frozenset({"eip-1"})),
        State.FINALIZING,
        Do.DROP_FINALIZER,
    ),
    Row(
        "deleting, bound where we recorded: unbind before release",
        observed(podeip=podeip(deleting=True, binding=RECORDED), held=(IN_USE_HERE,)),
        State.UNBINDING,
        Do.UNBIND,
        {"note": "unassociating before release"},
    ),
    Row(
        "deleting, auto bound by someone else: wait, never released",
        observed(podeip=podeip(deleting=True), held=(IN_USE_HERE,)),
        State.BOUND_ELSEWHERE,
        Do.WAIT,
        {"reason": c.EV_FAILED_RELEASE, "warn": True, "after": SLOW_RETRY},
    ),
    Row(
        "deleting, another podeip's eip: preserve, no call",
        observed(podeip=podeip(deleting=True), held=(eip(tags=OTHERS),)),
        State.NOT_OURS,
        Do.PRESERVE,
        {"reason": c.EV_PRESERVED},
    ),
    Row(
        "deleting, untagged, opted in: tag first",
        observed(
            podeip=podeip(deleting=True),
            held=(eip(tags={}),),
            settings=Settings(cloud=CloudSettings(provider="simulated"), adopt_untagged_eips=True),
        ),
        State.ADOPTABLE,
        Do.TAG,
    ),
    Row(
        "deleting, static: read the claim",
        observed(podeip=podeip(**STATIC, deleting=True), held=(eip(tags={}),)),
        State.OBSERVING,
        Do.READ_CLAIM,
    ),
    Row(
        "deleting, static claimed, available: never released",
        observed(podeip=podeip(**STATIC, deleting=True), held=(eip(tags={}),), claim=MINE),
        State.DELETING,
        Do.SKIP,
    ),
    Row(
        "deleting, static unclaimed: preserve",
        observed(
            podeip=podeip(**STATIC, deleting=True), held=(eip(tags={}),), claim=(ownership.Claim.NONE, "")
        ),
        State.NOT_OURS,
        Do.PRESERVE,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan_names_the_state_and_the_next_step(row: Row) -> None:
    step = plan(row.observed)
    assert (step.state, step.do) == (row.state, row.do)
    for name, value in row.params.items():
        assert getattr(step, name) == value, name
    if row.check is not None:
        assert row.check(step)


def test_every_state_and_every_action_has_a_row() -> None:
    """The table is the specification: a state or an action nobody tests is a gap."""
    assert {row.state for row in ROWS} == set(State)
    assert {row.do for row in ROWS} == set(Do)


def test_no_mutating_action_without_an_observation_of_the_eip() -> None:
    """No call that changes an existing EIP is planned before the EIP was looked at."""
    on_the_eip = {Do.TAG, Do.JOIN, Do.ASSOCIATE, Do.UNBIND, Do.RELEASE, Do.REFUSE, Do.SHOW_BOUND}
    unobserved = [row for row in ROWS if row.observed.seen is None and row.observed.held is None]
    assert len(unobserved) > 5
    for row in unobserved:
        assert plan(row.observed).do not in on_the_eip, row.name


def test_the_plan_is_pure_same_observation_same_step() -> None:
    for row in ROWS:
        assert plan(row.observed) == plan(replace(row.observed))


def test_every_shown_reason_is_the_catalogues() -> None:
    """What a step shows (condition, pod gate, Event) is a catalogue reason, never built."""
    shown = {plan(row.observed).reason for row in ROWS} - {""}
    assert len(shown) > 8
    assert shown <= c.REASONS, shown - c.REASONS
