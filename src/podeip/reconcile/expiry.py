"""Events of the kept-EIP expiry (``keptEipExpiry``; the decision is :func:`podeip.domain.release.decide`).

A Warning ``EipExpiring`` on the PodEIP once the warning is due (given once per expiry: the
moment is recorded on the PodEIP, so a restart does not repeat it), and a Warning ``EipExpired``
when the expiry ends the PodEIP, before its teardown releases (Auto) or forgets (Static) the EIP.
"""

from __future__ import annotations

from podeip import constants as c
from podeip.api.durations import format_go_duration
from podeip.api.podeip import AllocationType, PodEIP
from podeip.domain import release
from podeip.reconcile import steps
from podeip.reconcile.deps import Deps, podeip_ref


async def report(d: Deps, podeip: PodEIP, decision: release.Decision) -> PodEIP:
    if decision.cascaded:
        message = (
            f"the workload {podeip.annotations.get(c.ANN_OWNER)} that created this PodEIP is deleted "
            f"(cascadeReclaim): EIP {podeip.spec.allocation_id or '(none)'} ends with it"
        )
        await d.events.normal(podeip_ref(podeip), reason=c.EV_OWNER_DELETED, message=message)
        return podeip
    if decision.expires_at is None:
        return podeip
    moment = decision.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    allocation_id = podeip.spec.allocation_id or "(none)"
    ending = (
        "released" if podeip.spec.allocation_type.type is AllocationType.AUTO else "unbound and forgotten"
    )
    limit = d.settings.kept_eip_expiry
    shown = format_go_duration(limit) if limit else ""
    if decision.expired:
        message = f"EIP {allocation_id} was kept unbound for keptEipExpiry {shown}: it is {ending} now"
        await d.events.warning(podeip_ref(podeip), reason=c.EV_EIP_EXPIRED, message=message)
        return podeip
    if not decision.warn_expiry or podeip.annotations.get(c.ANN_EXPIRY_WARNED) == moment:
        return podeip
    updated = await steps.record(d, podeip, {"metadata": {"annotations": {c.ANN_EXPIRY_WARNED: moment}}})
    message = (
        f"EIP {allocation_id} is kept unbound since its pod is gone and will be {ending} at {moment} "
        f"(keptEipExpiry {shown}), unless a pod of the same name comes back"
    )
    await d.events.warning(podeip_ref(podeip), reason=c.EV_EIP_EXPIRING, message=message)
    return updated
