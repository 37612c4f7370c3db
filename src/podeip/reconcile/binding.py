"""The pod is there: allocate (Auto) or claim (Static), associate, and show it on the pod.

Part of :class:`podeip.reconcile.podeip.Reconciler` (a mixin, so that each step of the pass
reads as one short method). Safety rules in the order of the steps: the allocation is found by
its tags before a second one is made (R3); a Static EIP has one holder (R7); nothing tagged for
another owner is used, and an untagged EIP only once adopted with proof (the pass's ownership
gate, :mod:`podeip.domain.ownership`); an EIP bound to something we did not bind is never
taken (R7); the pod is read again right before Associate (R10); the target is recorded, with
this PodEIP's and the pod's UIDs, before the call (R1).
"""

from __future__ import annotations

from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP
from podeip.api.pods import PodView
from podeip.cloud.models import NETWORK_INTERFACE, Eip, EipStatus
from podeip.domain import ownership
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import outputs, records, steps
from podeip.reconcile.base import CLAIM_RECHECK, PassBase
from podeip.reconcile.deps import pod_ref, podeip_ref
from podeip.reconcile.looks import BUSY_REASONS, BUSY_STATES, STEADY
from podeip.reconcile.queue import Key, Requeue

#: Waiting for something only a human or another pod can change.
SLOW_RETRY = 30.0
#: An EIP is taken as lost only when two looks this far apart do not find it.
LOST_CONFIRM = 5.0


