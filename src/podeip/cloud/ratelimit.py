"""Token buckets per API name, on an injected clock.

Alibaba throttles per region, API and main account, shared with every other tool in the
account (alibaba-openapi §11). The operator keeps its own rate below the published limits
with one bucket per API, shared by handlers and GC; the simulated cloud uses the same bucket
class, without waiting, to answer ``Throttling.User`` when its limit is exceeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

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


class RateLimiter:
    """One bucket per API name; APIs without a configured limit are not limited."""

    def __init__(
        self, limits: Mapping[str, RateLimit], *, clock: Clock, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._buckets = {
            api: TokenBucket(rate=limit.per_minute / 60.0, burst=limit.burst, clock=clock)
            for api, limit in limits.items()
        }
        self._sleep = sleep
        self._locks = {api: asyncio.Lock() for api in limits}

    async def acquire(self, api: str) -> None:
        """Wait until a call of ``api`` fits in its budget, then count it."""
        bucket = self._buckets.get(api)
        if bucket is None:
            return
        # One waiter per API at a time keeps the order fair and the wait computation exact.
        async with self._locks[api]:
            while (wait := bucket.reserve()) > 0.0:
                await self._sleep(wait)
