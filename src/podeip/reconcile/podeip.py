"""One reconcile pass for a pod and its PodEIP (same namespace and name): observe → plan → act.

The pass reads the pod and the PodEIP, then repeats: :func:`podeip.reconcile.plan.plan` names
the binding's state and the next step from what the pass has observed so far; the step is
carried out here or in ``binding.py`` / ``teardown.py`` / ``pools.py`` / ``owners.py``; a read
adds a fact and the pass plans again; an act ends the pass, at most one mutating cloud call at
a time, as the release matrix (docs/compatibility.md §5) and the ownership rules ask:

    no PodEIP, pod asks        → create the PodEIP (finalizer, frozen request)
    EIP not this PodEIP's      → nothing but a condition and a Warning: another PodEIP's tags,
                                 or an untagged EIP without proof (domain/ownership.py)
    PodEIP being deleted       → teardown: unbind (ours only), release (Auto), drop the claim
                                 (Static), then remove the finalizer
    pod present (same or reborn same-owner pod)
                               → allocate (Auto) / claim (Static) → associate → show on the pod
    pod gone                   → unbind at once; Follow or expired TTL: delete the PodEIP
                                 (its teardown releases); TTL: wait; Never: keep

Async cloud states and waits are ``Requeue``s, never sleeps (looks.py decides when to look
again). Cloud failures become a condition, an Event and a backoff, in one place here. The
PodEIP's status (fields and Ready condition) is written once, at the end of the pass
(``base.Pass.flush``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP
from podeip.api.pods import PodView
from podeip.cloud import errors as cloud_errors
from podeip.cloud import ratelimit
from podeip.domain import release
from podeip.domain.annotations import candidate_keys, parse_pod_annotations
from podeip.domain.request import ParseResult, changed_suffixes
from podeip.k8s import errors as kube_errors
from podeip.reconcile import binding, expiry, outputs, owners, pools, records, steps, teardown
from podeip.reconcile.base import Memory, Pass, key_of, tell_once
from podeip.reconcile.deps import Deps, log_fields, pod_ref, podeip_ref
from podeip.reconcile.looks import Looks
from podeip.reconcile.plan import Do, Observed, Step, plan
from podeip.reconcile.queue import Hold, Key, Requeue

logger = logging.getLogger(__name__)

#: A worker sleeps at most this long for a rate-limit slot; a slot further away is reserved
#: for the key, which the queue brings back then (cloud/ratelimit.py): workers never sleep
#: while other keys are due.
WORKER_MAX_WAIT = 0.05

#: Backoff after a cloud failure, by class (seconds); the default covers the rest.
FAILURE_DELAYS: dict[type[cloud_errors.CloudError], tuple[str | None, float]] = {
    cloud_errors.QuotaExceeded: (c.EV_QUOTA_EXCEEDED, 60.0),
    cloud_errors.Forbidden: (c.EV_PERMISSION_DENIED, 120.0),
    cloud_errors.Throttled: (c.EV_THROTTLED, 5.0),
    cloud_errors.InvalidParameter: (None, 300.0),
    cloud_errors.InvalidState: (None, 2.0),
}


#: A pass plans at most this many steps (reads and bookkeeping between acts); more would be a
#: plan that does not progress: the key comes back later instead of spinning.
MAX_STEPS = 24


class Reconciler:
    """The pass itself. It owns what the operator remembers between passes (``memory``) and
    its looks at the cloud (``looks``); each pass gets a ``base.Pass`` over them."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.memory = Memory()
        self.looks = Looks(deps.cloud, clock=deps.clock, monotonic=deps.monotonic)
        #: The act of each step (``plan.Do``); reads return what they observed, acts end the pass.
        self._acts: dict[Do, Callable[[Pass, Observed, Step], Awaitable[Observed | None]]] = {
            Do.TAKE_POD: self._take_pod,
            Do.NOTE: self._note,
            Do.LOOK: binding.look,
            Do.LOOK_OWNER: owners.look_owner,
            Do.READ_CLAIM: teardown.read_claim,
            Do.FIND_ENI: binding.find_eni,
            Do.LIST_HELD: teardown.list_held,
            Do.ALLOCATE: binding.allocate,
            Do.CLAIM: pools.claim,
            Do.TAG: binding.tag,
            Do.JOIN: binding.join,
            Do.ASSOCIATE: binding.associate,
            Do.UNBIND: binding.unbind,
            Do.RELEASE: teardown.release,
            Do.FORGET_LOST: binding.forget_lost,
            Do.PRESERVE: teardown.preserve,
            Do.SKIP: teardown.skip,
            Do.SHOW_BOUND: binding.show_bound,
            Do.WAIT: binding.wait,
            Do.REFUSE: binding.refuse,
            Do.DELETE_PODEIP: teardown.delete_podeip,
            Do.KEEP: teardown.keep,
            Do.DROP_FINALIZER: teardown.drop_finalizer,
        }

    # ---- entry points ---------------------------------------------------------------------
    def saw(self, key: Key) -> None:
        """The view changed for this key (before it is queued): start the reads worth starting
        at once (``binding.find_eni_early``)."""
        binding.find_eni_early(self.d, self.looks, key)

    async def reconcile(self, key: Key) -> None:
        ratelimit.reserve_for(key, max_wait=WORKER_MAX_WAIT)
        pod, podeip = await self.d.view.observe(key, self.d.pods)  # no request at steady state
        if podeip is None:
            if pod is None or plan(self._observe(None, pod)).do is not Do.CREATE:
                return
            podeip = await self._create(pod)
            if podeip is None:
                return
        p = Pass(self.d, self.memory, self.looks, podeip, parse=self._parse)
        settled = in_flight = False
        try:
            try:
                await self._step(p, podeip, pod)
                settled = True
            except cloud_errors.CloudError as error:
                await self._cloud_failure(p.podeip, pod, error, p)
        except Requeue as requeue:
            in_flight = requeue.hold is Hold.IN_FLIGHT  # a poll, or a rate-limit slot reserved
            raise
        finally:
            await p.flush(settled=settled, in_flight=in_flight)

    def _observe(self, podeip: PodEIP | None, pod: PodView | None) -> Observed:
        """What the pass knows before its first step: the two objects, the clock, the memory."""
        uid = (podeip.metadata.uid or "") if podeip is not None else ""
        key = key_of(podeip) if podeip is not None else ("", "")
        return Observed(
            podeip=podeip,
            pod=pod,
            now=self.d.clock(),
            settings=self.d.settings,
            cluster_id=self.d.cluster_id,
            asks_for=pod is not None and podeip is not None and self._asks_for(pod, podeip),
            fresh_podeip=uid in self.memory.fresh,
            rounds={
                what: self.memory.rounds[(key, what)]
                for what in ("associate", "join")
                if (key, what) in self.memory.rounds
            },
        )

    async def _step(self, p: Pass, podeip: PodEIP, pod: PodView | None) -> None:
        o: Observed | None = self._observe(podeip, pod)
        steps_taken = 0
        while o is not None:
            # A teardown takes one step per EIP it holds: those do not count against the bound.
            if steps_taken >= MAX_STEPS + len(o.held or ()):
                raise Requeue(after=1.0, reason="the pass made no progress")
            step = plan(o)
            o = await self._acts[step.do](p, o, step)
            steps_taken += 1
            if o is not None:
                p.podeip = o.podeip or p.podeip

    async def _take_pod(self, p: Pass, o: Observed, step: Step) -> Observed:
        assert o.podeip is not None and o.pod is not None
        return replace(o, podeip=await self._adopt(o.podeip, o.pod, reborn=step.reborn))

    async def _note(self, p: Pass, o: Observed, step: Step) -> Observed:
        """The pass's bookkeeping of the pod, once: edits and podLastSeen while it is there;
        the refusal of an unrelated pod, the moment it was first seen gone and the expiry
        Events when it is gone (recorded before anything else is done for the gone pod)."""
        podeip, pod, decision = o.podeip, o.pod, step.decision
        assert podeip is not None and decision is not None
        if decision.action is release.Action.KEEP_ASSOCIATED and pod is not None:
            await self._note_edits(podeip, pod)
            p.seen_now(podeip)
            return replace(o, podeip=podeip, noted=True)
        if decision.action is release.Action.REFUSE and pod is not None:
            message = (
                f"PodEIP {pod.namespace}/{pod.name} keeps EIP {podeip.spec.allocation_id} for pod "
                f"{podeip.annotations.get(c.ANN_OWNER) or 'of another owner'}; this pod gets no EIP"
            )
            await self._tell_once(pod, c.EV_CLAIMED_BY_OTHER, message)
        if decision.gone_since is not None:
            # First seen gone: the TTL runs from now, recorded before anything else so that a
            # restart neither restarts nor shortens it.
            moment = records.format_gone_since(decision.gone_since)
            podeip = await steps.record(
                self.d, podeip, {"metadata": {"annotations": {c.ANN_POD_GONE_SINCE: moment}}}
            )
        podeip = await expiry.report(self.d, podeip, decision)
        return replace(o, podeip=podeip, noted=True)

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
        if self.memory.new_report(pod.uid, c.EV_ANNOTATIONS_CHANGED + message):
            await self.d.events.normal(pod_ref(pod), reason=c.EV_ANNOTATIONS_CHANGED, message=message)

    # ---- reading -------------------------------------------------------------------------
    def _parse(self, pod: PodView) -> ParseResult:
        s = self.d.settings
        # On a virtual node served by us, ECI reads its own eci-* aliases: we must not (§2.5).
        on_virtual = self.memory.virtual_nodes.get(pod.node_name or "", False)
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
        request = await pools.from_list(self.d, self.memory, pod, parsed)
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
            await self._exists_unseen(pod)
            raise Requeue(after=0.0, reason="PodEIP appeared meanwhile") from None
        podeip = PodEIP.model_validate(created)
        if request.allocation_type is AllocationType.AUTO:
            self.memory.fresh.add(podeip.metadata.uid or "")
        logger.info(
            "created PodEIP %s/%s for pod uid %s", pod.namespace, pod.name, pod.uid, extra=log_fields(podeip)
        )
        return podeip

    async def _exists_unseen(self, pod: PodView) -> None:
        """A PodEIP of the pod's name exists that the view does not hold: its event may be on
        the way (read it once), or the view left it out as not valid (written by hand). Then
        creating it again at once would repeat for ever: say so on the pod, and look slowly."""
        key = (pod.namespace, pod.name)
        with contextlib.suppress(kube_errors.NotFound):
            await self.d.podeips.get(*key)  # (an answer goes into the view)
        if self.d.view.has_podeip(key):
            return
        message = (
            f"PodEIP {pod.namespace}/{pod.name} exists but is not valid: this pod gets no EIP "
            "until it is fixed or deleted"
        )
        await self._tell_once(pod, c.EV_FAILED_RECONCILE, message)
        raise Requeue(after=binding.SLOW_RETRY, reason="PodEIP not valid")

    async def _report(self, pod: PodView, parsed: ParseResult) -> None:
        """Events for annotation errors and warnings, once per pod and set of findings."""
        findings = [("Warning", c.EV_INVALID_ANNOTATION, e.message) for e in parsed.errors]
        findings += [(w.event_type, w.reason, w.message) for w in parsed.warnings]
        signature = repr(findings)
        if not findings or not self.memory.new_report(pod.uid, signature):
            return
        for event_type, reason, message in findings:
            await self.d.events.record(pod_ref(pod), type=event_type, reason=reason, message=message)  # type: ignore[arg-type]

    async def _report_tke_only(self, pod: PodView) -> None:
        """A pod that is not scheduled yet may never be: say so when it asks for TKE's resources."""
        tke_only = tuple(w for w in self._parse(pod).warnings if w.reason == c.EV_TKE_ONLY)
        if tke_only:
            await self._report(pod, ParseResult(request=None, warnings=tke_only))

    async def _tell_once(self, pod: PodView, reason: str, message: str) -> None:
        await tell_once(self.d, self.memory, pod, reason, message)

    async def _on_virtual_node(self, pod: PodView) -> bool:
        if not pod.node_name:
            return False
        if pod.node_name not in self.memory.virtual_nodes:
            label, _, value = self.d.settings.virtual_node_label.partition("=")
            try:
                node = await self.d.client.get(f"/api/v1/nodes/{pod.node_name}")
            except kube_errors.NotFound:
                return False
            labels = node.get("metadata", {}).get("labels") or {}
            self.memory.virtual_nodes[pod.node_name] = labels.get(label) == value
        return self.memory.virtual_nodes[pod.node_name]

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
        self, podeip: PodEIP, pod: PodView | None, error: cloud_errors.CloudError, p: Pass | None = None
    ) -> None:
        """A failed cloud call: a condition and Events without the RequestId (so that repeats
        are the same Event, counted, and write nothing new), a metric, a log line with it, and
        a backoff that our own writes cannot cut short. Our own rate limit is no failure: the
        key just comes back when its slot is due."""
        if isinstance(error, cloud_errors.RateLimited):
            # The slot is reserved for this key: it is in flight, back first when the slot is due.
            raise Requeue(error.retry_after or 0.0, "client-side rate limit", hold=Hold.IN_FLIGHT)
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
            shown = p or Pass(self.d, self.memory, self.looks, podeip, parse=self._parse)
            await shown.show(podeip, pod, reason=reason, message=message, warn=True)
            if p is None:
                await shown.flush()
        else:
            await self.d.events.warning(podeip_ref(podeip), reason=reason, message=message)
        raise self.looks.back_off(key_of(podeip), delay, reason)
