"""A keyed work queue: level-triggered reconciles, one at a time per key, bounded in total.

Why not kopf's create/update/delete handlers: a pod and its PodEIP share one name, and the
right action always depends on both objects and the cloud, not on which of them changed.
So every watch event only *enqueues* the key ``(namespace, name)``; a worker then reads the
current state and does the next step. This gives the properties the operator needs:

- a key is never reconciled by two workers at once (no double Allocate for one pod);
- events that arrive while a key is being worked on are coalesced into one more pass;
- a pass that must wait asks to run again later, without holding a worker (``Requeue``):
  - ``Hold.NONE`` (a TTL, a slow retry): at the latest then; an earlier request wins;
  - ``Hold.WAIT`` (a backoff after a cloud failure): *not before* then. Events meanwhile
    (mostly echoes of our own writes: the failure condition, Events) coalesce into that one
    due pass and cost nothing, not even a read;
  - ``Hold.IN_FLIGHT`` (a cloud operation in flight: a transition to look at, an unbind to
    confirm, a reserved rate-limit slot): a hold as ``WAIT``, and when due the key is served
    before every other due key that is not in flight, so that new work never starves it;
- ``add(key, urgent=True)`` breaks a hold and is served first: the watch asks it for a pod
  that is deleted (its EIP must be unbound at once: the pod IP may be reused; R-rules in
  docs/reliability.md). Nothing else breaks a hold;
- at most ``concurrency`` keys are worked on at once (AENC's maxConcurrentReconciles);
- with a ``gate``, nothing is worked on while it is clear (another instance leads).

A hold ends when the key is taken for a pass. Errors other than ``Requeue`` are retried with a
per-key exponential backoff (a ``WAIT`` hold) that resets after a successful pass. Time is the
injected monotonic ``clock`` (``Deps.monotonic``; a ``ManualClock`` in tests, which then call
``poke`` after moving it). Nothing here knows about Kubernetes or the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from podeip.cloud.clock import Clock

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class Hold(enum.Enum):
    """How a ``Requeue`` waits (see the module docstring)."""

    NONE = "none"
    WAIT = "wait"
    IN_FLIGHT = "in-flight"


class Requeue(Exception):
    """Run this key again after ``after`` seconds (not an error); ``hold``: how firmly."""

    def __init__(self, after: float, reason: str = "", *, hold: Hold = Hold.NONE) -> None:
        super().__init__(after, reason)
        self.after = after
        self.reason = reason
        self.hold = hold


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
        clock: Clock = time.monotonic,
        gate: asyncio.Event | None = None,
    ) -> None:
        self._worker = worker
        self._concurrency = concurrency
        self._backoff_base, self._backoff_cap = error_backoff
        self._on_error = on_error
        self._clock = clock
        #: When each waiting key is due, and the timers (stale entries skipped on pop).
        self._due: dict[Key, float] = {}
        self._heap: list[tuple[float, Key]] = []
        #: Due keys in the order they became due: in flight first, then the rest.
        self._ready: tuple[deque[Key], deque[Key]] = (deque(), deque())
        self._queued: set[Key] = set()  # keys in ``_ready``
        #: Keys that may not run before the given time unless asked ``urgent``.
        self._holds: dict[Key, float] = {}
        #: Keys whose next pass is served first (in flight, or asked urgent).
        self._first: set[Key] = set()
        self._active: set[Key] = set()
        #: Keys asked for while being worked on: True when the ask was urgent.
        self._dirty: dict[Key, bool] = {}
        self._failures: dict[Key, int] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        #: Workers take keys only while this is set (this instance is the leader).
        self._gate = gate

    # ---- producers -------------------------------------------------------------------------
    def add(self, key: Key, *, after: float = 0.0, urgent: bool = False) -> None:
        """Ask for a pass over ``key`` in ``after`` seconds (an earlier request wins), or at the
        end of its hold; ``urgent``: now, breaking any hold, served first."""
        now = self._clock()
        if urgent:
            self._holds.pop(key, None)
            self._first.add(key)
            after = 0.0
        due = max(now + max(after, 0.0), self._holds.get(key, now))
        if key in self._active and due <= now:
            self._dirty[key] = self._dirty.get(key, False) or urgent
            return
        self._schedule(key, due, replace=False)

    def poke(self) -> None:
        """Look at the clock again (after a manual clock moved)."""
        now = self._clock()
        if any(due <= now for due in self._due.values()):
            self._idle.clear()
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._due) + len(self._queued) + len(self._active)

    def _schedule(self, key: Key, due: float, *, replace: bool) -> None:
        if key in self._queued:
            if not replace:
                if key in self._first and key not in self._ready[0]:  # promoted by urgent
                    self._ready[1].remove(key)
                    self._ready[0].append(key)
                return
            self._queued.discard(key)
            for lane in self._ready:
                with contextlib.suppress(ValueError):
                    lane.remove(key)
        if not replace and key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))
        self._idle.clear()
        self._wakeup.set()

    def _requeue(self, key: Key, requeue: Requeue) -> None:
        """A pass asked to run again: a hold replaces every earlier request."""
        after = max(requeue.after, 0.0)
        if requeue.hold is Hold.NONE:
            self.add(key, after=after)
            return
        due = self._clock() + after
        self._holds[key] = due
        if requeue.hold is Hold.IN_FLIGHT:
            self._first.add(key)
        self._schedule(key, due, replace=True)

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
        wait: float | None = None
        while self._heap:  # every timer that is due moves to its lane
            due, key = self._heap[0]
            if self._due.get(key) != due:  # superseded by another request, or already taken
                heapq.heappop(self._heap)
                continue
            if due > now:
                wait = due - now
                break
            heapq.heappop(self._heap)
            del self._due[key]
            if key in self._active:  # running now: it runs again when it finishes
                self._dirty.setdefault(key, False)
                continue
            self._ready[0 if key in self._first else 1].append(key)
            self._queued.add(key)
        for lane in self._ready:
            if lane:
                key = lane.popleft()
                self._queued.discard(key)
                self._first.discard(key)
                self._holds.pop(key, None)  # a hold ends when its pass begins
                return key, None
        return None, wait

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
            requeue: Requeue | None = None
            try:
                requeue = await self._process(key)
            finally:
                self._active.discard(key)
                if requeue is not None:
                    self._requeue(key, requeue)
                if key in self._dirty:
                    self.add(key, urgent=self._dirty.pop(key))
                self._wakeup.set()

    async def _process(self, key: Key) -> Requeue | None:
        try:
            await self._worker(key)
        except Requeue as requeue:
            self._failures.pop(key, None)
            return requeue
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
            return Requeue(after=delay, reason="error", hold=Hold.WAIT)
        self._failures.pop(key, None)
        return None
