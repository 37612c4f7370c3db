"""We test these aspects of when the reconciler looks at the cloud:

- a look asks the provider's observation cache (``ObservedEips``, tested in
  tests/unit/cloud/test_observed.py) with the age it allows, and refuses a bare provider;
- the first look after a mutation waits for the learnt transition time, as a hold of the key in
  flight (the queue keeps events from running it earlier: test_queue.py); the estimate is the
  longest recent transition, so first-look successes do not drag it below the real time;
- polls are booked in the paced batches of the observation cache; R6's look before an
  Unassociate whose slot is far is booked ahead, and a batch shortly before serves it;
- a backoff is a plain hold of its delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from podeip.cloud import errors
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import Eip, EipStatus
from podeip.cloud.observed import PACE, ObservedEips
from podeip.reconcile.looks import ESTIMATE_WINDOW, FRESH, INITIAL_ESTIMATE, PROBE, Looks
from podeip.reconcile.queue import Hold


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Cloud:
    """Only what the observation cache uses here: describe_eips by ID, counted."""

    def __init__(self, states: Sequence[EipStatus]) -> None:
        self.states = list(states)
        self.calls = 0

    async def describe_eips(self, *, allocation_ids: Sequence[str]) -> list[Eip]:
        self.calls += 1
        status = self.states.pop(0)
        return [Eip(allocation_id=i, ip_address="203.0.113.9", status=status) for i in allocation_ids]


async def test_a_look_asks_the_observation_cache_with_its_age() -> None:
    cloud = Cloud([EipStatus.IN_USE, EipStatus.IN_USE])
    looks = Looks(ObservedEips(cloud), clock=Clock())  # type: ignore[arg-type]
    await looks.eip("eip-1")
    await looks.eip("eip-1", max_age=30)
    assert cloud.calls == 1
    with pytest.raises(TypeError):
        Looks(cloud, clock=Clock())  # type: ignore[arg-type]


def test_the_first_look_waits_the_estimate_and_holds_the_key_in_flight() -> None:
    looks = Looks(ObservedEips(Cloud([])), clock=Clock())  # type: ignore[arg-type]
    looks.transition_estimate = 2.0
    first = looks.poll(("ns", "p"), "associating")
    assert (first.after, first.hold) == (pytest.approx(2.0), Hold.IN_FLIGHT)
    second = looks.poll(("ns", "p"), "associating")
    assert second.after == pytest.approx(0.5)  # then a quarter of the estimate
    assert looks.poll(("ns", "other"), "x").after == pytest.approx(2.0)  # keys are apart


def test_the_estimate_is_the_longest_recent_transition_and_first_look_successes_barely_lower_it() -> None:
    mono = ManualClock()
    looks = Looks(ObservedEips(Cloud([])), clock=Clock(), monotonic=mono)  # type: ignore[arg-type]
    assert looks.transition_estimate == pytest.approx(INITIAL_ESTIMATE)
    looks.transition_estimate = 2.0
    for n in range(ESTIMATE_WINDOW - 1):  # reached at the first look, again and again
        looks.poll(("ns", f"a{n}"), "x")
        looks.settled(("ns", f"a{n}"))
    # Still the longest seen: a mean of first-look successes would have drifted below the
    # real transition (2.0 · 0.95¹⁵ ≈ 0.93 s), and every first look would then come too early.
    assert looks.transition_estimate == pytest.approx(2.0)
    looks.poll(("ns", "last"), "x")
    looks.settled(("ns", "last"))
    assert looks.transition_estimate == pytest.approx(2.0 * PROBE)  # the window forgot 2.0: probe
    looks.poll(("ns", "b"), "x")  # a miss: the first look at 1.9 s found it busy
    mono.advance(1.9)
    second = looks.poll(("ns", "b"), "x")
    assert second.after < 1.9  # later looks come faster than the first
    mono.advance(second.after + 3.0)  # that look came 3 s late (a busy queue, paced polls)
    looks.settled(("ns", "b"))
    # Raised at once, to when the look that found it done was planned, not when it came.
    assert looks.transition_estimate == pytest.approx(1.9 + second.after)


def test_a_backoff_is_a_hold_of_its_delay() -> None:
    looks = Looks(ObservedEips(Cloud([])), clock=Clock())  # type: ignore[arg-type]
    requeue = looks.back_off(("ns", "p"), 60.0, "QuotaExceeded")
    assert (requeue.after, requeue.hold, requeue.reason) == (60.0, Hold.WAIT, "QuotaExceeded")


async def test_a_poll_waits_for_its_batch_and_a_far_unassociate_slot_books_the_fresh_look() -> None:
    mono = ManualClock()
    cloud = ObservedEips(Cloud([EipStatus.IN_USE, EipStatus.IN_USE]), clock=mono)  # type: ignore[arg-type]
    looks = Looks(cloud, clock=Clock(), monotonic=mono)
    looks.transition_estimate = 2.0
    assert looks.poll(("ns", "a"), "x", "eip-a").after == pytest.approx(2.0)  # alone: at once
    # Due 0.5 s after a's poll: it goes with the next batch of polls.
    mono.advance(0.5)
    assert looks.poll(("ns", "b"), "x", "eip-b").after == pytest.approx(2.0 - 0.5 + PACE)
    # R6's look at an EIP last seen bound, its Unassociate slot 3 s away: no Describe now.
    await looks.eip("eip-c", max_age=30)
    mono.advance(10)
    limited = errors.RateLimited("far", retry_after=3.0)

    def far(method: str) -> None:
        raise limited

    cloud.ensure_slot = far  # type: ignore[method-assign]
    with pytest.raises(errors.RateLimited):
        await looks.eip("eip-c", max_age=FRESH)
    assert cloud.inner.calls == 1  # type: ignore[attr-defined]
    mono.advance(2.0)  # a batch 1 s before its slot takes it along ...
    await looks.eip("eip-other", max_age=FRESH)
    assert cloud.inner.calls == 2  # type: ignore[attr-defined]
    mono.advance(1.0)
    cloud.ensure_slot = lambda method: None  # type: ignore[method-assign]
    assert await looks.eip("eip-c", max_age=FRESH) is not None  # ... and serves it: no call
    assert cloud.inner.calls == 2  # type: ignore[attr-defined]
