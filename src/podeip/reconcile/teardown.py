"""Letting go: the pod is gone, or the PodEIP is being deleted.

Part of :class:`podeip.reconcile.podeip.Reconciler` (a mixin). Whatever the strategy, an EIP
bound where we recorded is unbound as soon as the pod is gone (its IP may go to another pod).
Follow, an expired TTL and a deleted PodEIP then release an Auto EIP and forget a Static one.

The teardown never gives up (R4): the finalizer is removed only when no EIP of ours is left
for this PodEIP. An Auto EIP that is bound to something we did not bind is neither taken nor
released; the PodEIP waits, with an Event, until a human unbinds it. An EIP that is not this
PodEIP's (:mod:`podeip.domain.ownership`: another PodEIP's tags or claim, or an untagged EIP
never adopted) gets no mutating call at all: the finalizer just goes.
"""

from __future__ import annotations

from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.cloud.models import EipStatus
from podeip.domain import ownership, release
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import expiry, outputs, records, steps
from podeip.reconcile.base import PassBase, key_of
from podeip.reconcile.deps import podeip_ref
from podeip.reconcile.looks import BUSY_STATES
from podeip.reconcile.queue import Requeue

SLOW_RETRY = 30.0


class Teardown(PassBase):
    async def _pod_gone(self, podeip: PodEIP, decision: release.Decision) -> None:
        """Unbind at once (whatever the strategy), then delete, wait for the TTL, or keep."""
        key = key_of(podeip)
        if decision.gone_since is not None:
            # First seen gone: the TTL runs from now, recorded before anything else so that a
            # restart neither restarts nor shortens it.
            moment = records.format_gone_since(decision.gone_since)
            podeip = await steps.record(
                self.d, podeip, {"metadata": {"annotations": {c.ANN_POD_GONE_SINCE: moment}}}
            )
        podeip = await expiry.report(self.d, podeip, decision)
        allocation_id = podeip.spec.allocation_id
        eip = await self.looks.eip(allocation_id) if allocation_id else None
        if eip is not None and eip.status in BUSY_STATES:
            raise self.looks.poll(key, eip.status.value)
        if eip is not None and eip.status is EipStatus.IN_USE:
            verdict = self._judge(podeip, eip, claim=await self._claim_of(podeip))
            if await steps.unassociate_if_ours(self.d, podeip, eip, verdict):
                message = f"pod gone: EIP {allocation_id} unassociated from its IP"
                await self.d.events.normal(podeip_ref(podeip), reason=c.EV_UNASSOCIATED, message=message)
                raise self.looks.poll(key, "unassociating")
            if verdict.standing is ownership.Standing.HELD_BY_OTHER:  # a Static EIP another PodEIP holds
                await self._left_alone(podeip, None, verdict)
        self.looks.settled(key)
        fields: dict[str, Any] = {"privateIPAddress": None, "networkInterfaceID": None}
        if eip is not None:
            fields |= records.observed_status(eip)
        # podLastSeen shows the moment the TTL runs from (written once the EIP is unbound).
        seen_gone = records.gone_since_of(podeip) or decision.last_seen
        if seen_gone is not None:
            fields["podLastSeen"] = seen_gone
        if decision.action in (release.Action.RELEASE, release.Action.UNASSOCIATE_AND_FORGET):
            await self._write_status(podeip, fields, ready=("False", c.EV_RELEASING, "the pod is gone"))
            try:
                await self.d.podeips.delete(key[0], key[1], uid=podeip.metadata.uid)
            except (kube_errors.NotFound, kube_errors.Conflict):
                return
            return  # the PodEIP's own update event runs the teardown
        if decision.note:
            await self.d.events.warning(podeip_ref(podeip), reason=c.EV_PRESERVED, message=decision.note)
        strategy = podeip.spec.allocation_type.release_strategy
        reason = c.EV_WAITING_FOR_TTL if strategy is ReleaseStrategy.TTL else c.EV_POD_GONE
        message = f"the pod is gone; EIP {allocation_id} is kept ({strategy})"
        if (until := decision.expires_at or decision.next_check) is not None:
            message += f" until {until.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        if (
            eip is not None
            and eip.status is EipStatus.AVAILABLE
            and podeip.annotations.get(records.ANN_BINDING)
        ):
            patch = {"metadata": {"annotations": {records.ANN_BINDING: None}}}
            podeip = await steps.record(self.d, podeip, patch)
        await self._write_status(podeip, fields, ready=("False", reason, message))
        if decision.next_check is not None:
            remaining = (decision.next_check - self.d.clock()).total_seconds()
            raise Requeue(after=max(remaining, 0.0) + 0.5, reason=reason)

    async def _teardown(self, podeip: PodEIP, pod: PodView | None) -> None:
        key = key_of(podeip)
        kind, _ = records.kind_of_strategy(podeip)
        for eip in await steps.eips_of(self.d, podeip, get_eip=self.looks.eip):
            if eip.status in BUSY_STATES:
                raise self.looks.poll(key, eip.status.value)
            verdict = self._judge(podeip, eip, claim=await self._claim_of(podeip))
            if verdict.standing is ownership.Standing.ADOPT:  # opted in: adopted, then as ours
                await self._adopt_eip(podeip, eip, verdict)
                raise Requeue(after=0.0, reason="EIP adopted")
            if verdict.standing is not ownership.Standing.OURS:
                # Another PodEIP's, never adopted, or unclaimed: no call at all.
                message = f"EIP {eip.allocation_id} left untouched: {verdict.reason}"
                await self.d.events.normal(podeip_ref(podeip), reason=c.EV_PRESERVED, message=message)
                continue
            if eip.status is EipStatus.IN_USE:
                if await steps.unassociate_if_ours(self.d, podeip, eip, verdict):
                    raise self.looks.poll(key, "unassociating before release")
                if kind is AllocationType.AUTO:
                    message = (
                        f"EIP {eip.allocation_id} is bound to {eip.instance_id}, which this PodEIP did not "
                        "bind; it is neither taken away nor released; unbind it to let the PodEIP go"
                    )
                    await self.d.events.warning(
                        podeip_ref(podeip), reason=c.EV_FAILED_RELEASE, message=message
                    )
                    raise Requeue(after=SLOW_RETRY, reason="EIP bound elsewhere")
                continue  # Static: bound elsewhere, not ours to unbind
            if kind is AllocationType.AUTO:
                await steps.release_if_ours(self.d, podeip, eip)
        if kind is AllocationType.STATIC and podeip.spec.allocation_id:
            self._claims.pop(podeip.spec.allocation_id, None)
            holder = holder_identity(namespace=key[0], name=key[1], uid=podeip.metadata.uid or "")
            await self.d.claims.release_claim(podeip.spec.allocation_id, holder=holder)
        if pod is not None and pod.uid == podeip.annotations.get(c.ANN_POD_UID) and not pod.is_gone:
            await outputs.publish(
                self.d.pods,
                pod,
                address=None,
                reason=c.EV_RELEASED,
                message="the PodEIP was deleted",
                now=self.d.clock(),
            )
        try:
            await self.d.podeips.remove_finalizer(
                key[0], key[1], c.FINALIZER, resource_version=podeip.metadata.resource_version or ""
            )
        except kube_errors.Conflict:
            raise Requeue(after=0.0, reason="PodEIP changed during teardown") from None
        except kube_errors.NotFound:
            return
        self.looks.clear(key)
        self._fresh.discard(podeip.metadata.uid or "")
        for what in ("associate", "join"):
            self._rounds.pop((key, what), None)
        self.d.enqueue(key)  # the pod may still ask for an EIP: it gets a new PodEIP
