"""One reconcile pass for a pod and its PodEIP (same namespace and name).

The pass reads the pod, the PodEIP and the EIP, and takes the next step towards the state the
release matrix asks for (compatibility §5), at most one mutating cloud call at a time:

    no PodEIP, pod asks        → create the PodEIP (finalizer, frozen request)
    PodEIP being deleted       → teardown: unassociate (ours only), release (Auto, tagged ours),
                                 drop the claim (Static), then remove the finalizer
    pod present (same or reborn same-owner pod)
                               → allocate (Auto) / claim (Static) → associate → show on the pod
    pod gone                   → unassociate at once; Follow or expired TTL: delete the
                                 PodEIP (its teardown releases); TTL: wait; Never: keep

Async cloud states and waits are ``Requeue``s, never sleeps. The safety rules (reliability
R1–R7, R10) are in the order of the steps: record before acting, compare before unbinding,
release only what carries our tags, never take an EIP bound to something we did not bind.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.cloud import errors as cloud_errors
from podeip.cloud.models import NETWORK_INTERFACE, Eip, EipStatus
from podeip.domain import release, tokens
from podeip.domain.annotations import parse_pod_annotations
from podeip.domain.request import ParseResult
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import outputs, records, steps
from podeip.reconcile.deps import Deps, pod_ref, podeip_ref
from podeip.reconcile.queue import Key, Requeue

logger = logging.getLogger(__name__)

#: Bounds of the delay between looks at an EIP in an async state (Associating, Unassociating).
POLL_MIN, POLL_MAX = 0.25, 5.0
#: Waiting for something only a human or another pod can change.
SLOW_RETRY = 30.0
#: Seconds a steady observation stands in for a Describe: for decisions that only write
#: Kubernetes objects (STEADY), and for those that may unbind or release (FRESH, R6).
STEADY, FRESH = 30.0, 2.0
#: Seconds a confirmed claim on a static EIP is trusted before the Lease is read again.
CLAIM_RECHECK = 60.0
REPORTS_REMEMBERED = 10_000
QUOTA_RETRY = 60.0
BUSY_STATES = frozenset({EipStatus.ASSOCIATING, EipStatus.UNASSOCIATING, EipStatus.RELEASING})


class Reconciler:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        #: Keys waiting for an async cloud state: (monotonic start, looks so far, next look due).
        self._waits: dict[Key, tuple[float, int, float]] = {}
        #: How long async transitions take here, learnt from the waits (seconds).
        self.transition_estimate = 1.0
        #: UIDs of PodEIPs this process created and has not yet allocated for: no earlier
        #: attempt can exist, so the tag lookup before Allocate (R3) is skipped for them.
        self._fresh: set[str] = set()
        self._associations: dict[Key, int] = {}
        #: Static claims this process holds: allocation ID → (holder, monotonic time confirmed).
        self._claims: dict[str, tuple[str, float]] = {}  # successful Associate calls per key (token rounds)
        #: pod uid → the last findings we reported (bounded: old pods fall out first).
        self._reported: OrderedDict[str, str] = OrderedDict()
        self._virtual_nodes: dict[str, bool] = {}
        #: Observations from the last GC listing, used once instead of a Describe.
        self.observed: dict[str, tuple[Eip, datetime]] = {}

    # ---- entry point ---------------------------------------------------------------------
    async def reconcile(self, key: Key) -> None:
        namespace, name = key
        pod = await self._get(self.d.pods.get_pod, namespace, name)
        body = await self._get(self.d.podeips.get, namespace, name)
        podeip = PodEIP.model_validate(body) if body else None
        pod_view = PodView.from_body(pod) if pod else None
        if podeip is None:
            if pod_view is None:
                return
            podeip = await self._create(pod_view)
            if podeip is None:
                return
        try:
            await self._step(podeip, pod_view)
        except cloud_errors.CloudError as error:
            await self._cloud_failure(podeip, pod_view, error)

    async def _step(self, podeip: PodEIP, pod: PodView | None) -> None:
        self._look_not_due((podeip.metadata.namespace or "", podeip.metadata.name or ""))
        if podeip.metadata.deletion_timestamp is not None:
            await self._teardown(podeip, pod)
            return
        adoptable = not podeip.annotations.get(c.ANN_POD_UID) and pod is not None and not pod.is_gone
        if adoptable and pod is not None and self._asks_for(pod, podeip):
            # A PodEIP that AENC or Terway's migration created: its pod is this one.
            podeip = await self._adopt_reborn(podeip, pod, reborn=False)
        kind, strategy = records.kind_of_strategy(podeip)
        presence = release.pod_presence(
            pod=pod,
            recorded_uid=podeip.annotations.get(c.ANN_POD_UID, ""),
            recorded_owner=podeip.annotations.get(c.ANN_OWNER, ""),
            asks_for_eip=pod is not None and self._asks_for(pod, podeip),
        )
        decision = release.decide(
            allocation_type=kind,
            strategy=strategy,
            release_after=podeip.spec.allocation_type.release_after,
            pod=presence,
            last_seen=podeip.status.pod_last_seen if podeip.status else None,
            now=self.d.clock(),
        )
        if decision.action is release.Action.ASSOCIATE and pod is not None:
            podeip = await self._adopt_reborn(podeip, pod)
        if decision.action in (release.Action.KEEP_ASSOCIATED, release.Action.ASSOCIATE) and pod is not None:
            await self._ensure_bound(podeip, pod)
            return
        if decision.action is release.Action.REFUSE and pod is not None:
            message = (
                f"PodEIP {pod.namespace}/{pod.name} keeps EIP {podeip.spec.allocation_id} for pod "
                f"{podeip.annotations.get(c.ANN_OWNER) or 'of another owner'}; this pod gets no EIP"
            )
            await self._tell_once(pod, c.EV_CLAIMED_BY_OTHER, message)
        await self._pod_gone(podeip, decision)

    # ---- reading -------------------------------------------------------------------------
    @staticmethod
    async def _get(getter: Callable[[str, str], Any], namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await getter(namespace, name)
            return result
        except kube_errors.NotFound:
            return None

    def _parse(self, pod: PodView) -> ParseResult:
        s = self.d.settings
        return parse_pod_annotations(
            pod.annotations,
            owner_kind=pod.owner.kind if pod.owner else None,
            custom_stateful_kinds=s.custom_stateful_workload_kinds,
            max_release_after=timedelta(seconds=s.max_release_after_seconds),
            max_bandwidth=s.max_bandwidth_mbps,
            allow_prepaid=s.allow_prepaid,
        )

    async def _eip(self, allocation_id: str, *, max_age: float = FRESH) -> Eip | None:
        """The EIP as last seen, if that was a steady state at most ``max_age`` seconds ago.

        Most passes are caused by our own writes (status, annotations, the gate) a moment after
        we looked; they reuse that look. A pass that may unbind or release asks for a fresh one
        (R6), and every mutation forgets what was seen (``_forget``). Out-of-band changes are
        picked up by the periodic resync, whose listing refreshes these observations.
        """
        seen = self.observed.get(allocation_id)
        if (
            seen
            and seen[0].status not in BUSY_STATES
            and (self.d.clock() - seen[1]).total_seconds() <= max_age
        ):
            return seen[0]
        eip = await self.d.cloud.get_eip(allocation_id)
        if eip is None:
            self.observed.pop(allocation_id, None)
        else:
            self.observed[allocation_id] = (eip, self.d.clock())
        return eip

    def _forget(self, allocation_id: str) -> None:
        self.observed.pop(allocation_id, None)

    def _poll(self, key: Key, reason: str) -> Requeue:
        """Look again when the transition should be over: one Describe per transition, usually.

        The first look comes after the learnt transition time; if the state has not settled by
        then, looks follow at a quarter of it, growing, within [POLL_MIN, POLL_MAX]. Passes that
        other events cause in between wait for that look instead of making their own.
        """
        now = time.monotonic()
        started, looks, _ = self._waits.get(key, (now, 0, now))
        estimate = self.transition_estimate
        delay = min(POLL_MAX, max(POLL_MIN, estimate if looks == 0 else estimate * 0.25 * 1.5 ** (looks - 1)))
        self._waits[key] = (started, looks + 1, now + delay)
        return Requeue(after=delay, reason=reason)

    def _look_not_due(self, key: Key) -> None:
        wait = self._waits.get(key)
        if wait is not None and (remaining := wait[2] - time.monotonic()) > 0:
            raise Requeue(after=remaining, reason="waiting for the next look")

    def _settled(self, key: Key) -> None:
        """The async state was reached: learn how long it took."""
        wait = self._waits.pop(key, None)
        if wait is None:
            return
        started, looks, _ = wait
        if looks == 1:  # settled at the first look: it may well have settled earlier; probe lower
            estimate = 0.9 * self.transition_estimate
        else:
            estimate = 0.7 * self.transition_estimate + 0.3 * (time.monotonic() - started)
        self.transition_estimate = min(10.0, max(POLL_MIN, estimate))

    def _asks_for(self, pod: PodView, podeip: PodEIP) -> bool:
        """Whether a (new) pod asks for this PodEIP's EIP: any request, and a Static one names it."""
        request = self._parse(pod).request
        if request is None:
            return False
        return (
            request.allocation_type is not AllocationType.STATIC
            or request.allocation_id == podeip.spec.allocation_id
        )

    # ---- creation ------------------------------------------------------------------------
    async def _create(self, pod: PodView) -> PodEIP | None:
        if pod.is_gone or pod.is_terminating:
            return None
        parsed = self._parse(pod)
        if not parsed.requested:
            await self._report(pod, parsed)
            return None
        if pod.host_network:
            await self._tell_once(
                pod, c.EV_POD_SKIPPED, "hostNetwork pods share the node IP: no EIP is bound"
            )
            return None
        if not self.d.settings.enable_virtual_node and await self._on_virtual_node(pod):
            await self._tell_once(
                pod, c.EV_POD_SKIPPED, "pod runs on a virtual node and enableVirtualNode is off"
            )
            return None
        await self._report(pod, parsed)
        if parsed.request is None:  # invalid annotations: nothing is allocated
            await outputs.publish(
                self.d.pods,
                pod,
                address=None,
                reason=c.EV_INVALID_ANNOTATION,
                message="; ".join(e.message for e in parsed.errors),
                now=self.d.clock(),
            )
            return None
        try:
            created = await self.d.podeips.create(records.new_podeip_body(pod, parsed.request))
        except kube_errors.AlreadyExists:
            raise Requeue(after=0.0, reason="PodEIP appeared meanwhile") from None
        podeip = PodEIP.model_validate(created)
        self._fresh.add(podeip.metadata.uid or "")
        logger.info("created PodEIP %s/%s for pod uid %s", pod.namespace, pod.name, pod.uid)
        return podeip

    async def _report(self, pod: PodView, parsed: ParseResult) -> None:
        """Events for annotation errors and warnings, once per pod and set of findings."""
        findings = [("Warning", c.EV_INVALID_ANNOTATION, e.message) for e in parsed.errors]
        findings += [(w.event_type, w.reason, w.message) for w in parsed.warnings]
        signature = repr(findings)
        if not findings or self._reported.get(pod.uid) == signature:
            return
        self._remember_report(pod.uid, signature)
        for event_type, reason, message in findings:
            await self.d.events.record(pod_ref(pod), type=event_type, reason=reason, message=message)  # type: ignore[arg-type]

    def _remember_report(self, uid: str, signature: str) -> None:
        self._reported[uid] = signature
        self._reported.move_to_end(uid)
        while len(self._reported) > REPORTS_REMEMBERED:
            self._reported.popitem(last=False)

    async def _tell_once(self, pod: PodView, reason: str, message: str) -> None:
        if self._reported.get(pod.uid) != reason + message:
            self._remember_report(pod.uid, reason + message)
            await self.d.events.warning(pod_ref(pod), reason=reason, message=message)

    async def _on_virtual_node(self, pod: PodView) -> bool:
        if not pod.node_name:
            return False
        if pod.node_name not in self._virtual_nodes:
            key, _, value = self.d.settings.virtual_node_label.partition("=")
            try:
                node = await self.d.client.get(f"/api/v1/nodes/{pod.node_name}")
            except kube_errors.NotFound:
                return False
            labels = node.get("metadata", {}).get("labels") or {}
            self._virtual_nodes[pod.node_name] = labels.get(key) == value
        return self._virtual_nodes[pod.node_name]

    async def _adopt_reborn(self, podeip: PodEIP, pod: PodView, *, reborn: bool = True) -> PodEIP:
        """A pod takes over the PodEIP's EIP: a same-name pod of the same owner coming back to a
        kept EIP (compatibility §5.3), or, ``reborn=False``, the pod of a PodEIP that another
        controller (AENC, Terway's migration) created, which records no pod UID (§5.4)."""
        parsed = self._parse(pod)
        patch: dict[str, Any] = {"metadata": {"annotations": {c.ANN_POD_UID: pod.uid}}}
        if not podeip.annotations.get(c.ANN_OWNER):
            patch["metadata"]["annotations"][c.ANN_OWNER] = records.owner_label(pod)
        if reborn and parsed.request is not None:  # the new pod's release strategy replaces the stored one
            spec_type: dict[str, Any] = {"releaseStrategy": parsed.request.release_strategy.value}
            spec_type["releaseAfter"] = parsed.request.release_after
            patch["spec"] = {"allocationType": spec_type}
        updated = await self.d.podeips.patch_metadata_and_spec(
            pod.namespace, pod.name, patch, resource_version=podeip.metadata.resource_version or ""
        )
        if reborn:
            reason, message = c.EV_PRESERVED, f"pod {pod.name} (uid {pod.uid}) is back and reuses EIP"
        else:
            reason, message = c.EV_ADOPTED, f"PodEIP adopted for pod {pod.name} (uid {pod.uid}) with EIP"
        await self.d.events.normal(
            podeip_ref(podeip),
            reason=reason,
            message=f"{message} {podeip.spec.allocation_id or '(none yet)'}",
        )
        return PodEIP.model_validate(updated)

    # ---- the pod is there: allocate, claim, associate, show ---------------------------------
    async def _ensure_bound(self, podeip: PodEIP, pod: PodView) -> None:
        key = (pod.namespace, pod.name)
        kind, _ = records.kind_of_strategy(podeip)
        allocation_id = podeip.spec.allocation_id
        if kind is AllocationType.AUTO and not allocation_id:
            uid = podeip.metadata.uid or ""
            podeip, allocated = await steps.allocate(self.d, podeip, pod, lookup=uid not in self._fresh)
            self._fresh.discard(uid)
            allocation_id = podeip.spec.allocation_id
            if allocated is not None:  # a new EIP is Available: no need to Describe it
                self.observed[allocation_id] = (allocated, self.d.clock())
        if kind is AllocationType.STATIC and not await self._claim(podeip, pod):
            raise Requeue(after=SLOW_RETRY, reason="EIP claimed by another pod")
        eip = await self._eip(allocation_id, max_age=STEADY)
        if eip is None:
            await self._eip_lost(podeip, pod)
            return
        if not await self._may_use(podeip, pod, eip):
            raise Requeue(after=SLOW_RETRY, reason="EIP not ours to bind")
        if podeip.spec.bandwidth_package_id and eip.bandwidth_package_id != podeip.spec.bandwidth_package_id:
            await steps.join_bandwidth_package(self.d, podeip, eip)
            self._forget(allocation_id)
        if not pod.pod_ip:
            await self._show(podeip, pod, None, reason="WaitingForPodIP", message="the pod has no IP yet")
            return  # the pod's next event (an IP) enqueues it again
        if eip.status in BUSY_STATES:
            await self._show(
                podeip, pod, None, reason=eip.status.value, message=f"EIP {allocation_id} is {eip.status}"
            )
            raise self._poll(key, eip.status.value)
        if eip.status is EipStatus.IN_USE:
            eni_id = await self._eni_if_on_pod(podeip, pod, eip)
            if eni_id:
                self._settled(key)
                await self._bound(podeip, pod, eip, eni_id=eni_id)
                return
            fresh = await self._eip(allocation_id)  # decide on a fresh look before unbinding (R6)
            if fresh is None or fresh != eip:
                raise Requeue(after=0.0, reason="the EIP changed")
            if await steps.unassociate_if_ours(self.d, podeip, eip):
                self._forget(allocation_id)
                raise self._poll(key, "unbinding from the previous pod IP")
            await self._conflict(
                podeip,
                pod,
                f"EIP {allocation_id} is bound to {eip.instance_type} {eip.instance_id}"
                f"{' ' + eip.private_ip_address if eip.private_ip_address else ''}, not by us",
            )
            raise Requeue(after=SLOW_RETRY, reason="EIP bound elsewhere")
        # Available: find the ENI of the pod IP, record the binding, then associate.
        found = await self.d.cloud.find_eni(pod.pod_ip)
        if found is None:
            await self._show(
                podeip,
                pod,
                None,
                reason=c.EV_NO_ENI,
                message=f"no ENI in the VPC holds pod IP {pod.pod_ip}",
                warn=True,
            )
            raise Requeue(after=SLOW_RETRY, reason="no ENI for the pod IP")
        done = self._associations.get(key, -1)
        self._forget(allocation_id)
        await steps.associate(self.d, podeip, pod, eni=found, round=done + 1)
        self._associations[key] = done + 1
        await self._show(
            podeip, pod, None, reason="Associating", message=f"associating {allocation_id} with {pod.pod_ip}"
        )
        raise self._poll(key, "associating")

    async def _eni_if_on_pod(self, podeip: PodEIP, pod: PodView, eip: Eip) -> str | None:
        """The ENI through which the EIP is bound to this pod's IP, or None if it is bound elsewhere.

        Private IPs are unique in a VPC, so an ENI binding to the pod's current IP is this pod's
        (we re-read the pod at the start of the pass). An exclusive ENI bound by its primary IP
        reports no private IP: then the ENI that holds the pod IP must be the bound instance.
        """
        if eip.instance_type and eip.instance_type != NETWORK_INTERFACE:
            return None
        if eip.private_ip_address:
            return eip.instance_id if eip.private_ip_address == pod.pod_ip else None
        if records.binding_of(podeip) == (eip.instance_id, pod.pod_ip):
            return eip.instance_id
        eni = await self.d.cloud.find_eni(pod.pod_ip or "")
        if eni and eni.eni_id == eip.instance_id and eni.primary_ip == pod.pod_ip:
            return eni.eni_id
        return None

    async def _bound(self, podeip: PodEIP, pod: PodView, eip: Eip, *, eni_id: str) -> None:
        now = self.d.clock()
        status = records.observed_status(eip) | {
            "eipAddress": eip.ip_address,
            "privateIPAddress": pod.pod_ip,
            "networkInterfaceID": eni_id,
        }
        last_seen = podeip.status.pod_last_seen if podeip.status else None
        period = timedelta(minutes=self.d.settings.gc.period_minutes)
        if last_seen is None or now - last_seen >= period:
            status["podLastSeen"] = now
        first_time = not (
            podeip.status
            and podeip.status.eip_address == eip.ip_address
            and podeip.status.private_ip_address == pod.pod_ip
        )
        await self._write_status(
            podeip, status, ready=("True", "Associated", f"EIP {eip.ip_address} on {pod.pod_ip}")
        )
        if (
            await outputs.publish(
                self.d.pods, pod, address=eip.ip_address, reason=c.READINESS_REASON_OK, now=now
            )
            and pod.declares_eip_gate
            and podeip.metadata.creation_timestamp
        ):
            self.d.metrics.ready_seconds.observe((now - podeip.metadata.creation_timestamp).total_seconds())
        if first_time:
            message = (
                f"EIP {eip.ip_address} ({eip.allocation_id}) associated with pod IP {pod.pod_ip} on {eni_id}"
            )
            await self.d.events.normal(pod_ref(pod), reason=c.EV_ASSOCIATED, message=message)
            await self.d.events.normal(podeip_ref(podeip), reason=c.EV_ASSOCIATED, message=message)

    async def _claim(self, podeip: PodEIP, pod: PodView) -> bool:
        """One holder per allocation ID (reliability R7): a Lease named after the EIP."""
        me = holder_identity(namespace=pod.namespace, name=pod.name, uid=podeip.metadata.uid or "")
        allocation_id = podeip.spec.allocation_id
        held_since = self._claims.get(allocation_id)
        if (
            held_since is not None
            and held_since[0] == me
            and time.monotonic() - held_since[1] < CLAIM_RECHECK
        ):
            return True  # ours a moment ago: passes caused by our own writes need not ask again
        holder = await self.d.claims.claim(allocation_id, holder=me)
        if holder == me:
            self._claims[allocation_id] = (me, time.monotonic())
            return True
        self._claims.pop(allocation_id, None)
        holder_pod = holder.rpartition("/")[0]  # namespace/name/uid → namespace/name
        message = f"EIP {podeip.spec.allocation_id} is claimed by pod {holder_pod}; waiting"
        await self._show(podeip, pod, None, reason=c.EV_CLAIMED_BY_OTHER, message=message, warn=True)
        return False

    async def _may_use(self, podeip: PodEIP, pod: PodView, eip: Eip) -> bool:
        """Static: never an EIP tagged for another cluster or PodEIP. Auto: ours, or tagged now."""
        tags = eip.tags
        uid = podeip.metadata.uid or ""
        foreign_cluster = tags.get(c.TAG_CLUSTER_ID) not in (None, self.d.cluster_id)
        foreign_podeip = tags.get(c.TAG_PODEIP_UID) not in (None, uid)
        if foreign_cluster or foreign_podeip:
            await self._conflict(podeip, pod, f"EIP {eip.allocation_id} carries another owner's tags")
            return False
        kind, _ = records.kind_of_strategy(podeip)
        if kind is AllocationType.AUTO and tags.get(c.TAG_PODEIP_UID) != uid:
            # An adopted Auto EIP (Terway or AENC era): tag it before it counts as ours (R6).
            await self.d.cloud.tag_eips([eip.allocation_id], tags=self._owner_tags(podeip))
            await self.d.events.normal(
                podeip_ref(podeip),
                reason=c.EV_ADOPTED,
                message=f"EIP {eip.allocation_id} tagged as managed by this PodEIP",
            )
        return True

    def _owner_tags(self, podeip: PodEIP) -> dict[str, str]:
        meta = podeip.metadata
        return tokens.ownership_tags(
            cluster_id=self.d.cluster_id,
            podeip_uid=meta.uid or "",
            namespace=meta.namespace or "",
            pod_name=meta.name or "",
        )

    async def _eip_lost(self, podeip: PodEIP, pod: PodView) -> None:
        kind, _ = records.kind_of_strategy(podeip)
        message = f"EIP {podeip.spec.allocation_id} no longer exists"
        await self.d.events.warning(podeip_ref(podeip), reason="EipLost", message=message)
        if kind is AllocationType.STATIC:
            await self._show(podeip, pod, None, reason="EipNotFound", message=message, warn=True)
            raise Requeue(after=SLOW_RETRY, reason="static EIP missing")
        # Auto: released out of band. Forget it and allocate anew with a fresh token.
        patch = {
            "metadata": {
                "annotations": {c.ANN_ATTEMPT: str(records.attempt_of(podeip) + 1), records.ANN_BINDING: None}
            },
            "spec": {"allocationID": ""},
        }
        await self.d.podeips.patch_metadata_and_spec(
            podeip.metadata.namespace or "",
            podeip.metadata.name or "",
            patch,
            resource_version=podeip.metadata.resource_version or "",
        )
        raise Requeue(after=0.0, reason="EIP lost; allocating again")

    async def _conflict(self, podeip: PodEIP, pod: PodView, message: str) -> None:
        await self._show(
            podeip, pod, None, reason=c.EV_CONFLICT, message=message + "; it is never taken away", warn=True
        )

    # ---- status and the pod's view ------------------------------------------------------------
    async def _show(
        self,
        podeip: PodEIP,
        pod: PodView | None,
        address: str | None,
        *,
        reason: str,
        message: str,
        warn: bool = False,
    ) -> None:
        """A not-Ready state: PodEIP condition, pod gate (if declared), and an Event when warn."""
        await self._write_status(podeip, {}, ready=("False", reason, message))
        if pod is not None and pod.uid == podeip.annotations.get(c.ANN_POD_UID):
            await outputs.publish(
                self.d.pods, pod, address=address, reason=reason, message=message, now=self.d.clock()
            )
            if warn:
                await self.d.events.warning(pod_ref(pod), reason=reason, message=message)
        if warn:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)

    async def _write_status(
        self, podeip: PodEIP, fields: dict[str, Any], *, ready: tuple[str, str, str]
    ) -> None:
        now = self.d.clock()
        changes = records.status_changes(podeip, fields)
        conditions = records.with_condition(
            podeip, type=c.COND_READY, status=ready[0], reason=ready[1], message=ready[2], now=now
        )
        if conditions is not None:
            changes["conditions"] = conditions
        if self.d.status_fields is not None:
            changes = {key: value for key, value in changes.items() if key in self.d.status_fields}
        if changes:
            with contextlib.suppress(kube_errors.NotFound):
                await self.d.podeips.patch_status(
                    podeip.metadata.namespace or "", podeip.metadata.name or "", changes
                )

    # ---- the pod is gone ---------------------------------------------------------------------
    async def _pod_gone(self, podeip: PodEIP, decision: release.Decision) -> None:
        """Unbind at once (whatever the strategy), then delete, wait for the TTL, or keep."""
        key = (podeip.metadata.namespace or "", podeip.metadata.name or "")
        allocation_id = podeip.spec.allocation_id
        eip = await self._eip(allocation_id) if allocation_id else None
        if eip is not None and eip.status in BUSY_STATES:
            raise self._poll(key, eip.status.value)
        if (
            eip is not None
            and eip.status is EipStatus.IN_USE
            and await steps.unassociate_if_ours(self.d, podeip, eip)
        ):
            self._forget(allocation_id)
            await self.d.events.normal(
                podeip_ref(podeip),
                reason=c.EV_UNASSOCIATED,
                message=f"pod gone: EIP {allocation_id} unassociated from its IP",
            )
            raise self._poll(key, "unassociating")
        self._settled(key)
        fields: dict[str, Any] = {"privateIPAddress": None, "networkInterfaceID": None}
        if eip is not None:
            fields |= records.observed_status(eip)
        if decision.last_seen is not None:
            fields["podLastSeen"] = decision.last_seen
        if decision.action in (release.Action.RELEASE, release.Action.UNASSOCIATE_AND_FORGET):
            if eip is not None:  # the teardown that follows may use this fresh look
                self.observed[eip.allocation_id] = (eip, self.d.clock())
            await self._write_status(podeip, fields, ready=("False", "Releasing", "the pod is gone"))
            try:
                await self.d.podeips.delete(key[0], key[1], uid=podeip.metadata.uid)
            except (kube_errors.NotFound, kube_errors.Conflict):
                return
            logger.info("pod gone: deleting PodEIP %s/%s (%s)", *key, decision.action)
            return  # the PodEIP's own update event runs the teardown
        if decision.note:
            await self.d.events.warning(podeip_ref(podeip), reason=c.EV_PRESERVED, message=decision.note)
        strategy = podeip.spec.allocation_type.release_strategy
        reason = "WaitingForTTL" if strategy is ReleaseStrategy.TTL else "PodGone"
        message = f"the pod is gone; EIP {allocation_id} is kept ({strategy})"
        if decision.next_check is not None:
            message += f" until {decision.next_check.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        if records.binding_of(podeip) is not None:
            await self._forget_binding(podeip)
        await self._write_status(podeip, fields, ready=("False", reason, message))
        if decision.next_check is not None:
            raise Requeue(
                after=max((decision.next_check - self.d.clock()).total_seconds(), 0.0) + 0.5, reason=reason
            )

    async def _forget_binding(self, podeip: PodEIP) -> None:
        patch = {"metadata": {"annotations": {records.ANN_BINDING: None}}}
        await self.d.podeips.patch_metadata_and_spec(
            podeip.metadata.namespace or "",
            podeip.metadata.name or "",
            patch,
            resource_version=podeip.metadata.resource_version or "",
        )

    # ---- the PodEIP is being deleted: undo what is ours, then let it go -------------------------
    async def _teardown(self, podeip: PodEIP, pod: PodView | None) -> None:
        """Never gives up (reliability R4): the finalizer goes only when nothing of ours is left."""
        key = (podeip.metadata.namespace or "", podeip.metadata.name or "")
        kind, _ = records.kind_of_strategy(podeip)
        for eip in await steps.eips_of(self.d, podeip, get_eip=self._eip):
            if eip.status in BUSY_STATES:
                raise self._poll(key, eip.status.value)
            if eip.status is EipStatus.IN_USE:
                if await steps.unassociate_if_ours(self.d, podeip, eip):
                    self._forget(eip.allocation_id)
                    raise self._poll(key, "unassociating before release")
                if kind is AllocationType.AUTO and steps.tagged_for(self.d, podeip, eip):
                    message = (
                        f"EIP {eip.allocation_id} is bound to {eip.instance_id}, which this PodEIP did not "
                        "bind; it is neither taken away nor released; unbind it to let the PodEIP go"
                    )
                    await self.d.events.warning(
                        podeip_ref(podeip), reason=c.EV_FAILED_RELEASE, message=message
                    )
                    raise Requeue(after=SLOW_RETRY, reason="EIP bound elsewhere")
                continue
            if kind is AllocationType.AUTO:
                self._forget(eip.allocation_id)
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
                reason="EipReleased",
                message="the PodEIP was deleted",
                now=self.d.clock(),
            )
        self._settled(key)
        try:
            await self.d.podeips.remove_finalizer(
                key[0], key[1], c.FINALIZER, resource_version=podeip.metadata.resource_version or ""
            )
        except kube_errors.Conflict:
            raise Requeue(after=0.0, reason="PodEIP changed during teardown") from None
        except kube_errors.NotFound:
            return
        self._associations.pop(key, None)
        logger.info("PodEIP %s/%s released its EIP and is gone", *key)
        self.d.enqueue(key)  # the pod may still ask for an EIP: it gets a new PodEIP

    # ---- cloud failures: visible, classified, retried --------------------------------------------
    async def _cloud_failure(
        self, podeip: PodEIP, pod: PodView | None, error: cloud_errors.CloudError
    ) -> None:
        category = type(error).__name__
        self.d.metrics.reconcile_errors.labels(controller="podeip", error_category=category).inc()
        verb = (error.operation or "").removesuffix("EipAddress") or "Reconcile"
        message = str(error)
        if isinstance(error, cloud_errors.QuotaExceeded):
            reason, delay = c.EV_QUOTA_EXCEEDED, QUOTA_RETRY
        elif isinstance(error, cloud_errors.Forbidden):
            reason, delay = c.EV_PERMISSION_DENIED, 2 * QUOTA_RETRY
        elif isinstance(error, cloud_errors.Throttled):
            reason, delay = c.EV_THROTTLED, 5.0
        elif isinstance(error, cloud_errors.InvalidParameter):
            reason, delay = f"Failed{verb}Eip", 5 * QUOTA_RETRY
        elif isinstance(error, cloud_errors.InvalidState):
            reason, delay = f"Failed{verb}Eip", 2.0
        else:
            reason, delay = f"Failed{verb}Eip", 10.0
        logger.warning("%s/%s: %s", podeip.metadata.namespace, podeip.metadata.name, message)
        if podeip.metadata.deletion_timestamp is None:
            await self._show(podeip, pod, None, reason=reason, message=message, warn=True)
        else:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)
        raise Requeue(after=delay, reason=reason)
