"""A token bucket for the operator's own Kubernetes requests (AENC's kubeClientQPS/Burst).

client-go throttles every request of a client, reads included, and AENC exposes those two knobs;
we keep the same meaning so that a user's tuned values carry over. kopf's watch streams and its
handler patches go through kopf's own client and are not throttled here.

The arithmetic is a pure function of the time passed in (:meth:`TokenBucket.reserve`), so it is
tested without clocks; :meth:`TokenBucket.acquire` only adds the event-loop time and the wait.
"""

from __future__ import annotations

import asyncio


class TokenBucket:
    """``rate`` tokens per second on average, at most ``burst`` at once. Waiters queue fairly:
    each reservation takes a token now (possibly driving the balance negative) and is told how
    long to wait until that token exists."""

    def __init__(self, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated: float | None = None

    def reserve(self, now: float) -> float:
        """Take one token at time ``now``; return the seconds to wait before using it."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def acquire(self) -> None:
        delay = self.reserve(asyncio.get_running_loop().time())
        if delay > 0:
            await asyncio.sleep(delay)
