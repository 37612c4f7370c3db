"""We test these aspects: token buckets, the per-API limiter, backoff policies and both loops.

Buckets start full and refill at their rate on an injected clock; the limiter makes callers
wait exactly as long as needed and leaves unlisted APIs alone; delays grow, are capped and
jittered; only retryable errors are retried, honouring retry_after; polling stops at done or
at its timeout; a worker that must not sleep reserves its slot, which only it takes when it
comes back (early: the same slot again; too late: it lapses), and reserving at the default
client limits never exceeds Alibaba's published bucket.
"""

from __future__ import annotations

import math
import random

import pytest

from podeip import cloud_apis
from podeip.cloud import errors, ratelimit, retry
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


LIMITS = {"AssociateEipAddress": RateLimit(per_minute=60, burst=2)}


async def test_a_worker_reserves_a_far_slot_and_only_it_takes_it_when_back() -> None:
    clock = ManualClock()
    limiter = RateLimiter(LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(2):  # the burst
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="a")
    with pytest.raises(errors.RateLimited) as first:
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="b")
    assert first.value.retry_after == pytest.approx(1.0)
    with pytest.raises(errors.RateLimited) as second:  # c queues behind b's slot
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="c")
    assert second.value.retry_after == pytest.approx(2.0)
    clock.advance(0.5)
    with pytest.raises(errors.RateLimited) as early:  # b back early: the same slot, no other
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="b")
    assert early.value.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="b")  # its slot
    with pytest.raises(errors.RateLimited) as after:  # a newcomer queues behind c
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="d")
    assert after.value.retry_after == pytest.approx(2.0)
    clock.advance(1.0)
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="c")
    assert clock.sleeps == []  # nobody slept


async def _reserved_late(clock: ManualClock) -> RateLimiter:
    """Two calls spend the burst; callers without a holder are told to wait and spend nothing;
    ``late`` reserves the slot at 1.0 (the schedule then stands at 3.0)."""
    limiter = RateLimiter(LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        await limiter.acquire("AssociateEipAddress")
    for _ in range(3):  # no holder: told to wait, nothing spent
        with pytest.raises(errors.RateLimited):
            await limiter.acquire("AssociateEipAddress", max_wait=0.0)
    with pytest.raises(errors.RateLimited):
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="late")  # slot at 1.0
    return limiter


async def test_a_caller_without_a_holder_reserves_nothing_and_a_late_reservation_is_honoured() -> None:
    """Back 1.5 intervals after its slot (a pass that made its looks first): its own slot."""
    clock = ManualClock()
    limiter = await _reserved_late(clock)
    clock.advance(2.5)
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="late")  # its slot (1.0)
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="other")  # 2.0, refilled
    with pytest.raises(errors.RateLimited) as next_one:
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="third")
    assert next_one.value.retry_after == pytest.approx(0.5)  # 3.0: no slot was spent twice


async def test_a_reservation_later_than_its_lapse_queues_again() -> None:
    clock = ManualClock()
    limiter = await _reserved_late(clock)
    clock.advance(3.5)  # more than LAPSE (2) intervals after its slot: lapsed
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="late")  # a fresh slot (3.5)
    await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="other")
    with pytest.raises(errors.RateLimited) as next_one:
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="third")
    assert next_one.value.retry_after == pytest.approx(1.0)  # 4.5: the lapsed slot was spent too


@pytest.mark.parametrize("seed", range(5))
async def test_reserving_workers_never_exceed_alibabas_bucket_at_the_default_limits(seed: int) -> None:
    """Many keys reserving slots at the default client limit (110/min, burst 10), each coming
    back at its slot or late, at the next tick of a coarse timer (late ones bunch: without the
    lapse of late reservations, this throttles): the published limit's bucket (120/min, burst
    12, as the simulator models it) never refuses a call."""
    rng = random.Random(seed)
    clock = ManualClock()
    api = cloud_apis.api("AssociateEipAddress")
    limiter = RateLimiter(
        {api.name: RateLimit(per_minute=api.client_limit, burst=api.client_burst)},
        clock=clock,
        sleep=clock.sleep,
    )
    alibaba = TokenBucket(rate=(api.published_limit or 0) / 60.0, burst=12, clock=clock)
    interval = 60.0 / api.client_limit
    due: dict[int, float] = {key: rng.uniform(0, 30) for key in range(300)}
    made = 0
    while due:
        key, at = min(due.items(), key=lambda item: item[1])
        clock.advance(at - clock())
        try:
            await limiter.acquire(api.name, max_wait=0.05, holder=key)
        except errors.RateLimited as limited:
            slot = clock() + (limited.retry_after or 0.0)
            # Back on time, or late: at the next tick of a coarse timer (the worst case bunches).
            tick = rng.choice([0.0, 30 * interval])
            due[key] = slot if not tick else math.ceil(slot / tick) * tick
            continue
        assert alibaba.try_take(), f"throttled at call {made}"
        made += 1
        del due[key]
    assert made == 300


async def test_ensure_takes_no_slot_when_one_is_near_and_reserves_a_far_one_for_the_caller() -> None:
    clock = ManualClock()
    limiter = RateLimiter(LIMITS, clock=clock, sleep=clock.sleep)
    ratelimit.reserve_for("a", max_wait=0.0)
    for _ in range(3):  # a slot is free: nothing is taken, however often it is asked
        limiter.ensure("AssociateEipAddress")
    for _ in range(2):  # the burst is still all there
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="x")
    ratelimit.reserve_for("b", max_wait=0.0)
    with pytest.raises(errors.RateLimited) as far:  # b's slot is 1 s off: reserved for b now
        limiter.ensure("AssociateEipAddress")
    assert far.value.retry_after == pytest.approx(1.0)
    with pytest.raises(errors.RateLimited) as behind:  # c queues behind b's reserved slot
        await limiter.acquire("AssociateEipAddress", max_wait=0.0, holder="c")
    assert behind.value.retry_after == pytest.approx(2.0)
    clock.advance(1.0)
    limiter.ensure("AssociateEipAddress")  # b is back at its slot: go on (to the reads, then the call)
    await limiter.acquire("AssociateEipAddress")  # b's own slot, without waiting
    assert clock.sleeps == []
