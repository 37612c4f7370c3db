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
from collections.abc import Callable
from datetime import datetime

from podeip import constants as c
from podeip.cloud.clock import Clock
from podeip.cloud.models import Eip, EipStatus
from podeip.cloud.observed import ObservedEips
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
        if not isinstance(cloud, ObservedEips):
            # A private cache would not see the mutations made through Deps.cloud.
            raise TypeError("Deps.cloud must be an ObservedEips: wrap the provider where Deps is built")
        self._cloud = cloud
        self._clock = clock
        #: Waits and backoffs run on this (``Deps.monotonic``; a manual clock in tests).
        self._monotonic = monotonic
        #: key → (monotonic start, looks so far)
        self._waits: dict[Key, tuple[float, int]] = {}
        #: How long async transitions take here, learnt from the waits (seconds).
        self.transition_estimate = 1.0

    # ---- observations -------------------------------------------------------------------------
    async def eip(self, allocation_id: str, *, max_age: float = FRESH) -> Eip | None:
        """The EIP as seen at most ``max_age`` seconds ago (never a busy state from memory)."""
        return await self._cloud.get_eip(allocation_id, max_age=max_age)

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

    def waited(self, key: Key) -> float:
        """Seconds since this key's wait for an async state began (0.0: none known)."""
        wait = self._waits.get(key)
        return 0.0 if wait is None else self._monotonic() - wait[0]

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
