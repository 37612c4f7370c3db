"""When the reconciler looks at the cloud, and when it looks again.

Describe calls are rate-limited (600/min per account) and shared by every pod, so a pass does
not describe what it saw a moment ago, and a wait for an async state costs about one look:

- **observations**: the last steady state seen of each EIP, with the time it was seen. Passes
  that only write Kubernetes objects reuse one up to ``STEADY`` seconds old; a pass that may
  unbind or release needs one at most ``FRESH`` seconds old (R6). Every mutation forgets the
  EIP (``forget``), and a listing taken before that moment never brings the old state back;
- **waits**: after a mutating call the next look comes when the transition should be over, as
  learnt from earlier waits; the work queue holds the key until then (``Hold.IN_FLIGHT``: events
  in between coalesce into that look, and the key is served before new work);
- **backoffs**: after a cloud failure the queue holds the key for its delay (``Hold.WAIT``)
  even if our own writes (the failure condition, Events) cause watch events meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from podeip import constants as c
from podeip.cloud.clock import Clock
from podeip.cloud.models import Eip, EipStatus
from podeip.cloud.provider import EipProvider
from podeip.reconcile.queue import Hold, Key, Requeue

#: Seconds a steady observation stands in for a Describe: for decisions that only write
#: Kubernetes objects (STEADY), and for those that may unbind or release (FRESH).
STEADY, FRESH = 30.0, 2.0
#: Bounds of the delay between looks at an EIP in an async state.
POLL_MIN, POLL_MAX = 0.25, 5.0
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
        self._cloud = cloud
        self._clock = clock
        #: Waits and backoffs run on this (``Deps.monotonic``; a manual clock in tests).
        self._monotonic = monotonic
        self._seen: dict[str, tuple[Eip, datetime]] = {}
        self._forgotten: dict[str, datetime] = {}
        #: key → (monotonic start, looks so far)
        self._waits: dict[Key, tuple[float, int]] = {}
        #: How long async transitions take here, learnt from the waits (seconds).
        self.transition_estimate = 1.0

    # ---- observations -------------------------------------------------------------------------
    async def eip(self, allocation_id: str, *, max_age: float = FRESH) -> Eip | None:
        seen = self._seen.get(allocation_id)
        if (
            seen
            and seen[0].status not in BUSY_STATES
            and (self._clock() - seen[1]).total_seconds() <= max_age
        ):
            return seen[0]
        return self.remember(await self._cloud.get_eip(allocation_id), allocation_id=allocation_id)

    def remember(self, eip: Eip | None, *, allocation_id: str, at: datetime | None = None) -> Eip | None:
        """Record what was seen at ``at`` (default now), unless we changed the EIP since."""
        at = at or self._clock()
        forgotten = self._forgotten.get(allocation_id)
        seen = self._seen.get(allocation_id)
        if (forgotten is not None and forgotten >= at) or (seen is not None and seen[1] > at):
            return eip  # we changed it since, or saw it later than this
        if eip is None:
            self._seen.pop(allocation_id, None)
        else:
            self._seen[allocation_id] = (eip, at)
        return eip

    def remember_listing(self, eips: Iterable[Eip], *, listed_at: datetime) -> None:
        """A listing that started at ``listed_at`` (the garbage collector's)."""
        for eip in eips:
            self.remember(eip, allocation_id=eip.allocation_id, at=listed_at)

    def forget(self, allocation_id: str) -> None:
        """We change this EIP: nothing seen before now is true any more. Called before the call
        and again after it, since a listing taken while the call ran may show the old state."""
        self._seen.pop(allocation_id, None)
        self._forgotten[allocation_id] = self._clock()

    def drop(self, allocation_id: str) -> None:
        """The EIP is gone for good (released): free its memory."""
        self._seen.pop(allocation_id, None)
        self._forgotten.pop(allocation_id, None)

    # ---- waits and backoffs ------------------------------------------------------------------------
    # Both are holds of the work queue (queue.py): the key does not run before its time, and
    # events meanwhile (mostly echoes of our own writes) coalesce into that one pass.
    def poll(self, key: Key, reason: str) -> Requeue:
        """The first look after the learnt transition time, then at a quarter of it, growing.
        The key is in flight: served before new work when due."""
        now = self._monotonic()
        started, looks = self._waits.get(key, (now, 0))
        estimate = self.transition_estimate
        delay = estimate if looks == 0 else estimate * 0.25 * 1.5 ** (looks - 1)
        delay = min(POLL_MAX, max(POLL_MIN, delay))
        self._waits[key] = (started, looks + 1)
        return Requeue(after=delay, reason=reason, hold=Hold.IN_FLIGHT)

    @staticmethod
    def back_off(key: Key, delay: float, reason: str) -> Requeue:
        """Wait ``delay`` whatever happens meanwhile (a cloud failure's backoff)."""
        return Requeue(after=delay, reason=reason, hold=Hold.WAIT)

    def settled(self, key: Key) -> None:
        """The async state was reached: learn how long it took."""
        wait = self._waits.pop(key, None)
        if wait is None:
            return
        started, looks = wait
        if looks == 1:  # reached at the first look: it may have been reached earlier; probe lower
            estimate = 0.95 * self.transition_estimate
        else:
            estimate = 0.7 * self.transition_estimate + 0.3 * (self._monotonic() - started)
        self.transition_estimate = min(10.0, max(POLL_MIN, estimate))

    def clear(self, key: Key) -> None:
        self._waits.pop(key, None)
