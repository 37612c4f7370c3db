"""We test these aspects of the keyed work queue:

- a key is never worked on by two workers at once, even when enqueued many times;
- events that arrive during a pass cause exactly one more pass;
- a Requeue runs the key again later, and an earlier request for the same key wins;
- errors are retried with backoff and reported, and do not stop other keys;
- concurrency is bounded.
"""

from __future__ import annotations

import asyncio

from podeip.reconcile.queue import Key, Requeue, WorkQueue


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
