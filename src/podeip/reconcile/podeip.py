"""One reconcile pass for a pod and its PodEIP (same namespace and name).

The pass reads the pod, the PodEIP and the EIP, and takes the next step towards the state the
release matrix asks for (docs/compatibility.md §5), at most one mutating cloud call at a time:

    no PodEIP, pod asks        → create the PodEIP (finalizer, frozen request)
    EIP not this PodEIP's      → nothing but a condition and a Warning: another PodEIP's tags,
                                 or an untagged EIP without proof (domain/ownership.py)
    PodEIP being deleted       → teardown: unbind (ours only), release (Auto), drop the claim
                                 (Static), then remove the finalizer          (teardown.py)
    pod present (same or reborn same-owner pod)
                               → allocate (Auto) / claim (Static) → associate → show on the pod
                                                                              (binding.py)
    pod gone                   → unbind at once; Follow or expired TTL: delete the PodEIP
                                 (its teardown releases); TTL: wait; Never: keep (teardown.py)

Async cloud states and waits are ``Requeue``s, never sleeps (looks.py decides when to look
again). Cloud failures become a condition, an Event and a backoff, in one place here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP, format_kube_time
from podeip.api.pods import PodView
from podeip.cloud import errors as cloud_errors
from podeip.cloud import ratelimit
from podeip.cloud.models import EipStatus
from podeip.domain import ownership, release
from podeip.domain.annotations import candidate_keys, parse_pod_annotations
from podeip.domain.request import ParseResult, changed_suffixes
from podeip.k8s import errors as kube_errors
from podeip.reconcile import outputs, records
from podeip.reconcile.base import key_of
from podeip.reconcile.binding import SLOW_RETRY
from podeip.reconcile.deps import log_fields, pod_ref, podeip_ref
from podeip.reconcile.looks import STEADY
from podeip.reconcile.owners import Cascade
from podeip.reconcile.pools import Pools
from podeip.reconcile.queue import Key, Requeue
from podeip.reconcile.teardown import Teardown

logger = logging.getLogger(__name__)

#: A worker sleeps at most this long for a rate-limit slot; longer, and it serves other keys
#: and comes back (each pass costs Kubernetes reads, so bouncing often would waste them).
WORKER_MAX_WAIT = 10.0

#: Backoff after a cloud failure, by class (seconds); the default covers the rest.
FAILURE_DELAYS: dict[type[cloud_errors.CloudError], tuple[str | None, float]] = {
    cloud_errors.QuotaExceeded: (c.EV_QUOTA_EXCEEDED, 60.0),
    cloud_errors.Forbidden: (c.EV_PERMISSION_DENIED, 120.0),
    cloud_errors.Throttled: (c.EV_THROTTLED, 5.0),
    cloud_errors.InvalidParameter: (None, 300.0),
    cloud_errors.InvalidState: (None, 2.0),
}


class Reconciler(Pools, Cascade, Teardown):
    """The pass itself; its state and shared writers are in ``base.PassBase``."""

    # ---- entry point ---------------------------------------------------------------------
    async def reconcile(self, key: Key) -> None:
        ratelimit.MAX_WAIT.set(WORKER_MAX_WAIT)
        namespace, name = key
        pod_body = await self._get(self.d.pods.get_pod, namespace, name)
        body = await self._get(self.d.podeips.get, namespace, name)
        pod = PodView.from_body(pod_body) if pod_body else None
        podeip = PodEIP.model_validate(body) if body else None
        if podeip is None:
            if pod is None:
                return
            podeip = await self._create(pod)
            if podeip is None:
                return
        try:
            await self._step(podeip, pod)
        except cloud_errors.CloudError as error:
            await self._cloud_failure(podeip, pod, error)

    async def _step(self, podeip: PodEIP, pod: PodView | None) -> None:
        self.looks.not_due(key_of(podeip))
        if podeip.metadata.deletion_timestamp is not None:
            await self._teardown(podeip, pod)
            return
        frozen = records.frozen_request(podeip)
        if frozen is not None and (
            frozen.allocation_type is not podeip.spec.allocation_type.type
            or (frozen.allocation_id and frozen.allocation_id != podeip.spec.allocation_id)
        ):
            # Our PodEIP's spec was edited after creation (S26): nothing is done from it (model test).
            message = (
                "spec.allocationType or allocationID differs from the pod's request: edits are not applied"
            )
            await self._show(podeip, None, reason=c.EV_CONFLICT, message=message, warn=True)
            raise Requeue(after=SLOW_RETRY, reason="PodEIP spec differs from its frozen request")
        if not await self._ownership_gate(podeip, pod):
            raise Requeue(after=SLOW_RETRY, reason="EIP not this PodEIP's")
        adoptable = not podeip.annotations.get(c.ANN_POD_UID) and pod is not None and not pod.is_gone
        if adoptable and pod is not None and self._asks_for(pod, podeip):
            # A PodEIP that AENC or Terway's migration created: its pod is this one.
            podeip = await self._adopt(podeip, pod, reborn=False)
        kind, strategy = records.kind_of_strategy(podeip)
        decision = release.decide(
            allocation_type=kind,
            strategy=strategy,
            release_after=podeip.spec.allocation_type.release_after,
            pod=release.pod_presence(
                pod=pod,
                recorded_uid=podeip.annotations.get(c.ANN_POD_UID, ""),
                recorded_owner=podeip.annotations.get(c.ANN_OWNER, ""),
                asks_for_eip=pod is not None and self._asks_for(pod, podeip),
            ),
            gone_since=records.gone_since_of(podeip),
            now=self.d.clock(),
            kept_expiry=self.d.settings.kept_eip_expiry,
            owner_deleted=await self._owner_deleted(podeip, pod),
        )
        if decision.action is release.Action.ASSOCIATE and pod is not None:
            podeip = await self._adopt(podeip, pod, reborn=True)
        if decision.action in (release.Action.KEEP_ASSOCIATED, release.Action.ASSOCIATE) and pod is not None:
            await self._note_edits(podeip, pod)
            podeip = await self._seen_now(podeip)
            await self._ensure_bound(podeip, pod)
            return
        if decision.action is release.Action.REFUSE and pod is not None:
            message = (
                f"PodEIP {pod.namespace}/{pod.name} keeps EIP {podeip.spec.allocation_id} for pod "
                f"{podeip.annotations.get(c.ANN_OWNER) or 'of another owner'}; this pod gets no EIP"
            )
            await self._tell_once(pod, c.EV_CLAIMED_BY_OTHER, message)
        await self._pod_gone(podeip, decision)

    async def _ownership_gate(self, podeip: PodEIP, pod: PodView | None) -> bool:
        """Before any other step on an Auto PodEIP's EIP: adopt an untagged EIP with proof, and
        leave alone (False) one that another PodEIP's tags name or that has no proof. (Static
        EIPs go by their claim: ``_claim`` with a pod, ``_claim_of`` when it is gone.)"""
        if podeip.spec.allocation_type.type is not AllocationType.AUTO or not podeip.spec.allocation_id:
            return True
        eip = await self.looks.eip(podeip.spec.allocation_id, max_age=STEADY)
        if eip is None:
            return True  # the binding path confirms a missing EIP and allocates anew (or not)
        verdict = self._judge(podeip, eip)
        live = pod is not None and not pod.is_gone and bool(pod.pod_ip) and eip.status is EipStatus.IN_USE
        unproven = verdict.standing is ownership.Standing.NOT_ADOPTED and live and pod is not None
        # The proof: the cloud shows the EIP bound to exactly this live pod's IP.
        if unproven and pod is not None and await self._eni_if_on_pod(podeip, pod, eip):
            verdict = self._judge(podeip, eip, on_live_pod=True)
        if verdict.standing is ownership.Standing.ADOPT:
            await self._adopt_eip(podeip, eip, verdict)
        elif verdict.standing is not ownership.Standing.OURS:
            await self._left_alone(podeip, pod, verdict)
            return False
        return True

    async def _note_edits(self, podeip: PodEIP, pod: PodView) -> None:
        """EIP annotations are read once, when the PodEIP is created (README, creation-only).
        An edit on the running pod changes nothing; one Normal Event per change names the keys."""
        frozen = records.frozen_request(podeip)
        if frozen is None or pod.uid != podeip.annotations.get(c.ANN_POD_UID):
            return
        parsed = self._parse(pod)
        if parsed.errors:  # an edit to an invalid value is ignored just the same
            keys = sorted({error.key for error in parsed.errors})
        elif parsed.request is None:  # the enabling annotation was removed: kept until pod gone
            keys = [c.POD_EIP_INSTANCE_ID if frozen.allocation_id else c.POD_WITH_EIP]
        elif parsed.request == frozen:
            return
        else:
            keys = [
                next((key for key in candidate_keys(suffix) if key in pod.annotations), suffix)
                for suffix in changed_suffixes(frozen, parsed.request)
            ]
        message = (
            f"{', '.join(keys)} differ from the values PodEIP {pod.name} was created with; EIP "
            "annotations are read only when the PodEIP is created, so the EIP is unchanged "
            "(re-create the pod, and its PodEIP, to apply them)"
        )
        if self._reported.get(pod.uid) != c.EV_ANNOTATIONS_CHANGED + message:
            self._remember_report(pod.uid, c.EV_ANNOTATIONS_CHANGED + message)
            await self.d.events.normal(pod_ref(pod), reason=c.EV_ANNOTATIONS_CHANGED, message=message)

    async def _seen_now(self, podeip: PodEIP) -> PodEIP:
        """Refresh ``podLastSeen`` from what Kubernetes says, before any cloud step: the TTL of
        a pod must not start early because the cloud was unreachable while the pod ran."""
        last_seen = podeip.status.pod_last_seen if podeip.status else None
        now = self.d.clock()
        if last_seen is not None and now - last_seen < timedelta(minutes=self.d.settings.gc.period_minutes):
            return podeip
        with contextlib.suppress(kube_errors.NotFound):
            updated = await self.d.podeips.patch_status(
                *key_of(podeip), {"podLastSeen": format_kube_time(now)}
            )
            return PodEIP.model_validate(updated)
        return podeip

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
        # On a virtual node served by us, ECI reads its own eci-* aliases: we must not (§2.5).
        on_virtual = self._virtual_nodes.get(pod.node_name or "", False)
        return parse_pod_annotations(
            pod.annotations,
            owner_kind=pod.owner.kind if pod.owner else None,
            custom_stateful_kinds=s.custom_stateful_workload_kinds,
            max_release_after=s.max_release_after,
            max_bandwidth=s.max_bandwidth_mbps,
            allow_prepaid=s.allow_prepaid,
            eci_aliases=not (s.enable_virtual_node and on_virtual),
            tke_annotations=s.tke_annotations,
            pod_name=pod.name,
            resources=pod.resource_names,
        )

    def _asks_for(self, pod: PodView, podeip: PodEIP) -> bool:
        """Whether a (new) pod asks for this PodEIP's EIP: any request, and a Static one names it."""
        parsed = self._parse(pod)
        if parsed.request is None or parsed.request.allocation_type is not podeip.spec.allocation_type.type:
            return False  # a pod asking for a new EIP never takes a Static one a PodEIP names (model test)
        static = parsed.request.allocation_type is AllocationType.STATIC
        return not static or parsed.names(podeip.spec.allocation_id)

    # ---- creation ------------------------------------------------------------------------
    async def _create(self, pod: PodView) -> PodEIP | None:
        if pod.is_gone or pod.is_terminating:
            return None
        if not pod.node_name:
            await self._report_tke_only(pod)
            # Nothing is decided before the pod is scheduled (docs/compatibility.md §2.5): its node
            # decides whether it is served at all (virtual nodes) and which keys are read; its
            # next event (the binding) brings it back.
            return None
        on_virtual = await self._on_virtual_node(pod)
        parsed = self._parse(pod)
        if not parsed.requested:
            await self._report(pod, parsed)
            return None
        if pod.host_network:
            await self._tell_once(
                pod, c.EV_POD_SKIPPED, "hostNetwork pods share the node IP: no EIP is bound"
            )
            return None
        if not self.d.settings.enable_virtual_node and on_virtual:
            await self._tell_once(
                pod, c.EV_POD_SKIPPED, "pod runs on a virtual node and enableVirtualNode is off"
            )
            return None
        await self._report(pod, parsed)
        request = await self._from_list(pod, parsed)
        if request is None and parsed.eip_list is not None and not parsed.errors:
            return None  # an EIP list has no entry for the pod: it waits (reported)
        if request is None:  # invalid annotations: nothing is allocated
            message = "; ".join(e.message for e in parsed.errors)
            await outputs.publish(
                self.d.pods,
                pod,
                address=None,
                reason=c.EV_INVALID_ANNOTATION,
                message=message,
                now=self.d.clock(),
            )
            return None
        try:
            created = await self.d.podeips.create(records.new_podeip_body(pod, request))
        except kube_errors.AlreadyExists:
            raise Requeue(after=0.0, reason="PodEIP appeared meanwhile") from None
        podeip = PodEIP.model_validate(created)
        if request.allocation_type is AllocationType.AUTO:
            self._fresh.add(podeip.metadata.uid or "")
        logger.info(
            "created PodEIP %s/%s for pod uid %s", pod.namespace, pod.name, pod.uid, extra=log_fields(podeip)
        )
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

    async def _report_tke_only(self, pod: PodView) -> None:
        """A pod that is not scheduled yet may never be: say so when it asks for TKE's resources."""
        tke_only = tuple(w for w in self._parse(pod).warnings if w.reason == c.EV_TKE_ONLY)
        if tke_only:
            await self._report(pod, ParseResult(request=None, warnings=tke_only))

    async def _tell_once(self, pod: PodView, reason: str, message: str) -> None:
        if self._reported.get(pod.uid) != reason + message:
            self._remember_report(pod.uid, reason + message)
            await self.d.events.warning(pod_ref(pod), reason=reason, message=message)

    async def _on_virtual_node(self, pod: PodView) -> bool:
        if not pod.node_name:
            return False
        if pod.node_name not in self._virtual_nodes:
            label, _, value = self.d.settings.virtual_node_label.partition("=")
            try:
                node = await self.d.client.get(f"/api/v1/nodes/{pod.node_name}")
            except kube_errors.NotFound:
                return False
            labels = node.get("metadata", {}).get("labels") or {}
            self._virtual_nodes[pod.node_name] = labels.get(label) == value
        return self._virtual_nodes[pod.node_name]

    async def _adopt(self, podeip: PodEIP, pod: PodView, *, reborn: bool) -> PodEIP:
        """A pod takes over the PodEIP's EIP: a same-name pod of the same owner coming back to a
        kept EIP (``reborn``, docs/compatibility.md §5.3), or the pod of a PodEIP that another
        controller (AENC, Terway's migration) created, which records no pod UID (§5.4)."""
        parsed = self._parse(pod)
        patch: dict[str, Any] = {"metadata": {"annotations": {c.ANN_POD_UID: pod.uid}}}
        if not podeip.annotations.get(c.ANN_OWNER):
            patch["metadata"]["annotations"][c.ANN_OWNER] = records.owner_label(pod)
        if reborn:  # the pod is back: its TTL no longer runs
            patch["metadata"]["annotations"][c.ANN_POD_GONE_SINCE] = None
        if reborn and parsed.request is not None:  # the new pod's release strategy replaces the stored one
            spec_type: dict[str, Any] = {"releaseStrategy": parsed.request.release_strategy.value}
            spec_type["releaseAfter"] = parsed.request.release_after
            patch["spec"] = {"allocationType": spec_type}
        updated = await self.d.podeips.patch_metadata_and_spec(
            pod.namespace, pod.name, patch, resource_version=podeip.metadata.resource_version or ""
        )
        if reborn:  # (not for another controller's PodEIP: its EIP is adopted, or not, by the gate)
            message = f"pod {pod.name} (uid {pod.uid}) is back and reuses EIP {podeip.spec.allocation_id}"
            await self.d.events.normal(podeip_ref(podeip), reason=c.EV_PRESERVED, message=message)
        return PodEIP.model_validate(updated)

    async def _cloud_failure(
        self, podeip: PodEIP, pod: PodView | None, error: cloud_errors.CloudError
    ) -> None:
        """A failed cloud call: a condition and Events without the RequestId (so that repeats
        are the same Event, counted, and write nothing new), a metric, a log line with it, and
        a backoff that our own writes cannot cut short. Our own rate limit is no failure: the
        key just comes back when its slot is due."""
        if isinstance(error, cloud_errors.RateLimited):
            raise self.looks.back_off(key_of(podeip), error.retry_after or 1.0, "client-side rate limit")
        self.d.metrics.reconcile_errors.labels(controller="podeip", error_category=type(error).__name__).inc()
        logger.warning(
            "%s/%s: %s",
            podeip.metadata.namespace,
            podeip.metadata.name,
            error,
            extra=log_fields(podeip, operation=error.operation, request_id=error.request_id),
        )
        reason, delay = next(
            (found for kind, found in FAILURE_DELAYS.items() if isinstance(error, kind)), (None, 10.0)
        )
        # From the catalogue, never built from the operation's name (users alert on reasons).
        reason = reason or c.FAILURE_REASONS.get(error.operation or "", c.EV_FAILED_RECONCILE)
        message = f"{error.operation or 'cloud call'} failed: {error.code or type(error).__name__}"
        if error.message:
            message += f": {error.message}"
        if podeip.metadata.deletion_timestamp is None:
            await self._show(podeip, pod, reason=reason, message=message, warn=True)
        else:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)
        raise self.looks.back_off(key_of(podeip), delay, reason)
