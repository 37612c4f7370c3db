"""EIP lists (:mod:`podeip.domain.pools`): which entry a pod without an ordinal takes, and waits.

Part of :class:`podeip.reconcile.podeip.Reconciler` (a mixin over :class:`Binding`). The
static-claim Leases (reliability R7) decide who holds an entry; this module only reads them to
choose, and never takes an entry another pod's claim holds:

- a pod without an ordinal gets the first entry whose claim is free (no Lease, or one whose
  holder PodEIP is gone) in its frozen request; when two such pods chose the same entry at once,
  the one that loses the claim, not yet bound, moves to the next free entry;
- a pod with no entry (beyond the list, or all held) gets no PodEIP: its gate is False with
  ``EipListExhausted``, a Warning Event says why, and it looks again every ``SLOW_RETRY``.
"""

from __future__ import annotations

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.domain.request import EipRequest, ParseResult
from podeip.reconcile import outputs, steps
from podeip.reconcile.binding import SLOW_RETRY, Binding
from podeip.reconcile.queue import Requeue


class Pools(Binding):
    async def _from_list(self, pod: PodView, parsed: ParseResult) -> EipRequest | None:
        """The request to create the PodEIP with; None when the pod waits (reported)."""
        eip_list = parsed.eip_list
        if eip_list is None or parsed.errors:
            return parsed.request
        if eip_list.beyond:
            await self._list_wait(
                pod,
                f"{eip_list.key} has {len(eip_list.entries)} entries and this pod is replica "
                f"{eip_list.ordinal}: it gets no EIP (entries are taken by ordinal, from 0)",
            )
            return None
        if not parsed.picks_from_list or parsed.request is None:
            return parsed.request
        return await self._pick(pod, parsed)

    async def _pick(self, pod: PodView, parsed: ParseResult) -> EipRequest:
        """The request with the first entry nobody holds; raises ``Requeue`` when all are held."""
        assert parsed.eip_list is not None and parsed.request is not None
        for entry in parsed.eip_list.entries:
            holder = await self.d.claims.get_holder(entry)
            if holder is None or not await self._holder_exists(holder):
                return parsed.request.model_copy(update={"allocation_id": entry})
        count = len(parsed.eip_list.entries)
        await self._list_wait(pod, f"all {count} EIPs of {parsed.eip_list.key} are held by other pods")
        raise Requeue(after=SLOW_RETRY, reason="EIP list: every entry held")

    async def _list_wait(self, pod: PodView, message: str) -> None:
        message += "; waiting"
        await outputs.publish(
            self.d.pods,
            pod,
            address=None,
            reason=c.EV_EIP_LIST_EXHAUSTED,
            message=message,
            now=self.d.clock(),
        )
        await self._tell_once(pod, c.EV_EIP_LIST_EXHAUSTED, message)

    async def _claim(self, podeip: PodEIP, pod: PodView) -> bool:
        if await super()._claim(podeip, pod):
            return True
        parsed = self._parse(pod)
        if not parsed.picks_from_list or (podeip.status and podeip.status.eip_address):
            return False
        # Lost the claim on an entry another pod chose at the same moment, before ever binding:
        # take the next free one instead of waiting for this one.
        request = await self._pick(pod, parsed)
        if request.allocation_id == podeip.spec.allocation_id:
            return False
        patch = {
            "spec": {"allocationID": request.allocation_id},
            "metadata": {"annotations": {c.ANN_REQUEST: request.canonical_json()}},
        }
        await steps.record(self.d, podeip, patch)
        raise Requeue(after=0.0, reason="EIP list: moved to a free entry")

    # Provided by the Reconciler (podeip.py); declared here for the type checker.
    def _parse(self, pod: PodView) -> ParseResult:  # pragma: no cover
        raise NotImplementedError

    async def _tell_once(self, pod: PodView, reason: str, message: str) -> None:  # pragma: no cover
        raise NotImplementedError
