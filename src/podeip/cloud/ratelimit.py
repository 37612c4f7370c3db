"""Token buckets per API name, on an injected clock.

Alibaba throttles per region, API and main account, shared with every other tool in the
account (docs/alibaba-api.md §11). The operator keeps its own rate below the published limits
with one bucket per API, shared by handlers and GC; the simulated cloud uses the same bucket
class, without waiting, to answer ``Throttling.User`` when its limit is exceeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from contextvars import ContextVar

from podeip.cloud import errors
from podeip.cloud.clock import Clock, Sleep
from podeip.settings import RateLimit


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    def __init__(self, *, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> bool:
        """Take a token if one is there (the server's side: throttle, never wait)."""
        return self.reserve() == 0.0

    def reserve(self, *, commit: bool = True) -> float:
        """Seconds until a token is available; 0 means one was taken now (if ``commit``)."""
        self._refill()
        # A tolerance for float rounding: a wait of 1e-16 s cannot move a clock at 1.7e9 s.
        if self._tokens >= 1.0 - 1e-6:
            if commit:
                self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


#: A reserved slot is honoured this many intervals late (``RateLimiter``: at most this many
#: calls above the schedule in any window, within the margin to Alibaba's published burst).
LAPSE = 2

#: The longest a caller in this task may sleep for a slot (None: as long as it takes). Reconcile
#: workers set it, so that a worker never sleeps while polls of other pods are due.
MAX_WAIT: ContextVar[float | None] = ContextVar("podeip_rate_limit_max_wait", default=None)
#: Who calls in this task (a reconcile worker's key): a slot beyond ``MAX_WAIT`` is reserved
#: for it. Calls shared by many keys (batched reads) must run with None.
HOLDER: ContextVar[Hashable | None] = ContextVar("podeip_rate_limit_holder", default=None)


def reserve_for(holder: Hashable, *, max_wait: float) -> None:
    """From here on in this task, calls are made for ``holder`` and wait at most ``max_wait``."""
    HOLDER.set(holder)
    MAX_WAIT.set(max_wait)


class RateLimiter:
    """One schedule per API name; APIs without a configured limit are not limited.

    Each call reserves the next free slot of its API (a burst of ``burst`` calls at once, then
    one per ``60/per_minute`` seconds) and sleeps until it. Reservations are first come, first
    served. A caller that must not sleep long (a reconcile worker that other pods are waiting
    for) passes ``max_wait``: when its slot is further away it gets
    :class:`~podeip.cloud.errors.RateLimited` with the wait, to come back then. With a
    ``holder`` (``HOLDER``), the slot is reserved for it meanwhile: when the holder calls that
    API again, it takes its own slot and no other (no one else takes it either, and the budget
    is spent once); back early, it is told to wait for the same slot again.

    A reservation is honoured until ``LAPSE`` intervals after its slot; later, it lapses and
    the holder queues again as anyone would. Calls made up to two intervals late add at most two
    calls to any window of the schedule (GCRA: at most ``burst + t·rate`` calls in any ``t``
    seconds), and the default client limits keep that margin below Alibaba's published ones
    (``cloud_apis.py``: 110/min with a burst of 10 against 120 and 12), so reserving never
    makes the cloud throttle us. Two, not one: a pass back at its slot makes its looks (the
    EIP, the ENI, the pod again, R10) before the call, and a 100-pod burst showed those passes
    often more than one interval late (0.55 s at 110/min); each lapse sent the pass to the back
    of the schedule, wasted the slot and cost the looks again (issue 13: Associates at 86/min,
    Allocate to Associate 16 s at the median; 7 s with two intervals; four made it 2 s, but
    four late calls in one window could exceed Alibaba's burst).
    """

    def __init__(
        self, limits: Mapping[str, RateLimit], *, clock: Clock, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._schedules = {
            api: (60.0 / limit.per_minute, (limit.burst - 1) * 60.0 / limit.per_minute)
            for api, limit in limits.items()
        }
        #: The theoretical time at which the next call of each API would be on schedule.
        self._next: dict[str, float] = {}
        #: Slots reserved per API: holder → the time its call may be made (in slot order).
        self._reserved: dict[str, dict[Hashable, float]] = {}
        self._clock = clock
        self._sleep = sleep

    def ensure(self, api: str) -> None:
        """Raise ``RateLimited`` now, and reserve the slot for this task's holder, if a call of
        ``api`` would have to wait beyond ``MAX_WAIT``; take nothing otherwise.

        For reads that only serve that call (R6's fresh look before an Unassociate): made
        before a slot that is far away, they would be stale by then and made again. A slot
        near enough is not taken here: the call takes it (should another take it first, the
        call is told to come back, as without this check)."""
        schedule = self._schedules.get(api)
        max_wait, holder = MAX_WAIT.get(), HOLDER.get()
        if schedule is None or max_wait is None or holder is None:
            return
        interval, tolerance = schedule
        now = self._clock()
        slot = self._reserved.get(api, {}).get(holder)
        if slot is not None and slot + LAPSE * interval >= now:  # reserved earlier, not lapsed
            wait = slot - now
        else:
            wait = max(0.0, max(self._next.get(api, now), now) - tolerance - now)
        if wait > max_wait:
            self._take(api, max_wait, holder)  # reserves it (or finds it reserved) and raises

    async def acquire(
        self, api: str, *, max_wait: float | None = None, holder: Hashable | None = None
    ) -> None:
        """Wait until a call of ``api`` fits in its budget, then count it."""
        if api not in self._schedules:
            return
        max_wait = MAX_WAIT.get() if max_wait is None else max_wait
        holder = HOLDER.get() if holder is None else holder
        wait = self._take(api, max_wait, holder)
        if wait > 0.0:
            await self._sleep(wait)

    def _take(self, api: str, max_wait: float | None, holder: Hashable | None) -> float:
        """Count a call of ``api`` and return how long to wait for its slot, or raise
        ``RateLimited`` (a slot beyond ``max_wait``: reserved for ``holder`` if there is one)."""
        interval, tolerance = self._schedules[api]
        now = self._clock()
        reserved = self._reserved.setdefault(api, {})
        while reserved:  # lapsed reservations (in slot order)
            first, slot = next(iter(reserved.items()))
            if slot + LAPSE * interval >= now:
                break
            del reserved[first]
        if holder is not None and holder in reserved:
            wait = reserved[holder] - now
            if max_wait is not None and wait > max_wait:
                raise errors.RateLimited(
                    f"{api}: client-side limit, reserved slot in {wait:.1f}s", operation=api, retry_after=wait
                )
            del reserved[holder]
        else:
            due = max(self._next.get(api, now), now)
            wait = max(0.0, due - tolerance - now)
            reserve = max_wait is not None and wait > max_wait
            if reserve and holder is None:
                raise errors.RateLimited(
                    f"{api}: client-side limit, next slot in {wait:.1f}s", operation=api, retry_after=wait
                )
            self._next[api] = due + interval
            if reserve:
                reserved[holder] = now + wait
                raise errors.RateLimited(
                    f"{api}: client-side limit, slot reserved in {wait:.1f}s", operation=api, retry_after=wait
                )
        return wait
