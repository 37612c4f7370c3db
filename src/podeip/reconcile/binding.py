"""The pod is there: the acts of the binding steps that :func:`podeip.reconcile.plan.plan` names.

Each function carries out one ``Step`` and returns what the pass has observed since (it plans
again), or None (the pass is over), or raises ``Requeue`` (look again later). Safety rules in
the order of the steps: the allocation is found by its tags before a second one is made (R3,
in ``steps.allocate``); a Static EIP has one holder (R7, ``claim``); the pod is read again
right before Associate (R10, ``associate``); the target is recorded, with this PodEIP's and
the pod's UIDs, before the call (R1, ``steps.associate``); only what this PodEIP recorded, on
a fresh look, is unbound (R6, ``unbind``).
"""

from __future__ import annotations

from dataclasses import replace

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.domain import ownership, release
from podeip.k8s import errors as kube_errors
from podeip.k8s.leases import holder_identity
from podeip.reconcile import outputs, records, steps
from podeip.reconcile.base import CLAIM_RECHECK, Pass, key_of
from podeip.reconcile.deps import Deps, asks_for_eip, pod_ref, podeip_ref
from podeip.reconcile.looks import FRESH, STEADY, Looks
from podeip.reconcile.plan import LOST_CONFIRM, QUIET, SLOW_RETRY, Observed, Seen, State, Step, shows_anything
from podeip.reconcile.queue import Hold, Key, Requeue

__all__ = ["LOST_CONFIRM", "SLOW_RETRY"]


def _pod(o: Observed) -> PodView:
    assert o.pod is not None
    return o.pod


def _podeip(o: Observed) -> PodEIP:
    assert o.podeip is not None
    return o.podeip


# ---- reads --------------------------------------------------------------------------------------
async def look(p: Pass, o: Observed, step: Step) -> Observed:
    podeip = _podeip(o)
    allocation_id = podeip.spec.allocation_id
    eip = await p.looks.eip(allocation_id, max_age=step.max_age)
    missing_for = None
    if eip is None:
        first = p.memory.missing.setdefault(allocation_id, p.d.monotonic())
        missing_for = p.d.monotonic() - first
    else:
        p.memory.missing.pop(allocation_id, None)
    return replace(
        o, seen=Seen(eip, fresh=step.max_age <= FRESH, steady=step.max_age <= STEADY), missing_for=missing_for
    )


async def find_eni(p: Pass, o: Observed, step: Step) -> Observed:
    pod = _pod(o)
    podeip = _podeip(o)
    eni = await p.looks.find_eni(pod.pod_ip or "", pod_uid=pod.uid)
    held = await p.looks.holder(pod.pod_ip or "", but=podeip.spec.allocation_id) if eni else ""
    uid, now, held_for = podeip.metadata.uid or "", p.d.monotonic(), 0.0
    if held:
        held_for = now - p.memory.held.setdefault(uid, now)  # QUIET runs from the first finding
    else:
        p.memory.held.pop(uid, None)
    return replace(o, eni_looked=True, pod_eni=eni, ip_held_by=held, ip_held_for=held_for)


def find_eni_early(d: Deps, looks: Looks, key: Key) -> None:
    """The watch saw this pod change: if it has its IP, asks for an EIP and its PodEIP does not
    show it bound there yet, its ENI is looked up now, with those of the pods that got their
    IPs at the same moment (a burst: one call for up to 100 IPs). ``find_eni`` then answers
    from it: by then Allocate (rate-limited, one by one) has spread the pods out, and each
    would look up its ENI alone."""
    pod = d.view.pod(key)
    if pod is None or pod.is_gone or not pod.pod_ip or not pod.node_name or not asks_for_eip(pod.annotations):
        return
    podeip = d.view.podeip(key)
    status = podeip.status if podeip is not None else None
    if status is not None and status.eip_address and status.private_ip_address == pod.pod_ip:
        return  # bound (or was): the binding steps look it up if they ever need it
    looks.find_eni_early(pod.pod_ip, pod_uid=pod.uid)


