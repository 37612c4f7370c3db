"""The mutating cloud steps, each idempotent by construction and guarded by what we recorded.

- ``allocate``: discover by the PodEIP-UID tag first (R3), then AllocateEipAddress with a
  ClientToken derived from the PodEIP and the frozen request, tags set in the call (R1, R2);
  the allocation ID is written to the PodEIP right away, with a direct API call.
- ``associate``: the target is recorded on the PodEIP *before* the call, so that an answer
  lost in transit still leaves us knowing what we bound.
- ``unassociate_if_ours``: only when the ownership verdict (:mod:`podeip.domain.ownership`)
  allows it: the EIP is this PodEIP's and a fresh observation shows it bound exactly where this
  PodEIP recorded, for its UID (R6); otherwise nothing is touched.
- ``release_if_ours``: only Auto EIPs that carry our cluster, managed-by and PodEIP-UID tags,
  only when ``Available``, never deletion-protected or PrePaid (``release_refused``); a shared
  bandwidth package is left first. Nothing is tagged on the way: an untagged EIP is adopted only
  with proof, by the pass (issue 10).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.cloud import errors as cloud_errors
from podeip.cloud.models import Eip, EipStatus, Eni
from podeip.domain import ownership, tokens
from podeip.reconcile import records
from podeip.reconcile.deps import Deps, log_fields, podeip_ref
from podeip.reconcile.queue import Requeue

logger = logging.getLogger(__name__)

#: Test-only crash points (docs/reliability.md §4), enabled through ``settings.crash_points``.
AFTER_ALLOCATE_BEFORE_RECORD = "after_allocate_before_record"
AFTER_ASSOCIATE_BEFORE_STATUS = "after_associate_before_status"
AFTER_RELEASE_BEFORE_FINALIZER = "after_release_before_finalizer"


def crash_point(d: Deps, name: str) -> None:
    if name in d.settings.crash_points:
        logger.error("crash point %s reached: exiting now (test setting)", name)
        os._exit(70)


def _names(podeip: PodEIP) -> tuple[str, str, str]:
    meta = podeip.metadata
    return meta.namespace or "", meta.name or "", meta.uid or ""


def owner_tags(d: Deps, podeip: PodEIP) -> dict[str, str]:
    namespace, name, uid = _names(podeip)
    return tokens.ownership_tags(cluster_id=d.cluster_id, podeip_uid=uid, namespace=namespace, pod_name=name)


def tagged_for(d: Deps, podeip: PodEIP, eip: Eip) -> bool:
    """Whether the EIP carries the three deciding tags of this PodEIP (docs/reliability.md §3.2)."""
    return tokens.owned_by(eip.tags, cluster_id=d.cluster_id, podeip_uid=podeip.metadata.uid or "")


async def record(d: Deps, podeip: PodEIP, patch: dict[str, Any]) -> PodEIP:
    namespace, name, _ = _names(podeip)
    updated = await d.podeips.patch_metadata_and_spec(
        namespace, name, patch, resource_version=podeip.metadata.resource_version or ""
    )
    return PodEIP.model_validate(updated)


def owner_tags_state(d: Deps, podeip: PodEIP, eip: Eip) -> str:
    """``ours``, ``untagged`` (no deciding tag at all: an EIP from AENC's or Terway's time) or
    ``foreign`` (another cluster, operator or PodEIP)."""
    return ownership.tag_state(eip.tags, cluster_id=d.cluster_id, podeip_uid=podeip.metadata.uid or "")


async def eips_of(d: Deps, podeip: PodEIP, *, get_eip: Callable[[str], Awaitable[Eip | None]]) -> list[Eip]:
    """The EIPs this PodEIP may hold: the recorded one, and (Auto) those tagged with its UID.

    The tag lookup runs only when nothing is recorded, or the recorded EIP is not found: an
    allocation whose answer was lost, or a record that points nowhere, must not hide an EIP.
    """
    if podeip.spec.allocation_id:
        eip = await get_eip(podeip.spec.allocation_id)
        if eip is not None:
            return [eip]
    if podeip.spec.allocation_type.type.value != "Auto":
        return []
    tags = {c.TAG_CLUSTER_ID: d.cluster_id, c.TAG_PODEIP_UID: podeip.metadata.uid or ""}
    return await d.cloud.describe_eips(tags=tags)


async def allocate(d: Deps, podeip: PodEIP, *, lookup: bool) -> tuple[PodEIP, Eip | None]:
    """Record an EIP for an Auto PodEIP: one found by its tags, or a new one (returned as seen,
    for the pass's Event; None when found by its tags).

    ``lookup=False`` only for a PodEIP this process created and never allocated for (R3).
    """
    namespace, name, uid = _names(podeip)
    if lookup and (found := await _tagged_for_me(d, podeip)):
        return await record(d, podeip, {"spec": {"allocationID": found.allocation_id}}), None
    request = records.frozen_request(podeip)
    if request is None:
        raise Requeue(
            after=300.0, reason="PodEIP has no allocationID and no frozen request: nothing to allocate"
        )
    attempt = records.attempt_of(podeip)
    token = tokens.client_token(
        podeip_uid=uid,
        operation="AllocateEipAddress",
        attempt=attempt,
        request_hash=tokens.request_hash(request),
    )
    try:
        allocation = await d.cloud.allocate_eip(
            records.allocate_request(request), owner_tags=owner_tags(d, podeip), client_token=token
        )
    except cloud_errors.IdempotentParameterMismatch:
        # The token was used with other parameters. Burn it only once the tags prove that
        # nothing was created for this PodEIP (R1).
        if found := await _tagged_for_me(d, podeip):
            return await record(d, podeip, {"spec": {"allocationID": found.allocation_id}}), None
        await record(d, podeip, {"metadata": {"annotations": {c.ANN_ATTEMPT: str(attempt + 1)}}})
        raise Requeue(after=0.0, reason="client token burnt; next attempt") from None
    crash_point(d, AFTER_ALLOCATE_BEFORE_RECORD)
    updated = await record(d, podeip, {"spec": {"allocationID": allocation.allocation_id}})
    # (The Event is the pass's: folded into the bound one when the pass goes on to Associate.)
    message = f"EIP {allocation.ip_address} ({allocation.allocation_id}) allocated"
    logger.info(
        "PodEIP %s/%s: %s (request %s)",
        namespace,
        name,
        message,
        allocation.request_id,
        extra=log_fields(updated, operation="AllocateEipAddress", request_id=allocation.request_id),
    )
    seen = Eip(
        allocation_id=allocation.allocation_id,
        ip_address=allocation.ip_address,
        status=EipStatus.AVAILABLE,
        resource_group_id=allocation.resource_group_id or "",
        tags=owner_tags(d, podeip),
    )
    return updated, seen


async def _tagged_for_me(d: Deps, podeip: PodEIP) -> Eip | None:
    """The oldest EIP tagged for this PodEIP (an earlier attempt's); others go to the sweep."""
    tags = {c.TAG_CLUSTER_ID: d.cluster_id, c.TAG_PODEIP_UID: podeip.metadata.uid or ""}
    found = [eip for eip in await d.cloud.describe_eips(tags=tags) if tagged_for(d, podeip, eip)]
    if not found:
        return None
    eip = min(found, key=lambda e: (e.allocation_time is None, e.allocation_time, e.allocation_id))
    logger.info(
        "PodEIP %s: found EIP %s by its tags; recording it",
        podeip.metadata.name,
        eip.allocation_id,
        extra=log_fields(podeip, allocation_id=eip.allocation_id),
    )
    return eip


async def join_bandwidth_package(d: Deps, podeip: PodEIP, eip: Eip, *, round: int) -> None:
    """AddCommonBandwidthPackageIp; ``round`` as for ``associate`` (a re-join needs a new token)."""
    package = podeip.spec.bandwidth_package_id or ""
    token = tokens.client_token(
        podeip_uid=podeip.metadata.uid or "",
        operation="AddCommonBandwidthPackageIp",
        attempt=round,
        request_hash=tokens.digest(eip.allocation_id, package),
    )
    await d.cloud.add_to_bandwidth_package(
        eip.allocation_id, bandwidth_package_id=package, client_token=token
    )


async def record_binding(d: Deps, podeip: PodEIP, binding: records.Binding) -> PodEIP:
    """Write down where the EIP is (to be) bound, before acting on it (R1)."""
    if records.binding_of(podeip) == binding and records.ANN_BINDING in podeip.annotations:
        return podeip
    return await record(d, podeip, {"metadata": {"annotations": {records.ANN_BINDING: binding.format()}}})


async def associate(d: Deps, podeip: PodEIP, pod: PodView, *, eni: Eni, round: int) -> PodEIP:
    """Record the target, then AssociateEipAddress.

    ``round`` counts successful associations of this PodEIP to this target in this process:
    a retry after a lost answer reuses the token (idempotent), while binding again after the
    EIP was unbound out of band needs a fresh one (a reused token would be a silent no-op).
    """
    ip = pod.pod_ip or ""
    target = records.Binding(
        eni.eni_id, ip, primary=eni.primary_ip == ip, podeip_uid=podeip.metadata.uid or "", pod_uid=pod.uid
    )
    updated = await record_binding(d, podeip, target)
    token = tokens.client_token(
        podeip_uid=podeip.metadata.uid or "",
        operation="AssociateEipAddress",
        attempt=records.attempt_of(podeip),
        request_hash=tokens.digest(podeip.spec.allocation_id, eni.eni_id, ip, pod.uid, str(round)),
    )
    await d.cloud.associate_eip(
        podeip.spec.allocation_id, eni_id=eni.eni_id, private_ip=ip, client_token=token
    )
    crash_point(d, AFTER_ASSOCIATE_BEFORE_STATUS)
    return updated


async def unassociate_if_ours(d: Deps, podeip: PodEIP, eip: Eip, verdict: ownership.Verdict) -> bool:
    """Unbind if (and only if) the verdict allows it: the EIP is this PodEIP's, and bound where
    this PodEIP recorded, for its UID. True if a call was made."""
    binding = records.binding_of(podeip)
    if ownership.Act.UNASSOCIATE not in verdict.may or binding is None or not binding.holds(eip):
        return False
    token = tokens.client_token(
        podeip_uid=podeip.metadata.uid or "",
        operation="UnassociateEipAddress",
        attempt=records.attempt_of(podeip),
        request_hash=tokens.digest(
            eip.allocation_id, binding.eni_id, binding.private_ip, podeip.annotations.get(c.ANN_POD_UID, "")
        ),
    )
    await d.cloud.unassociate_eip(
        eip.allocation_id, eni_id=binding.eni_id, private_ip=binding.private_ip, client_token=token
    )
    return True


def release_refused(eip: Eip) -> str | None:
    """Why Alibaba refuses to release this EIP whoever asks (R6), or None. Such an EIP is never
    asked for: the call would fail for ever (a teardown that never ends, a sweep that stops)."""
    if eip.deletion_protection:
        return "its deletion protection is on"
    if eip.instance_charge_type == "PrePaid":
        return "it is a subscription (PrePaid) EIP"
    return None


async def release_if_ours(d: Deps, podeip: PodEIP, eip: Eip) -> bool:
    """Release an Available Auto EIP that carries this PodEIP's tags. True if released.

    Nothing else is released, and nothing is tagged here: an EIP from AENC's or Terway's time
    is adopted (tagged) by the pass only with proof (:mod:`podeip.domain.ownership`).
    """
    namespace, name, uid = _names(podeip)
    if eip.status is not EipStatus.AVAILABLE or not tagged_for(d, podeip, eip):
        message = f"EIP {eip.allocation_id} does not carry this PodEIP's ownership tags: it is not released"
        await d.events.warning(podeip_ref(podeip), reason=c.EV_PRESERVED, message=message)
        return False
    if (refused := release_refused(eip)) is not None:
        # Someone protected it on purpose (or made it a subscription): it stays in the account,
        # and the PodEIP goes (a finalizer that can never be removed would wedge its namespace).
        message = (
            f"EIP {eip.allocation_id} is not released: {refused}; release it by hand when it is "
            "no longer needed"
        )
        await d.events.warning(podeip_ref(podeip), reason=c.EV_PRESERVED, message=message)
        return False
    if eip.bandwidth_package_id:
        token = tokens.client_token(
            podeip_uid=uid,
            operation="RemoveCommonBandwidthPackageIp",
            attempt=0,
            request_hash=tokens.digest(eip.allocation_id, eip.bandwidth_package_id),
        )
        await d.cloud.remove_from_bandwidth_package(
            eip.allocation_id, bandwidth_package_id=eip.bandwidth_package_id, client_token=token
        )
    await d.cloud.release_eip(eip.allocation_id)
    crash_point(d, AFTER_RELEASE_BEFORE_FINALIZER)
    d.metrics.gc_released.labels(strategy=podeip.spec.allocation_type.release_strategy.value).inc()
    message = f"EIP {eip.ip_address} ({eip.allocation_id}) released"
    await d.events.normal(podeip_ref(podeip), reason=c.EV_RELEASED, message=message)
    fields = log_fields(podeip, allocation_id=eip.allocation_id, operation="ReleaseEipAddress")
    logger.info("PodEIP %s/%s: %s", namespace, name, message, extra=fields)
    return True
