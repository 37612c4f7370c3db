"""What the operator writes down: PodEIP bodies, status, conditions, and the frozen request.

Pure functions (no I/O). docs/reliability.md R1: everything a crash would lose is written to the
PodEIP *before* the cloud call that depends on it, so these builders are the one place that
decides what the PodEIP records and under which key.

Private annotations on a PodEIP (prefix ``podeip-controller.alibabacloud.com/``):

- ``request``: the pod's resolved :class:`EipRequest` as canonical JSON, frozen at creation;
  retries read it, never the live pod (R2), and its hash goes into the ClientToken;
- ``attempt``: the allocation attempt; bumped only when a previous attempt provably created
  nothing and its token is burnt (IdempotentParameterMismatch), or the EIP was lost;
- ``pod-uid`` / ``owner``: which pod the PodEIP serves, and its controller (``Kind/name``),
  for same-name reuse (docs/compatibility.md §5.3);
- ``pod-gone-since``: when the operator first saw the pod gone (deleted, or Succeeded/Failed),
  with microseconds, so that a TTL is never shortened by rounding; written before anything
  else is done for the gone pod, removed when a same-name pod comes back;
- ``binding``: ``<eni-id>/<private-ip>/<primary|secondary>/<podeip-uid>/<pod-uid>`` recorded
  just before Associate (or when an adopted EIP is found on the pod), so that compare-and-act
  unassociate (R6) knows what we bound, for which PodEIP and pod, even if the call's answer
  was lost. It is the only binding we ever unbind (issue 10), never the PodEIP's status.

The ClientToken itself is derived from the PodEIP UID, the operation, the attempt and the
request hash (:mod:`podeip.domain.tokens`), so it needs no annotation of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, Condition, PodEIP, ReleaseStrategy, format_kube_time
from podeip.api.pods import PodView
from podeip.cloud.models import AllocateRequest, Eip
from podeip.domain.request import EipRequest

ANN_BINDING = c.PRIVATE_PREFIX + "binding"


def owner_label(pod: PodView) -> str:
    return str(pod.owner) if pod.owner else ""


def owner_identity(pod: PodView) -> dict[str, str]:
    """The owner's apiVersion and UID (cascade reclaim); nothing for a bare pod."""
    if pod.owner is None or not pod.owner.uid:
        return {}
    return {c.ANN_OWNER_API_VERSION: pod.owner.api_version, c.ANN_OWNER_UID: pod.owner.uid}


def new_podeip_body(pod: PodView, request: EipRequest) -> dict[str, Any]:
    """The PodEIP for a pod: same name, our finalizer in the create request, no ownerReferences."""
    allocation_type: dict[str, str] = {
        "type": request.allocation_type.value,
        "releaseStrategy": request.release_strategy.value,
    }
    if request.release_after is not None:
        allocation_type["releaseAfter"] = request.release_after
    spec: dict[str, Any] = {"allocationID": request.allocation_id or "", "allocationType": allocation_type}
    if request.bandwidth_package_id:
        spec["bandwidthPackageID"] = request.bandwidth_package_id
    return {
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "finalizers": [c.FINALIZER],
            "annotations": {
                c.CONTROLLER_MARKER_KEY: c.CONTROLLER_MARKER_VALUE,
                c.ANN_REQUEST: request.canonical_json(),
                c.ANN_ATTEMPT: "0",
                c.ANN_POD_UID: pod.uid,
                c.ANN_OWNER: owner_label(pod),
                **owner_identity(pod),
            },
        },
        "spec": spec,
    }


def frozen_request(podeip: PodEIP) -> EipRequest | None:
    """The request frozen at creation; None for PodEIPs we did not create (adopted)."""
    raw = podeip.annotations.get(c.ANN_REQUEST)
    if not raw:
        return None
    try:
        return EipRequest.model_validate_json(raw)
    except ValueError:
        return None


def allocate_request(request: EipRequest | None) -> AllocateRequest:
    """The cloud call's options. An adopted PodEIP without a request never allocates."""
    if request is None:
        return AllocateRequest()
    return AllocateRequest(
        bandwidth=request.bandwidth,
        internet_charge_type=request.internet_charge_type.value if request.internet_charge_type else None,
        instance_charge_type=request.instance_charge_type.value if request.instance_charge_type else None,
        isp=request.isp.value if request.isp else None,
        resource_group_id=request.resource_group_id,
        public_ip_address_pool_id=request.public_ip_address_pool_id,
        name=request.name,
        description=request.description,
        security_protection_types=tuple(t.value for t in request.security_protection_types),
        tags=request.tags,
    )


