"""Time as a parameter of the cloud layer.

Rate limiters, backoff and the simulated cloud all read a clock and sleep through a function
they are given, so tests can run minutes of simulated time in milliseconds by sharing one
``ManualClock`` between the operator's side and the simulator's side (docs/style.md rule 7).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

#: Seconds on some monotonic scale (``time.monotonic`` or a manual clock).
Clock = Callable[[], float]
#: An awaitable pause (``asyncio.sleep`` or a manual clock's ``sleep``).
Sleep = Callable[[float], Awaitable[None]]


def wall_clock() -> float:
    """Seconds since the epoch: the simulator's default, so allocation times look real."""
    return time.time()


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        #: Every pause requested through ``sleep``, in order (backoff tests read it).
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        # Yield to the loop as a real sleep would, so that other tasks get a turn.
        await asyncio.sleep(0)
