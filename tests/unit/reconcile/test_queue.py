"""We test these aspects of the keyed work queue:

- a key is never worked on by two workers at once, even when enqueued many times;
- events that arrive during a pass cause exactly one more pass;
- a Requeue runs the key again later, and an earlier request for the same key wins;
- errors are retried with backoff and reported, and do not stop other keys;
- concurrency is bounded;
- a hold (a backoff, a wait for a cloud operation in flight) keeps events from running the key
  before it ends, and they coalesce into the one due pass; a plain requeue does not hold;
- an urgent request (a deleted pod) breaks a hold and is served first;
- keys in flight are served before new work when both are due.
Holds and priority run on a manual clock (no timing is measured).
"""

from __future__ import annotations

import asyncio

import pytest

from podeip.cloud.clock import ManualClock
from podeip.reconcile.queue import Hold, Key, Requeue, WorkQueue


async def test_a_key_is_never_processed_concurrently_and_events_during_a_pass_coalesce() -> None:
    running: set[Key] = set()
    overlaps = 0
    passes = 0
    release = asyncio.Event()

    async def worker(key: Key) -> None:
        nonlocal overlaps, passes
        if key in running:
            overlaps += 1
        running.add(key)
        passes += 1
        if passes == 1:
            await release.wait()
        running.discard(key)

    queue = WorkQueue(worker, concurrency=4)
    queue.start()
    queue.add(("ns", "a"))
    await asyncio.sleep(0.01)
    for _ in range(10):
        queue.add(("ns", "a"))
    release.set()
    await asyncio.sleep(0.05)
    await queue.wait_idle()
    await queue.stop()
    assert overlaps == 0
    assert passes == 2


async def test_requeue_runs_the_key_again_later_and_an_earlier_request_wins() -> None:
    seen: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def worker(key: Key) -> None:
        seen.append((key[1], loop.time() - start))
        if len([s for s in seen if s[0] == key[1]]) == 1:
            raise Requeue(after=10.0)

    queue = WorkQueue(worker, concurrency=1)
    queue.start()
    queue.add(("ns", "a"))
    await asyncio.sleep(0.05)
    queue.add(("ns", "a"), after=0.05)  # earlier than the requeue in 10 s
    await asyncio.sleep(0.2)
    await queue.stop()
    assert [name for name, _ in seen] == ["a", "a"]
    assert seen[1][1] < 1.0


async def test_errors_are_retried_with_backoff_and_reported_without_blocking_other_keys() -> None:
    calls: dict[str, int] = {"bad": 0, "good": 0}
    errors: list[tuple[Key, str]] = []

    async def worker(key: Key) -> None:
        calls[key[1]] += 1
        if key[1] == "bad" and calls["bad"] < 3:
            raise RuntimeError("boom")

    queue = WorkQueue(
        worker, concurrency=1, error_backoff=(0.01, 0.05), on_error=lambda k, e: errors.append((k, str(e)))
    )
    queue.start()
    queue.add(("ns", "bad"))
    queue.add(("ns", "good"))
    await asyncio.sleep(0.3)
    await queue.stop()
    assert calls == {"bad": 3, "good": 1}
    assert errors == [(("ns", "bad"), "boom"), (("ns", "bad"), "boom")]


async def test_concurrency_is_bounded() -> None:
    active = 0
    peak = 0

    async def worker(key: Key) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1

    queue = WorkQueue(worker, concurrency=3)
    queue.start()
    for i in range(20):
        queue.add(("ns", f"p{i}"))
    await asyncio.sleep(0.01)
    await queue.wait_idle()
    await queue.stop()
    assert peak == 3


