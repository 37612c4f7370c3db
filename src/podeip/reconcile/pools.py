"""EIP lists (:mod:`podeip.domain.pools`): which entry a pod without an ordinal takes, and waits.

The static-claim Leases (reliability R7) decide who holds an entry; this module only reads them
to choose, and never takes an entry another pod's claim holds:

- a pod without an ordinal gets the first entry whose claim is free (no Lease, or one whose
  holder PodEIP is gone) in its frozen request; when two such pods chose the same entry at once,
  the one that loses the claim, not yet bound, moves to the next free entry (``claim``);
- a pod with no entry (beyond the list, or all held) gets no PodEIP: its gate is False with
  ``EipListExhausted``, a Warning Event says why, and it looks again every ``SLOW_RETRY``.
"""

from __future__ import annotations

from dataclasses import replace

from podeip import constants as c
from podeip.api.pods import PodView
from podeip.domain import ownership
from podeip.domain.request import EipRequest, ParseResult
from podeip.reconcile import outputs, steps
from podeip.reconcile.base import Memory, Pass, tell_once
from podeip.reconcile.binding import claim_once, holder_exists
from podeip.reconcile.deps import Deps
from podeip.reconcile.plan import SLOW_RETRY, Observed, Step
from podeip.reconcile.queue import Requeue


async def from_list(d: Deps, memory: Memory, pod: PodView, parsed: ParseResult) -> EipRequest | None:
    """The request to create the PodEIP with; None when the pod waits (reported)."""
    eip_list = parsed.eip_list
    if eip_list is None or parsed.errors:
        return parsed.request
    if eip_list.beyond:
        await _list_wait(
            d,
            memory,
            pod,
            f"{eip_list.key} has {len(eip_list.entries)} entries and this pod is replica "
            f"{eip_list.ordinal}: it gets no EIP (entries are taken by ordinal, from 0)",
        )
        return None
    if not parsed.picks_from_list or parsed.request is None:
        return parsed.request
    return await _pick(d, memory, pod, parsed)


async def _pick(d: Deps, memory: Memory, pod: PodView, parsed: ParseResult) -> EipRequest:
    """The request with the first entry nobody holds; raises ``Requeue`` when all are held."""
    assert parsed.eip_list is not None and parsed.request is not None
    for entry in parsed.eip_list.entries:
        holder = await d.claims.get_holder(entry)
        if holder is None or not await holder_exists(d, holder):
            return parsed.request.model_copy(update={"allocation_id": entry})
    count = len(parsed.eip_list.entries)
    await _list_wait(d, memory, pod, f"all {count} EIPs of {parsed.eip_list.key} are held by other pods")
    raise Requeue(after=SLOW_RETRY, reason="EIP list: every entry held")


async def _list_wait(d: Deps, memory: Memory, pod: PodView, message: str) -> None:
    message += "; waiting"
    await outputs.publish(
        d.pods, pod, address=None, reason=c.EV_EIP_LIST_EXHAUSTED, message=message, now=d.clock()
    )
    await tell_once(d, memory, pod, c.EV_EIP_LIST_EXHAUSTED, message)


async def claim(p: Pass, o: Observed, step: Step) -> Observed:
    """The CLAIM act: take the Static claim; a list entry lost to another pod that chose it at
    the same moment, before ever binding, is given up for the next free one."""
    podeip, pod = o.podeip, o.pod
    assert podeip is not None and pod is not None
    held = await claim_once(p, podeip, pod)
    if held[0] is ownership.Claim.MINE:
        return replace(o, claim=held)
    parsed = p.parse(pod)
    if not parsed.picks_from_list or (podeip.status and podeip.status.eip_address):
        return replace(o, claim=held)
    request = await _pick(p.d, p.memory, pod, parsed)
    if request.allocation_id == podeip.spec.allocation_id:
        return replace(o, claim=held)
    patch = {
        "spec": {"allocationID": request.allocation_id},
        "metadata": {"annotations": {c.ANN_REQUEST: request.canonical_json()}},
    }
    p.podeip = await steps.record(p.d, podeip, patch)
    raise Requeue(after=0.0, reason="EIP list: moved to a free entry")
