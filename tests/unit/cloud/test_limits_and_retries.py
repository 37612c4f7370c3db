"""We test these aspects: token buckets, the per-API limiter, backoff policies and both loops.

Buckets start full and refill at their rate on an injected clock; the limiter makes callers
wait exactly as long as needed and leaves unlisted APIs alone; delays grow, are capped and
jittered; only retryable errors are retried, honouring retry_after; polling stops at done or
at its timeout.
"""

from __future__ import annotations

import pytest

from podeip.cloud import errors, retry
from podeip.cloud.clock import ManualClock
from podeip.cloud.ratelimit import RateLimiter, TokenBucket
from podeip.settings import CloudSettings, RateLimit


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.reserve(commit=False) == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.try_take() and not bucket.try_take()


async def test_the_limiter_spaces_calls_of_one_api_and_ignores_unlisted_ones() -> None:
    clock = ManualClock()
    limiter = RateLimiter(
        {"AllocateEipAddress": RateLimit(per_minute=60, burst=2)}, clock=clock, sleep=clock.sleep
    )
    start = clock()
    for _ in range(5):
        await limiter.acquire("AllocateEipAddress")
    for _ in range(50):
        await limiter.acquire("DescribeEipAddresses")
    assert clock() - start == pytest.approx(3.0)  # 2 at once, then one per second


def test_backoff_grows_by_its_factor_up_to_the_cap_with_bounded_jitter() -> None:
    policy = retry.BackoffPolicy(base=0.5, cap=4.0, attempts=10, jitter=0.5)
    ceilings = [policy.delay(n, rng=lambda: 0.0) for n in range(6)]
    floors = [policy.delay(n, rng=lambda: 1.0) for n in range(6)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert floors == [ceiling / 2 for ceiling in ceilings]


def test_settings_override_the_api_policy() -> None:
    policies = retry.policies_from(
        CloudSettings(max_retries=2, backoff_base_seconds=0.1, backoff_cap_seconds=1)
    )
    assert (policies[retry.API].attempts, policies[retry.API].base, policies[retry.API].cap) == (3, 0.1, 1)


async def test_only_retryable_errors_are_retried() -> None:
    clock = ManualClock()
    policy = retry.BackoffPolicy(base=1, cap=10, attempts=4)
    attempts: list[int] = []

    async def conflict() -> None:
        attempts.append(1)
        raise errors.InvalidState("no", code="IncorrectEipStatus")

    with pytest.raises(errors.InvalidState):
        await retry.retrying(conflict, policy=policy, sleep=clock.sleep)
    assert len(attempts) == 1 and clock.sleeps == []


async def test_retryable_errors_are_retried_until_success_honouring_retry_after() -> None:
    clock = ManualClock()
    outcomes: list[Exception | None] = [
        errors.Throttled("slow down", retry_after=7.0),
        errors.Transport("lost"),
        None,
    ]

    async def call() -> str:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return "done"

    result = await retry.retrying(
        call, policy=retry.BackoffPolicy(base=1, cap=10, attempts=5), sleep=clock.sleep, rng=lambda: 0.0
    )
    assert result == "done" and clock.sleeps == [7.0, 2.0]


async def test_polling_returns_when_done_and_raises_at_its_timeout() -> None:
    clock = ManualClock()
    policy = retry.BackoffPolicy(base=1, cap=4, attempts=100, jitter=0)
    values = iter(range(100))

    async def fetch() -> int:
        return next(values)

    assert (
        await retry.polling(
            fetch, done=lambda v: v == 3, timeout=60, policy=policy, clock=clock, sleep=clock.sleep
        )
        == 3
    )
    started = clock()
    with pytest.raises(errors.WaitTimeout):
        await retry.polling(
            fetch, done=lambda v: v < 0, timeout=20, policy=policy, clock=clock, sleep=clock.sleep
        )
    assert clock() - started == pytest.approx(20)
