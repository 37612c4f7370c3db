"""We test these aspects of the token bucket: a full bucket lets a burst through at once, the
next request waits for one token's worth of time, waiters queue one token apart, tokens refill
with time up to the burst and never beyond, nonsense parameters are refused, and acquire
sleeps (in loop time) only beyond the burst."""

from __future__ import annotations

import asyncio

import pytest

from podeip.k8s.throttling import TokenBucket


def test_a_burst_passes_without_waiting() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.reserve(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_requests_beyond_the_burst_queue_one_token_apart() -> None:
    bucket = TokenBucket(rate=10, burst=2)
    delays = [bucket.reserve(100.0) for _ in range(4)]
    assert delays[:2] == [0.0, 0.0]
    assert delays[2:] == pytest.approx([0.1, 0.2])


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=2, burst=2)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    # A long pause refills only up to the burst: two free requests, then a wait.
    assert [bucket.reserve(60.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


def test_a_partial_refill_shortens_the_wait() -> None:
    bucket = TokenBucket(rate=4, burst=1)
    bucket.reserve(0.0)
    assert bucket.reserve(0.125) == pytest.approx(0.125)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_parameters_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)


@pytest.mark.looptime
async def test_acquire_sleeps_only_for_requests_beyond_the_burst() -> None:
    loop = asyncio.get_running_loop()
    bucket = TokenBucket(rate=10, burst=2)
    start = loop.time()
    await bucket.acquire()
    await bucket.acquire()
    assert loop.time() == start
    await bucket.acquire()
    assert loop.time() - start == pytest.approx(0.1)