async def claim_once(p: Pass, podeip: PodEIP, pod: PodView) -> tuple[ownership.Claim, str]:
    """One holder per allocation ID (docs/reliability.md R7): a Lease named after the EIP."""
    me = holder_identity(namespace=pod.namespace, name=pod.name, uid=podeip.metadata.uid or "")
    allocation_id = podeip.spec.allocation_id
    held = p.memory.claims.get(allocation_id)
    if held is not None and held[0] == me and p.d.monotonic() - held[1] < CLAIM_RECHECK:
        return (
            ownership.Claim.MINE,
            me,
        )  # ours a moment ago: passes caused by our own writes need not ask again
    holder = await p.d.claims.claim(allocation_id, holder=me)
    if holder != me and not await holder_exists(p.d, holder):
        # The holder's PodEIP is gone without releasing its claim (a finalizer removed by
        # hand): drop the stale claim, then claim again.
        await p.d.claims.release_claim(allocation_id, holder=holder)
        holder = await p.d.claims.claim(allocation_id, holder=me)
    if holder == me:
        p.memory.claims[allocation_id] = (me, p.d.monotonic())
        return ownership.Claim.MINE, me
    p.memory.claims.pop(allocation_id, None)
    return ownership.Claim.OTHER, holder


async def holder_exists(d: Deps, holder: str) -> bool:
    namespace, _, rest = holder.partition("/")
    name, _, uid = rest.partition("/")
    podeip = d.view.podeip((namespace, name))  # the watch-fed view, no request
    return podeip is not None and podeip.metadata.uid == uid


# ---- acts ---------------------------------------------------------------------------------------
async def allocate(p: Pass, o: Observed, step: Step) -> Observed:
    podeip = _podeip(o)
    uid = podeip.metadata.uid or ""
    podeip, allocated = await steps.allocate(p.d, podeip, lookup=step.lookup)
    p.memory.fresh.discard(uid)  # (the provider's decorator remembers the new EIP as Available)
    if allocated is not None:  # told with the bound Event (or alone if the bind stops short)
        p.allocated(_pod(o), allocated)
    return replace(o, podeip=podeip, seen=None, fresh_podeip=False)


async def tag(p: Pass, o: Observed, step: Step) -> Observed:
    assert step.eip is not None and step.verdict is not None
    await p.adopt_eip(_podeip(o), step.eip, step.verdict)
    return replace(o, seen=None, held=None, tagged=o.tagged | {step.eip.allocation_id})


async def join(p: Pass, o: Observed, step: Step) -> Observed:
    assert step.eip is not None
    podeip = _podeip(o)
    await steps.join_bandwidth_package(p.d, podeip, step.eip, round=step.round)
    p.memory.rounds[(key_of(podeip), "join")] = step.round
    return replace(o, joined=True)


async def associate(p: Pass, o: Observed, step: Step) -> None:
    assert step.eni is not None
    podeip, pod = _podeip(o), _pod(o)
    allocation_id = podeip.spec.allocation_id
    p.looks.ensure_slot("associate_eip")  # a far slot: reserved, and the pod read then (R10)
    await still_the_same_pod(p, pod)
    p.podeip = await steps.associate(p.d, podeip, pod, eni=step.eni, round=step.round)
    p.memory.rounds[(key_of(podeip), "associate")] = step.round
    if shows_anything(p.podeip, pod):
        # A PodEIP or pod that shows a state (bound before, a failure, a wait) shows that it
        # is associating now: never a stale True while the EIP moves.
        await p.show(
            p.podeip, pod, reason=c.EV_ASSOCIATING, message=f"associating {allocation_id} with {pod.pod_ip}"
        )
    raise p.looks.poll(key_of(podeip), "associating", allocation_id)


async def still_the_same_pod(p: Pass, pod: PodView) -> None:
    """R10: the pod read at the start of the pass may be gone and its IP reused by now."""
    try:
        current = PodView.from_body(await p.d.pods.get_pod(pod.namespace, pod.name))
    except kube_errors.NotFound:
        raise Requeue(after=0.0, reason="the pod is gone") from None
    if current.uid != pod.uid or current.pod_ip != pod.pod_ip or current.is_gone:
        raise Requeue(after=0.0, reason="the pod changed")


async def unbind(p: Pass, o: Observed, step: Step) -> None:
    """Unassociate what this PodEIP recorded (the plan checked the verdict and the record;
    ``steps.unassociate_if_ours`` checks them again right at the call)."""
    assert step.eip is not None and step.verdict is not None
    podeip = _podeip(o)
    allocation_id = step.eip.allocation_id
    if not await steps.unassociate_if_ours(p.d, podeip, step.eip, step.verdict):
        raise Requeue(after=SLOW_RETRY, reason="nothing of ours to unbind")
    releasing = step.decision is not None and step.decision.action is release.Action.RELEASE
    if step.state is State.UNBINDING and podeip.metadata.deletion_timestamp is None and not releasing:
        # (An EIP released next is told once, by EipReleased: one Event per lifecycle's end.)
        message = f"pod gone: EIP {allocation_id} unassociated from its IP"
        await p.d.events.normal(podeip_ref(podeip), reason=c.EV_UNASSOCIATED, message=message)
    raise p.looks.poll(key_of(podeip), step.note, allocation_id)