# ---- holds, priority and reservations, on a manual clock ---------------------------------------
class Passes:
    """A worker that records (name, time) of every pass and answers from a script per key."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, float]] = []
        self.script: dict[str, list[Requeue | None]] = {}

    async def __call__(self, key: Key) -> None:
        self.seen.append((key[1], self.clock() - START))
        answers = self.script.get(key[1])
        answer = answers.pop(0) if answers else None
        if answer is not None:
            raise answer

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


START = 1_700_000_000.0


async def settle(queue: WorkQueue) -> None:
    queue.poke()
    await asyncio.sleep(0)
    await queue.wait_idle()


async def advance(queue: WorkQueue, clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    await settle(queue)


def bed(concurrency: int = 1) -> tuple[WorkQueue, Passes, ManualClock]:
    clock = ManualClock(START)
    passes = Passes(clock)
    queue = WorkQueue(passes, concurrency=concurrency, clock=clock)
    queue.start()
    return queue, passes, clock


@pytest.mark.parametrize("hold", [Hold.WAIT, Hold.IN_FLIGHT])
async def test_a_hold_keeps_events_from_running_the_key_and_they_coalesce_into_the_due_pass(
    hold: Hold,
) -> None:
    queue, passes, clock = bed()
    passes.script["a"] = [Requeue(10.0, "backoff", hold=hold)]
    queue.add(("ns", "a"))
    await settle(queue)
    for _ in range(5):  # echoes of our own writes
        queue.add(("ns", "a"))
        await advance(queue, clock, 1.0)
    assert passes.seen == [("a", 0.0)]
    await advance(queue, clock, 5.0)  # t = 10: the due pass, once
    await advance(queue, clock, 5.0)
    await queue.stop()
    assert passes.seen == [("a", 0.0), ("a", 10.0)]


async def test_without_a_hold_an_event_runs_the_key_before_its_requeue() -> None:
    queue, passes, clock = bed()
    passes.script["a"] = [Requeue(10.0, "ttl")]
    queue.add(("ns", "a"))
    await settle(queue)
    await advance(queue, clock, 1.0)
    queue.add(("ns", "a"))
    await settle(queue)
    await advance(queue, clock, 20.0)
    await queue.stop()
    assert passes.seen == [("a", 0.0), ("a", 1.0)]  # the event's pass replaced the later one


async def test_an_urgent_request_breaks_a_hold_and_a_hold_ends_with_its_pass() -> None:
    queue, passes, clock = bed()
    passes.script["a"] = [Requeue(60.0, "backoff", hold=Hold.WAIT)]
    queue.add(("ns", "a"))
    await settle(queue)
    await advance(queue, clock, 2.0)
    queue.add(("ns", "a"), urgent=True)  # the pod was deleted
    await settle(queue)
    queue.add(("ns", "a"))  # the hold is gone: an event runs the key at once
    await settle(queue)
    await advance(queue, clock, 60.0)
    await queue.stop()
    assert passes.seen == [("a", 0.0), ("a", 2.0), ("a", 2.0)]


async def test_keys_in_flight_are_served_before_new_work_when_both_are_due() -> None:
    queue, passes, clock = bed()
    passes.script["flying"] = [Requeue(2.0, "associating", hold=Hold.IN_FLIGHT)]
    passes.script["waiting"] = [Requeue(1.0, "backoff", hold=Hold.WAIT)]
    queue.add(("ns", "flying"))
    queue.add(("ns", "waiting"))
    await settle(queue)
    for i in range(5):  # new pods arrive before the poll is due
        queue.add(("ns", f"new-{i}"), after=0.5 + i * 0.1)
    clock.advance(3.0)  # everything is due at once: the poll first, then in due order
    await settle(queue)
    await queue.stop()
    assert passes.names() == [
        "flying",
        "waiting",
        "flying",
        "new-0",
        "new-1",
        "new-2",
        "new-3",
        "new-4",
        "waiting",
    ]


async def test_an_urgent_key_jumps_ahead_of_due_work() -> None:
    queue, passes, clock = bed()
    for i in range(3):
        queue.add(("ns", f"new-{i}"), after=1.0)
    queue.add(("ns", "deleted"), after=5.0)
    clock.advance(2.0)
    queue.add(("ns", "deleted"), urgent=True)
    await settle(queue)
    await queue.stop()
    assert passes.names() == ["deleted", "new-0", "new-1", "new-2"]


async def test_an_event_during_a_pass_that_ends_in_a_hold_waits_for_the_hold() -> None:
    clock = ManualClock(START)
    seen: list[float] = []
    release = asyncio.Event()

    async def worker(key: Key) -> None:
        seen.append(clock() - START)
        if len(seen) == 1:
            await release.wait()
            raise Requeue(5.0, "associating", hold=Hold.IN_FLIGHT)

    queue = WorkQueue(worker, concurrency=1, clock=clock)
    queue.start()
    queue.add(("ns", "a"))
    await asyncio.sleep(0)
    queue.add(("ns", "a"))  # our own write's echo, while the pass runs
    release.set()
    await settle(queue)
    assert seen == [0.0]
    await advance(queue, clock, 5.0)
    await queue.stop()
    assert seen == [0.0, 5.0]
