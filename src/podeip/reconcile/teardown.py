"""Letting go: the acts for a gone pod and a PodEIP being deleted (decided by ``plan.plan``).

Whatever the strategy, an EIP bound where we recorded is unbound as soon as the pod is gone
(its IP may go to another pod: ``binding.unbind``). Follow, an expired TTL and a deleted
PodEIP then release an Auto EIP and forget a Static one.

The teardown never gives up (R4): the finalizer is removed only when no EIP of ours is left
for this PodEIP. An Auto EIP that is bound to something we did not bind is neither taken nor
released; the PodEIP waits, with an Event, until a human unbinds it. An EIP that is not this
PodEIP's (:mod:`podeip.domain.ownership`: another PodEIP's tags or claim, or an untagged EIP
never adopted) gets no mutating call at all: the finalizer just goes.
"""

from __future__ import annotations

from dataclasses import replace

from podeip import constants as c
from podeip.api.podeip import AllocationType, PodEIP
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import outputs, records, steps
from podeip.reconcile.base import Pass, key_of
from podeip.reconcile.deps import podeip_ref
from podeip.reconcile.plan import Observed, Step
from podeip.reconcile.queue import Hold, Requeue


def _podeip(o: Observed) -> PodEIP:
    assert o.podeip is not None
    return o.podeip


def _done(o: Observed, step: Step) -> Observed:
    assert step.eip is not None
    return replace(o, handled=o.handled | {step.eip.allocation_id})


# ---- reads --------------------------------------------------------------------------------------
async def read_claim(p: Pass, o: Observed, step: Step) -> Observed:
    return replace(o, claim=await p.claim_of(_podeip(o)))


async def list_held(p: Pass, o: Observed, step: Step) -> Observed:
    return replace(o, held=tuple(await steps.eips_of(p.d, _podeip(o), get_eip=p.looks.eip)))


# ---- the PodEIP is being deleted ----------------------------------------------------------------
async def preserve(p: Pass, o: Observed, step: Step) -> Observed:
    await p.d.events.normal(podeip_ref(_podeip(o)), reason=step.reason, message=step.message)
    return _done(o, step)


async def skip(p: Pass, o: Observed, step: Step) -> Observed:
    return _done(o, step)


async def release(p: Pass, o: Observed, step: Step) -> Observed:
    assert step.eip is not None
    await steps.release_if_ours(p.d, _podeip(o), step.eip)
    return _done(o, step)


async def drop_finalizer(p: Pass, o: Observed, step: Step) -> None:
    podeip, pod = _podeip(o), o.pod
    key = key_of(podeip)
    allocation_id = podeip.spec.allocation_id
    if podeip.spec.allocation_type.type is AllocationType.STATIC and allocation_id:
        p.memory.claims.pop(allocation_id, None)
        holder = holder_identity(namespace=key[0], name=key[1], uid=podeip.metadata.uid or "")
        await p.d.claims.release_claim(allocation_id, holder=holder)
    if pod is not None and pod.uid == podeip.annotations.get(c.ANN_POD_UID) and not pod.is_gone:
        await outputs.publish(
            p.d.pods,
            pod,
            address=None,
            reason=c.EV_RELEASED,
            message="the PodEIP was deleted",
            now=p.d.clock(),
        )
    if c.FINALIZER not in (podeip.metadata.finalizers or ()):
        # Ours is gone already and another controller's finalizer keeps the PodEIP: nothing to
        # remove, and no enqueue (it would tear the PodEIP down again at once, for ever); its
        # DELETED event brings the key back for the pod.
        return
    try:
        await p.d.podeips.remove_finalizer(
            key[0], key[1], c.FINALIZER, resource_version=podeip.metadata.resource_version or ""
        )
    except kube_errors.Conflict:
        raise Requeue(after=0.0, reason="PodEIP changed during teardown") from None
    except kube_errors.NotFound:
        return
    p.looks.clear(key)
    p.memory.fresh.discard(podeip.metadata.uid or "")
    p.memory.held.pop(podeip.metadata.uid or "", None)
    p.memory.missing.pop(allocation_id, None)
    for what in ("associate", "join"):
        p.memory.rounds.pop((key, what), None)
    p.d.enqueue(key)  # the pod may still ask for an EIP: it gets a new PodEIP


# ---- the pod is gone ----------------------------------------------------------------------------
async def delete_podeip(p: Pass, o: Observed, step: Step) -> None:
    """Follow, a TTL run out, the expiry or a cascade: the PodEIP goes (its teardown releases)."""
    podeip = _podeip(o)
    if step.verdict is not None:
        await p.left_alone(podeip, step.verdict)
    p.looks.settled(key_of(podeip))
    p.status(podeip, step.fields, ready=("False", step.reason, step.message))
    namespace, name = key_of(podeip)
    try:
        await p.d.podeips.delete(namespace, name, uid=podeip.metadata.uid)
    except (kube_errors.NotFound, kube_errors.Conflict):
        return  # the PodEIP's own update event runs the teardown
    # The release comes next, as the rest of a cloud operation in flight: the deletion's own
    # event would queue it behind every bind in flight (one worker by default), which held the
    # releases of a restart after churn back for 50 s (BENCHMARKS-scale.md). The view has the
    # deletion's answer already; the event that follows coalesces into this pass.
    raise Requeue(after=0.0, reason="PodEIP deleted: its teardown", hold=Hold.IN_FLIGHT)


async def keep(p: Pass, o: Observed, step: Step) -> None:
    """TTL, Never or a fail-safe keep: the EIP stays (unbound), and the PodEIP says until when."""
    podeip = _podeip(o)
    if step.verdict is not None:
        await p.left_alone(podeip, step.verdict)
    p.looks.settled(key_of(podeip))
    if step.decision is not None and step.decision.note:
        await p.d.events.warning(podeip_ref(podeip), reason=c.EV_PRESERVED, message=step.decision.note)
    if step.clear_binding:
        podeip = await steps.record(p.d, podeip, {"metadata": {"annotations": {records.ANN_BINDING: None}}})
    p.status(podeip, step.fields, ready=("False", step.reason, step.message))
    if step.after is not None:
        raise Requeue(after=step.after, reason=step.note)
