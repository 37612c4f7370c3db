"""We test these aspects of when the reconciler looks at the cloud:

- a steady observation stands in for a Describe up to its age limit, a busy one never;
- after ``forget`` (a mutation), a listing taken earlier never brings the old state back;
- the first look after a mutation waits for the learnt transition time, as a hold of the key in
  flight (the queue keeps events from running it earlier: test_queue.py); the estimate follows
  how long transitions really take;
- a backoff is a plain hold of its delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from podeip.cloud.models import Eip, EipStatus
from podeip.reconcile.looks import Looks
from podeip.reconcile.queue import Hold


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Cloud:
    """Only what Looks uses: get_eip, counted."""

    def __init__(self, states: Sequence[EipStatus]) -> None:
        self.states = list(states)
        self.calls = 0

    async def get_eip(self, allocation_id: str) -> Eip:
        self.calls += 1
        return Eip(allocation_id=allocation_id, ip_address="203.0.113.9", status=self.states.pop(0))


async def test_a_steady_observation_replaces_a_describe_until_it_is_too_old() -> None:
    clock, cloud = Clock(), Cloud([EipStatus.IN_USE, EipStatus.IN_USE])
    looks = Looks(cloud, clock=clock)  # type: ignore[arg-type]
    await looks.eip("eip-1")
    clock.now += timedelta(seconds=20)
    assert (await looks.eip("eip-1", max_age=30)).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert cloud.calls == 1
    await looks.eip("eip-1", max_age=2)  # a decision to unbind needs a fresh look
    assert cloud.calls == 2


async def test_busy_states_are_always_looked_at_again() -> None:
    clock, cloud = Clock(), Cloud([EipStatus.ASSOCIATING, EipStatus.IN_USE])
    looks = Looks(cloud, clock=clock)  # type: ignore[arg-type]
    await looks.eip("eip-1")
    assert (await looks.eip("eip-1", max_age=30)).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert cloud.calls == 2


async def test_a_listing_older_than_our_last_change_is_ignored() -> None:
    clock, cloud = Clock(), Cloud([EipStatus.IN_USE])
    looks = Looks(cloud, clock=clock)  # type: ignore[arg-type]
    listed_at = clock.now
    clock.now += timedelta(seconds=1)
    looks.forget("eip-1")  # we associated it after the listing started
    stale = Eip(allocation_id="eip-1", ip_address="203.0.113.9", status=EipStatus.AVAILABLE)
    looks.remember_listing([stale], listed_at=listed_at)
    assert (await looks.eip("eip-1", max_age=30)).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert cloud.calls == 1


def test_the_first_look_waits_the_estimate_and_holds_the_key_in_flight() -> None:
    looks = Looks(Cloud([]), clock=Clock())  # type: ignore[arg-type]
    looks.transition_estimate = 2.0
    first = looks.poll(("ns", "p"), "associating")
    assert (first.after, first.hold) == (pytest.approx(2.0), Hold.IN_FLIGHT)
    second = looks.poll(("ns", "p"), "associating")
    assert second.after == pytest.approx(0.5)  # then a quarter of the estimate
    assert looks.poll(("ns", "other"), "x").after == pytest.approx(2.0)  # keys are apart


def test_the_estimate_drops_when_the_first_look_succeeds_and_grows_when_it_does_not() -> None:
    looks = Looks(Cloud([]), clock=Clock())  # type: ignore[arg-type]
    looks.transition_estimate = 2.0
    looks.poll(("ns", "a"), "x")
    looks.settled(("ns", "a"))
    assert looks.transition_estimate == pytest.approx(1.9)
    looks.poll(("ns", "b"), "x")
    second = looks.poll(("ns", "b"), "x")
    assert second.after < 1.9  # later looks come faster than the first
    looks.settled(("ns", "b"))
    assert looks.transition_estimate < 1.9  # settled almost at once (elapsed ≈ 0)


def test_a_backoff_is_a_hold_of_its_delay() -> None:
    looks = Looks(Cloud([]), clock=Clock())  # type: ignore[arg-type]
    requeue = looks.back_off(("ns", "p"), 60.0, "QuotaExceeded")
    assert (requeue.after, requeue.hold, requeue.reason) == (60.0, Hold.WAIT, "QuotaExceeded")