async def forget_lost(p: Pass, o: Observed, step: Step) -> None:
    """Auto, released out of band: forget it and allocate anew with a fresh token (the tag
    lookup before Allocate still finds anything tagged for this PodEIP)."""
    podeip = _podeip(o)
    allocation_id = podeip.spec.allocation_id
    p.memory.missing.pop(allocation_id, None)
    message = f"EIP {allocation_id} no longer exists; allocating anew"
    await p.d.events.warning(podeip_ref(podeip), reason=c.EV_EIP_LOST, message=message)
    attempt = str(records.attempt_of(podeip) + 1)
    patch = {
        "metadata": {"annotations": {c.ANN_ATTEMPT: attempt, records.ANN_BINDING: None}},
        "spec": {"allocationID": ""},
    }
    p.podeip = await steps.record(p.d, podeip, patch)
    raise Requeue(after=0.0, reason="EIP lost; allocating again")


async def show_bound(p: Pass, o: Observed, step: Step) -> None:
    assert step.eip is not None
    podeip, pod, eip = _podeip(o), _pod(o), step.eip
    p.looks.settled(key_of(podeip))
    now = p.d.clock()
    ip = pod.pod_ip or ""
    uid, primary = podeip.metadata.uid or "", not eip.private_ip_address
    binding = records.Binding(step.eni_id, ip, primary=primary, podeip_uid=uid, pod_uid=pod.uid)
    if records.binding_of(podeip) != binding:
        # Found bound (an adopted EIP, our answer was lost, or a record of an older format):
        # record it, so that it is unbound when the pod goes (R6 compares with this record).
        podeip = await steps.record_binding(p.d, podeip, binding)
    status = records.observed_status(eip) | {
        "eipAddress": eip.ip_address,
        "privateIPAddress": ip,
        "networkInterfaceID": step.eni_id,
    }
    first_time = not (
        podeip.status
        and podeip.status.eip_address == eip.ip_address
        and podeip.status.private_ip_address == ip
    )
    p.status(podeip, status, ready=("True", c.EV_BOUND, f"EIP {eip.ip_address} on {ip}"))
    changed = await outputs.publish(
        p.d.pods, pod, address=eip.ip_address, reason=c.READINESS_REASON_OK, now=now
    )
    if changed and pod.declares_eip_gate and podeip.metadata.creation_timestamp:
        p.d.metrics.ready_seconds.observe((now - podeip.metadata.creation_timestamp).total_seconds())
    allocated = p.memory.allocated.pop(uid, None)
    if first_time:
        # One Event per bind, on the pod (where users look); it names the allocation when this
        # bind made it. The PodEIP shows the same in its Ready condition (reason, message, time).
        what = f"{allocated[1]} allocated and" if allocated else f"EIP {eip.ip_address} ({eip.allocation_id})"
        message = f"{what} associated with pod IP {ip} on {step.eni_id}"
        await p.d.events.normal(pod_ref(pod), reason=c.EV_ASSOCIATED, message=message)


async def wait(p: Pass, o: Observed, step: Step) -> None:
    """Show why (if the step says), then look again at the time the step names."""
    podeip = _podeip(o)
    if step.reason and podeip.metadata.deletion_timestamp is not None:
        if step.warn:  # a PodEIP being deleted shows nothing but Events on itself
            await p.d.events.warning(podeip_ref(podeip), reason=step.reason, message=step.message)
    elif step.reason and not _quiet(p, o, step):
        await p.show(podeip, o.pod, reason=step.reason, message=step.message, warn=step.warn)
    if step.poll:
        raise p.looks.poll(key_of(podeip), step.poll, (step.eip or _podeip(o).spec).allocation_id)
    if step.after is not None:
        hold = Hold.IN_FLIGHT if step.in_flight else Hold.NONE  # (``Pass.flush``: the Event waits)
        raise Requeue(after=step.after, reason=step.note or step.reason, hold=hold)


def _quiet(p: Pass, o: Observed, step: Step) -> bool:
    """A first bind whose EIP is still associating shows it only once that takes longer than
    ``QUIET``: the usual wait (a few seconds) costs no status or pod write."""
    podeip, pod = _podeip(o), o.pod
    return (
        step.state is State.ASSOCIATING
        and pod is not None
        and not shows_anything(podeip, pod)
        and p.looks.waited(key_of(podeip)) < QUIET
    )


async def refuse(p: Pass, o: Observed, step: Step) -> None:
    assert step.verdict is not None
    await p.left_alone(_podeip(o), step.verdict)
    raise Requeue(after=step.after or SLOW_RETRY, reason=step.note)