class Binding(PassBase):
    async def _ensure_bound(self, podeip: PodEIP, pod: PodView) -> None:
        key = (pod.namespace, pod.name)
        if not pod.pod_ip or not pod.node_name:
            # No cloud call before the pod is scheduled and has its IP (seed 000: the EIP comes
            # "after a pod IP address is allocated"): an EIP for a pod that may never run is
            # billed and takes quota. The pod's next event (its IP) brings it back.
            await self._show(podeip, pod, reason=c.EV_WAITING_FOR_POD_IP, message="the pod has no IP yet")
            return
        kind, _ = records.kind_of_strategy(podeip)
        if kind is AllocationType.AUTO and not podeip.spec.allocation_id:
            uid = podeip.metadata.uid or ""
            podeip, _ = await steps.allocate(self.d, podeip, pod, lookup=uid not in self._fresh)
            self._fresh.discard(uid)
        allocation_id = podeip.spec.allocation_id
        if kind is AllocationType.STATIC and not await self._claim(podeip, pod):
            raise Requeue(after=SLOW_RETRY, reason="EIP claimed by another pod")
        eip = await self.looks.eip(allocation_id, max_age=STEADY)
        if eip is None:
            await self._eip_missing(podeip, pod)
            return
        self._missing.pop(allocation_id, None)
        if steps.owner_tags_state(self.d, podeip, eip) == "foreign":  # a Static EIP (Auto: the gate)
            await self._left_alone(podeip, pod, self._judge(podeip, eip))
            raise Requeue(after=SLOW_RETRY, reason="EIP not ours")
        if eip.status in BUSY_STATES:
            await self._show(
                podeip, pod, reason=BUSY_REASONS[eip.status], message=f"EIP {allocation_id} is {eip.status}"
            )
            raise self.looks.poll(key, eip.status.value)
        if eip.status is EipStatus.IN_USE:
            eni_id = await self._eni_if_on_pod(podeip, pod, eip)
            if eni_id:
                self.looks.settled(key)
                await self._bound(podeip, pod, eip, eni_id=eni_id)
                return
            fresh = await self.looks.eip(allocation_id)  # a fresh look before unbinding (R6)
            if fresh != eip:
                raise Requeue(after=0.0, reason="the EIP changed")
            # A Static PodEIP got here only holding the claim (``_claim`` above).
            claim = ownership.Claim.MINE if kind is AllocationType.STATIC else ownership.Claim.NONE
            verdict = self._judge(podeip, eip, claim=(claim, ""))
            if await steps.unassociate_if_ours(self.d, podeip, eip, verdict):
                raise self.looks.poll(key, "unbinding from the previous pod IP")
            where = f"{eip.instance_type} {eip.instance_id} {eip.private_ip_address}".strip()
            await self._conflict(podeip, pod, f"EIP {allocation_id} is bound to {where}, not by us")
            raise Requeue(after=SLOW_RETRY, reason="EIP bound elsewhere")
        # Available (and ours: the gate adopted or refused an untagged Auto EIP): join the
        # bandwidth package, find the ENI of the pod IP, re-read the pod, record the target, associate.
        if podeip.spec.bandwidth_package_id and eip.bandwidth_package_id != podeip.spec.bandwidth_package_id:
            join = self._next_round(key, "join")
            await steps.join_bandwidth_package(self.d, podeip, eip, round=join)
            self._rounds[(key, "join")] = join
        found = await self.d.cloud.find_eni(pod.pod_ip)
        if found is None:
            message = f"no ENI in the VPC holds pod IP {pod.pod_ip}"
            await self._show(podeip, pod, reason=c.EV_NO_ENI, message=message, warn=True)
            raise Requeue(after=SLOW_RETRY, reason="no ENI for the pod IP")
        await self._still_the_same_pod(pod)
        association = self._next_round(key, "associate")
        if association == 0 and self._was_bound_to(podeip, pod, found.eni_id):
            # Bound here before, unbound since, and this process does not remember the round
            # (a restart): round 0's token was spent on the first binding, and Alibaba would
            # answer it as a replay and bind nothing. The EIP is Available, so no earlier call
            # of ours is pending for it: any token not used before is safe, and the time is one.
            association = int(self.d.clock().timestamp())
        await steps.associate(self.d, podeip, pod, eni=found, round=association)
        self._rounds[(key, "associate")] = association
        await self._show(
            podeip, pod, reason=c.EV_ASSOCIATING, message=f"associating {allocation_id} with {pod.pod_ip}"
        )
        raise self.looks.poll(key, "associating")

    @staticmethod
    def _was_bound_to(podeip: PodEIP, pod: PodView, eni_id: str) -> bool:
        """The PodEIP's status shows its EIP bound to this pod IP on this ENI (from a pass that
        saw it InUse there): an association to this target has been made before."""
        status = podeip.status
        return bool(
            status
            and status.eip_address
            and status.private_ip_address == pod.pod_ip
            and status.network_interface_id == eni_id
        )

    def _next_round(self, key: Key, what: str) -> int:
        return self._rounds.get((key, what), -1) + 1

    async def _still_the_same_pod(self, pod: PodView) -> None:
        """R10: the pod read at the start of the pass may be gone and its IP reused by now."""
        try:
            current = PodView.from_body(await self.d.pods.get_pod(pod.namespace, pod.name))
        except kube_errors.NotFound:
            raise Requeue(after=0.0, reason="the pod is gone") from None
        if current.uid != pod.uid or current.pod_ip != pod.pod_ip or current.is_gone:
            raise Requeue(after=0.0, reason="the pod changed")

    async def _eni_if_on_pod(self, podeip: PodEIP, pod: PodView, eip: Eip) -> str | None:
        """The ENI through which the EIP is bound to this pod's IP, or None if it is bound elsewhere.

        Private IPs are unique in a VPC, so an ENI binding to the pod's current IP is this pod's
        (we read the pod at the start of the pass). An exclusive ENI bound by its primary IP
        reports no private IP: then the ENI that holds the pod IP must be the bound instance.
        """
        if eip.instance_type and eip.instance_type != NETWORK_INTERFACE:
            return None
        if eip.private_ip_address:
            return eip.instance_id if eip.private_ip_address == pod.pod_ip else None
        binding = records.binding_of(podeip)
        if (
            binding
            and binding.primary
            and binding.eni_id == eip.instance_id
            and binding.private_ip == pod.pod_ip
        ):
            return eip.instance_id
        eni = await self.d.cloud.find_eni(pod.pod_ip or "")
        if eni and eni.eni_id == eip.instance_id and eni.primary_ip == pod.pod_ip:
            return eni.eni_id
        return None

    async def _bound(self, podeip: PodEIP, pod: PodView, eip: Eip, *, eni_id: str) -> None:
        now = self.d.clock()
        ip = pod.pod_ip or ""
        uid, primary = podeip.metadata.uid or "", not eip.private_ip_address
        binding = records.Binding(eni_id, ip, primary=primary, podeip_uid=uid, pod_uid=pod.uid)
        if records.binding_of(podeip) != binding:
            # Found bound (an adopted EIP, our answer was lost, or a record of an older format):
            # record it, so that it is unbound when the pod goes (R6 compares with this record).
            podeip = await steps.record_binding(self.d, podeip, binding)
        status = records.observed_status(eip) | {
            "eipAddress": eip.ip_address,
            "privateIPAddress": ip,
            "networkInterfaceID": eni_id,
        }
        first_time = not (
            podeip.status
            and podeip.status.eip_address == eip.ip_address
            and podeip.status.private_ip_address == ip
        )
        ready = ("True", c.EV_BOUND, f"EIP {eip.ip_address} on {ip}")
        await self._write_status(podeip, status, ready=ready)
        changed = await outputs.publish(
            self.d.pods, pod, address=eip.ip_address, reason=c.READINESS_REASON_OK, now=now
        )
        if changed and pod.declares_eip_gate and podeip.metadata.creation_timestamp:
            self.d.metrics.ready_seconds.observe((now - podeip.metadata.creation_timestamp).total_seconds())
        if first_time:
            message = f"EIP {eip.ip_address} ({eip.allocation_id}) associated with pod IP {ip} on {eni_id}"
            await self.d.events.normal(pod_ref(pod), reason=c.EV_ASSOCIATED, message=message)
            await self.d.events.normal(podeip_ref(podeip), reason=c.EV_ASSOCIATED, message=message)

    async def _claim(self, podeip: PodEIP, pod: PodView) -> bool:
        """One holder per allocation ID (docs/reliability.md R7): a Lease named after the EIP."""
        me = holder_identity(namespace=pod.namespace, name=pod.name, uid=podeip.metadata.uid or "")
        allocation_id = podeip.spec.allocation_id
        held = self._claims.get(allocation_id)
        if held is not None and held[0] == me and self.d.monotonic() - held[1] < CLAIM_RECHECK:
            return True  # ours a moment ago: passes caused by our own writes need not ask again
        holder = await self.d.claims.claim(allocation_id, holder=me)
        if holder != me and not await self._holder_exists(holder):
            # The holder's PodEIP is gone without releasing its claim (a finalizer removed by
            # hand): drop the stale claim, then claim again.
            await self.d.claims.release_claim(allocation_id, holder=holder)
            holder = await self.d.claims.claim(allocation_id, holder=me)
        if holder == me:
            self._claims[allocation_id] = (me, self.d.monotonic())
            return True
        self._claims.pop(allocation_id, None)
        message = f"EIP {allocation_id} is claimed by pod {holder.rpartition('/')[0]}; waiting"
        await self._show(podeip, pod, reason=c.EV_CLAIMED_BY_OTHER, message=message, warn=True)
        return False

    async def _holder_exists(self, holder: str) -> bool:
        namespace, _, rest = holder.partition("/")
        name, _, uid = rest.partition("/")
        try:
            body: dict[str, Any] = await self.d.podeips.get(namespace, name)
        except kube_errors.NotFound:
            return False
        return bool(body.get("metadata", {}).get("uid") == uid)

    async def _eip_missing(self, podeip: PodEIP, pod: PodView) -> None:
        """The recorded EIP is not found. Only two looks apart, and no EIP tagged for this
        PodEIP, make it lost: a Describe that briefly misses an EIP must not cause a second one."""
        allocation_id = podeip.spec.allocation_id
        first = self._missing.setdefault(allocation_id, self.d.monotonic())
        if self.d.monotonic() - first < LOST_CONFIRM:
            raise Requeue(after=LOST_CONFIRM, reason="EIP not found; looking again")
        kind, _ = records.kind_of_strategy(podeip)
        message = f"EIP {allocation_id} no longer exists"
        adopted = records.frozen_request(podeip) is None
        if kind is AllocationType.STATIC or adopted:
            # A Static EIP is the user's; an adopted PodEIP has no request to allocate anew with.
            await self._show(podeip, pod, reason=c.EV_EIP_NOT_FOUND, message=message, warn=True)
            raise Requeue(after=SLOW_RETRY, reason="EIP missing")
        self._missing.pop(allocation_id, None)
        await self.d.events.warning(
            podeip_ref(podeip), reason=c.EV_EIP_LOST, message=message + "; allocating anew"
        )
        # Auto: released out of band. Forget it and allocate anew with a fresh token (the tag
        # lookup before Allocate still finds anything tagged for this PodEIP).
        attempt = str(records.attempt_of(podeip) + 1)
        patch = {
            "metadata": {"annotations": {c.ANN_ATTEMPT: attempt, records.ANN_BINDING: None}},
            "spec": {"allocationID": ""},
        }
        await steps.record(self.d, podeip, patch)
        raise Requeue(after=0.0, reason="EIP lost; allocating again")

    async def _conflict(self, podeip: PodEIP, pod: PodView, message: str) -> None:
        message += "; it is never taken away"
        await self._show(podeip, pod, reason=c.EV_CONFLICT, message=message, warn=True)