def gone_since_of(podeip: PodEIP) -> datetime | None:
    """The recorded moment the pod was first seen gone; None when not recorded (or unreadable,
    which restarts the TTL now: later, never earlier)."""
    raw = podeip.annotations.get(c.ANN_POD_GONE_SINCE)
    if not raw:
        return None
    try:
        seen = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen


def format_gone_since(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def attempt_of(podeip: PodEIP) -> int:
    try:
        return max(int(podeip.annotations.get(c.ANN_ATTEMPT, "0")), 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Binding:
    """Where we bound (or, for adopted PodEIPs, found bound) this PodEIP's EIP, and for whom."""

    eni_id: str
    private_ip: str
    #: Bound through the ENI's primary IP (an exclusive ENI): the cloud then reports no private IP.
    primary: bool = False
    #: The PodEIP this record was written for ("" in records written before they named it).
    podeip_uid: str = ""
    #: The pod that was bound.
    pod_uid: str = ""

    def format(self) -> str:
        kind = "primary" if self.primary else "secondary"
        return f"{self.eni_id}/{self.private_ip}/{kind}/{self.podeip_uid}/{self.pod_uid}"

    def holds(self, eip: Eip) -> bool:
        """Whether the EIP is associated exactly here (docs/alibaba-api.md §3.3 for primary IPs)."""
        if eip.instance_id != self.eni_id:
            return False
        return eip.private_ip_address == ("" if self.primary else self.private_ip)


def binding_of(podeip: PodEIP) -> Binding | None:
    """The binding the operator recorded (before Associate, or when it found the EIP on the
    pod). Never the PodEIP's status: anyone who can write a PodEIP can write its status, so a
    status copied from another PodEIP must not make us unbind that PodEIP's EIP (issue 10)."""
    parts = podeip.annotations.get(ANN_BINDING, "").split("/")
    if len(parts) == 5 and parts[0] and parts[1]:
        primary = parts[2] == "primary"
        return Binding(parts[0], parts[1], primary=primary, podeip_uid=parts[3], pod_uid=parts[4])
    if len(parts) in (2, 3) and parts[0] and parts[1]:  # the format before records named the PodEIP
        return Binding(parts[0], parts[1], primary=parts[2:] == ["primary"])
    return None


def kind_of_strategy(podeip: PodEIP) -> tuple[AllocationType, ReleaseStrategy]:
    return podeip.spec.allocation_type.type, podeip.spec.allocation_type.release_strategy


def observed_status(eip: Eip) -> dict[str, Any]:
    """Status fields copied from the cloud on every observation (docs/compatibility.md §3.3)."""
    status: dict[str, Any] = {
        "status": eip.status.value,
        "isp": eip.isp or None,
        "internetChargeType": eip.internet_charge_type or None,
        "resourceGroupID": eip.resource_group_id or None,
        "name": eip.name or None,
        "bandwidthPackageID": eip.bandwidth_package_id or None,
        "bandwidth": str(eip.bandwidth) if eip.bandwidth is not None else None,
    }
    if eip.public_ip_address_pool_id:
        status["publicIpAddressPoolID"] = eip.public_ip_address_pool_id
    return status


def with_condition(
    podeip: PodEIP, *, type: str, status: str, reason: str, message: str, now: datetime
) -> list[dict[str, Any]] | None:
    """The PodEIP's conditions with one set; None when nothing changes.

    ``lastTransitionTime`` moves only when the status flips.
    """
    current = list(podeip.status.conditions or ()) if podeip.status else []
    existing = next((cond for cond in current if cond.type == type), None)
    if existing and (existing.status, existing.reason or "", existing.message or "") == (
        status,
        reason,
        message,
    ):
        return None
    moved = existing is None or existing.status != status
    updated = Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if moved or existing is None else existing.last_transition_time,
        observed_generation=podeip.metadata.generation,
    )
    others = [cond for cond in current if cond.type != type]
    return [cond.to_wire() for cond in [*others, updated]]


def status_changes(podeip: PodEIP, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``desired`` status fields that differ from what the PodEIP shows."""
    current = podeip.status.to_wire() if podeip.status else {}
    changes: dict[str, Any] = {}
    for key, value in desired.items():
        shown = current.get(key)
        if isinstance(value, datetime):
            value = format_kube_time(value)
        if shown != value and not (shown is None and value is None):
            changes[key] = value
    return changes
