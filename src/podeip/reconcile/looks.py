"""When the reconciler looks at the cloud, and when it looks again.

Describe calls are rate-limited (600/min per account) and shared by every pod, so a pass does
not describe what it saw a moment ago, and a wait for an async state costs about one look:

- **observations** are kept by the provider's decorator (``podeip.cloud.observed.ObservedEips``,
  the composition root wraps ``Deps.cloud`` in it): the last steady state seen of each EIP, with
  the time it was seen. Passes that only write Kubernetes objects reuse one up to ``STEADY``
  seconds old; a pass that may unbind or release needs one at most ``FRESH`` seconds old (R6).
  Every mutation through the decorator forgets the EIP, before and after the call, and a listing
  taken before that moment never brings the old state back; single looks are coalesced into
  batched Describes. ``eip`` below only names the two ages;
- **waits**: after a mutating call the next look comes when the transition should be over, as
  learnt from earlier waits; the work queue holds the key until then (``Hold.IN_FLIGHT``: events
  in between coalesce into that look, and the key is served before new work);
- **backoffs**: after a cloud failure the queue holds the key for its delay (``Hold.WAIT``)
  even if our own writes (the failure condition, Events) cause watch events meanwhile.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from podeip import constants as c
from podeip.cloud.clock import Clock
from podeip.cloud.errors import RateLimited
from podeip.cloud.models import Eip, EipStatus, Eni
from podeip.cloud.observed import HOLDING, ObservedEips
from podeip.cloud.provider import EipProvider
from podeip.reconcile.queue import Hold, Key, Requeue

#: Seconds a steady observation stands in for a Describe: for decisions that only write
#: Kubernetes objects (STEADY), and for those that may unbind or release (FRESH).
STEADY, FRESH = 30.0, 2.0
#: Seconds a steady observation stands for a terminating pod (``plan._steady``): a DELETE of
#: many pods marks them all at once, and each pass would describe an EIP it will not touch.
TERMINATING = 300.0
#: A look booked ahead for a pass at its rate-limit slot is taken at most ``FRESH − FRESH_MARGIN``
#: seconds before that slot: the margin is for the pass coming back a little late.
FRESH_MARGIN = 0.5
#: Bounds of the delay between looks at an EIP in an async state.
POLL_MIN, POLL_MAX = 0.25, 5.0
#: The transition estimate before any wait was seen: Alibaba's associations and unassociations
#: take about two seconds (the simulator's default mirrors that). Too low costs a wasted look
#: per transition until the first waits are learnt; too high, latency: 2 s errs on neither side.
INITIAL_ESTIMATE = 2.0
#: The estimate is the longest of the last ESTIMATE_WINDOW transitions (a high quantile, not a
#: mean): a first look that comes too early is a wasted Describe and a quarter-estimate of
#: latency, one that comes a little late costs only that little. A first look that succeeds
#: only says "done by then", so it is remembered as PROBE × its delay: the estimate creeps
#: down by 5 % once the window holds nothing longer, and a miss raises it again at once.
ESTIMATE_WINDOW, PROBE, ESTIMATE_MAX = 16, 0.95, 10.0
#: The async states, and the reason shown while an EIP is in one (the catalogue's names).
BUSY_REASONS = {
    EipStatus.ASSOCIATING: c.EV_ASSOCIATING,
    EipStatus.UNASSOCIATING: c.EV_UNASSOCIATING,
    EipStatus.RELEASING: c.EV_RELEASING,
}
BUSY_STATES = frozenset(BUSY_REASONS)


class Looks:
    def __init__(
        self, cloud: EipProvider, *, clock: Callable[[], datetime], monotonic: Clock = time.monotonic
    ) -> None:
        if not isinstance(cloud, ObservedEips):
            # A private cache would not see the mutations made through Deps.cloud.
            raise TypeError("Deps.cloud must be an ObservedEips: wrap the provider where Deps is built")
        self._cloud = cloud
        self._clock = clock
        #: Waits and backoffs run on this (``Deps.monotonic``; a manual clock in tests).
        self._monotonic = monotonic
        #: key → (monotonic start, looks so far, when the last look was planned after the start)
        self._waits: dict[Key, tuple[float, int, float]] = {}
        #: How long the last transitions took here (seconds, upper bounds: see ESTIMATE_WINDOW).
        self._took: deque[float] = deque([INITIAL_ESTIMATE], maxlen=ESTIMATE_WINDOW)

    @property
    def transition_estimate(self) -> float:
        """How long async transitions take here, learnt from the waits (seconds)."""
        return min(ESTIMATE_MAX, max(POLL_MIN, max(self._took)))

    @transition_estimate.setter
    def transition_estimate(self, seconds: float) -> None:
        self._took = deque([seconds], maxlen=ESTIMATE_WINDOW)

    # ---- observations -------------------------------------------------------------------------
    async def eip(self, allocation_id: str, *, max_age: float = FRESH) -> Eip | None:
        """The EIP as seen at most ``max_age`` seconds ago (never a busy state from memory).

        A fresh look at an EIP last seen bound is R6's look before an Unassociate: when the
        rate limit puts that call far off, the slot is reserved first (``RateLimited``: the key
        comes back then) and the look is made then, not now and again when it would be stale."""
        if max_age <= FRESH:
            last, age = self._cloud.last_seen(allocation_id)
            if last is not None and last.status is EipStatus.IN_USE and age > max_age:
                try:
                    self._cloud.ensure_slot("unassociate_eip")
                except RateLimited as limited:  # any batch sent shortly before then serves it
                    at = self._monotonic() + (limited.retry_after or 0.0)
                    self._cloud.book_fresh(allocation_id, at=at, serves=max_age - FRESH_MARGIN)
                    raise
        return await self._cloud.get_eip(allocation_id, max_age=max_age)

    # ---- waits and backoffs ------------------------------------------------------------------------
    # Both are holds of the work queue (queue.py): the key does not run before its time, and
    # events meanwhile (mostly echoes of our own writes) coalesce into that one pass.
    def poll(self, key: Key, reason: str, allocation_id: str = "") -> Requeue:
        """The first look after the learnt transition time, then at a quarter of it, growing,
        at the time of the batch of polls it is booked in (``ObservedEips.book_poll``: polls
        are paced). The key is in flight: served before new work when due."""
        now = self._monotonic()
        started, looks, planned = self._waits.get(key, (now, 0, 0.0))
        estimate = self.transition_estimate
        delay = estimate if looks == 0 else estimate * 0.25 * 1.5 ** (looks - 1)
        delay = min(POLL_MAX, max(POLL_MIN, delay))
        self._waits[key] = (started, looks + 1, planned + delay)
        if allocation_id:
            delay = self._cloud.book_poll(allocation_id, now + delay) - now
        return Requeue(after=delay, reason=reason, hold=Hold.IN_FLIGHT)

    def find_eni_early(self, private_ip: str, *, pod_uid: str) -> None:
        self._cloud.find_eni_early(private_ip, pod_uid=pod_uid)

    async def find_eni(self, private_ip: str, *, pod_uid: str) -> Eni | None:
        """The ENI of the pod IP: the early lookup's answer for this pod if there is one."""
        return await self._cloud.find_eni(private_ip, pod_uid=pod_uid)

    async def holder(self, private_ip: str, *, but: str) -> str:
        """The allocation ID of another EIP than ``but`` on this private IP ("": none seen).
        The IP of a pod gone is given to a new pod while the old pod's EIP is still bound there
        (its own pass unbinds it; Alibaba refuses a second EIP on the IP meanwhile:
        ``InvalidAssociation.Duplicated``, a failed Associate that spends a rate-limit slot).
        What is remembered serves up to ``STEADY``, and while we are changing that EIP (the
        unbind's own poll brings the next look); older, it is looked at again (batched)."""
        held = self._cloud.holder_of(private_ip)
        if held is None or held[0] == but:
            return ""
        allocation_id, age = held
        if age > STEADY:
            eip = await self._cloud.get_eip(allocation_id, max_age=STEADY)
            if eip is None or eip.private_ip_address != private_ip or eip.status not in HOLDING:
                return ""
        return allocation_id

    def ensure_slot(self, method: str) -> None:
        """``ObservedEips.ensure_slot``: before the reads that only serve a rate-limited call."""
        self._cloud.ensure_slot(method)

    @staticmethod
    def back_off(key: Key, delay: float, reason: str) -> Requeue:
        """Wait ``delay`` whatever happens meanwhile (a cloud failure's backoff)."""
        return Requeue(after=delay, reason=reason, hold=Hold.WAIT)

    def waited(self, key: Key) -> float:
        """Seconds since this key's wait for an async state began (0.0: none known)."""
        wait = self._waits.get(key)
        return 0.0 if wait is None else self._monotonic() - wait[0]

    def settled(self, key: Key) -> None:
        """The async state was reached: learn how long it took."""
        wait = self._waits.pop(key, None)
        if wait is None:
            return
        _, looks, planned = wait
        # What is learnt is when the look that found it done was planned, not when it came:
        # the queue, the pacing of polls and a busy moment make looks late, and a transition
        # that looked that long would keep every later first look late for 16 transitions.
        # The look before saw it busy, so it took longer than that one's plan: a plan a little
        # short is raised again by the next miss. Reached at the first look: done by then,
        # perhaps earlier (probe a little lower).
        self._took.append(PROBE * planned if looks == 1 else planned)

    def clear(self, key: Key) -> None:
        self._waits.pop(key, None)
