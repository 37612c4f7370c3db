"""A keyed work queue: level-triggered reconciles, one at a time per key, bounded in total.

Why not kopf's create/update/delete handlers: a pod and its PodEIP share one name, and the
right action always depends on both objects and the cloud, not on which of them changed.
So every watch event only *enqueues* the key ``(namespace, name)``; a worker then reads the
current state and does the next step. This gives four properties the operator needs:

- a key is never reconciled by two workers at once (no double Allocate for one pod);
- events that arrive while a key is being worked on are coalesced into one more pass;
- a pass that must wait (an async cloud state, a TTL, a backoff) asks to run again later,
  without holding a worker (``Requeue``); an earlier request for the same key wins;
- at most ``concurrency`` keys are worked on at once (AENC's maxConcurrentReconciles);
- with a ``gate``, nothing is worked on while it is clear (another instance leads).

Errors other than ``Requeue`` are retried with a per-key exponential backoff that resets after
a successful pass. Nothing here knows about Kubernetes or the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class Requeue(Exception):
    """Run this key again after ``after`` seconds (not an error)."""

    def __init__(self, after: float, reason: str = "") -> None:
        super().__init__(after, reason)
        self.after = after
        self.reason = reason


Worker = Callable[[Key], Awaitable[None]]
ErrorHook = Callable[[Key, BaseException], None]


class WorkQueue:
    def __init__(
        self,
        worker: Worker,
        *,
        concurrency: int,
        error_backoff: tuple[float, float] = (1.0, 300.0),
        on_error: ErrorHook | None = None,
        clock: Callable[[], float] | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self._worker = worker
        self._concurrency = concurrency
        self._backoff_base, self._backoff_cap = error_backoff
        self._on_error = on_error
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._due: dict[Key, float] = {}
        self._heap: list[tuple[float, Key]] = []
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        #: Workers take keys only while this is set (this instance is the leader).
        self._gate = gate

    # ---- producers -------------------------------------------------------------------------
    def add(self, key: Key, *, after: float = 0.0) -> None:
        """Ask for a pass over ``key`` in ``after`` seconds (an earlier request wins)."""
        if key in self._active and after <= 0:
            self._dirty.add(key)
            return
        due = self._clock() + max(after, 0.0)
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))
        self._idle.clear()
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._due) + len(self._active)

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"podeip-worker-{i}") for i in range(self._concurrency)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def wait_idle(self) -> None:
        """Wait until nothing is due now or being worked on (tests and the benchmark)."""
        await self._idle.wait()

    # ---- consumers -------------------------------------------------------------------------
    def _next_ready(self) -> tuple[Key | None, float | None]:
        now = self._clock()
        while self._heap:
            due, key = self._heap[0]
            if self._due.get(key) != due:  # superseded by an earlier request, or already taken
                heapq.heappop(self._heap)
                continue
            if key in self._active:  # running now: it runs again when it finishes
                heapq.heappop(self._heap)
                del self._due[key]
                self._dirty.add(key)
                continue
            if due > now:
                return None, due - now
            heapq.heappop(self._heap)
            del self._due[key]
            return key, None
        return None, None

    async def _run(self) -> None:
        while True:
            if self._gate is not None and not self._gate.is_set():
                await self._gate.wait()
            key, wait = self._next_ready()
            if key is None:
                if not self._active and not any(d <= self._clock() for d in self._due.values()):
                    self._idle.set()
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
                continue
            self._active.add(key)
            try:
                await self._process(key)
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
                self._wakeup.set()

    async def _process(self, key: Key) -> None:
        try:
            await self._worker(key)
        except Requeue as requeue:
            self._failures.pop(key, None)
            self.add(key, after=requeue.after)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(self._backoff_cap, self._backoff_base * 2 ** (failures - 1))
            delay *= random.uniform(0.8, 1.2)
            logger.exception(
                "reconcile of %s/%s failed (attempt %d); retrying in %.1fs",
                *key,
                failures,
                delay,
                extra={"namespace": key[0], "pod": key[1]},
            )
            if self._on_error is not None:
                self._on_error(key, error)
            self.add(key, after=delay)
        else:
            self._failures.pop(key, None)
