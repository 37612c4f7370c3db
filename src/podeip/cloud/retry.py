"""Named backoff policies and the two loops that use them: retrying a call, polling a state.

Every wait in the cloud layer goes through here, with ``asyncio.sleep`` (or an injected
sleep), never the SDK's own retry, which blocks the event loop with ``time.sleep``
(docs/alibaba-api.md §8). Only errors whose class says ``retryable`` are retried; the same
request (and so the same ClientToken) is sent again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final, TypeVar

from podeip.cloud import errors
from podeip.cloud.clock import Clock, Sleep
from podeip.settings import CloudSettings

T = TypeVar("T")


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff: ``base * factor**n`` capped at ``cap``, ``attempts`` tries in all.

    ``jitter`` is the fraction of each delay that is random (0.5: between 50% and 100%).
    """

    base: float
    cap: float
    attempts: int
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, retry: int, *, rng: Callable[[], float] = random.random) -> float:
        """The pause before retry number ``retry`` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * self.factor**retry)
        return ceiling * (1.0 - self.jitter * rng())


#: Policy names used by the cloud layer; Settings can override ``api``.
API: Final = "api"
ASYNC_STATE: Final = "async-state"

#: Defaults (docs/alibaba-api.md §11): API calls back off from 0.5 s to 20 s; waits for async
#: states start at 1 s and grow by 1.5 up to 10 s, bounded by the caller's timeout.
POLICIES: Final[dict[str, BackoffPolicy]] = {
    API: BackoffPolicy(base=0.5, cap=20.0, attempts=5),
    ASYNC_STATE: BackoffPolicy(base=1.0, cap=10.0, attempts=1_000, factor=1.5, jitter=0.3),
}


def policies_from(settings: CloudSettings) -> dict[str, BackoffPolicy]:
    """The named policies with the overrides of ``settings.cloud``."""
    api = replace(
        POLICIES[API],
        base=settings.backoff_base_seconds,
        cap=settings.backoff_cap_seconds,
        attempts=settings.max_retries + 1,
    )
    return {**POLICIES, API: api}


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    policy: BackoffPolicy,
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    on_retry: Callable[[errors.CloudError, float], None] | None = None,
) -> T:
    """Run ``call``; on a retryable CloudError wait and run it again, up to ``policy.attempts``."""
    for retry in range(policy.attempts):
        try:
            return await call()
        except errors.CloudError as error:
            if not error.retryable or retry + 1 >= policy.attempts:
                raise
            pause = max(policy.delay(retry, rng=rng), error.retry_after or 0.0)
            if on_retry is not None:
                on_retry(error, pause)
            await sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")


async def polling(
    fetch: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    timeout: float,  # noqa: ASYNC109 - measured on the injected clock, not the loop's
    policy: BackoffPolicy,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    what: str = "state",
) -> T:
    """Fetch until ``done(value)``; raise ``WaitTimeout`` after ``timeout`` seconds."""
    deadline = clock() + timeout
    for retry in range(policy.attempts):
        value = await fetch()
        if done(value):
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            break
        await sleep(min(remaining, policy.delay(retry, rng=rng)))
    raise errors.WaitTimeout(f"{what} not reached within {timeout:g}s", code="PodeipWaitTimeout")
