"""What kopf keeps and computes per object, cut to what event handlers use (issue 13).

The operator registers event handlers only (``handlers.register``: pods, PodEIPs, StatefulSets;
plus a probe and the login): no create/update/delete/resume handler, no daemon or timer, no
index. kopf still does two things for every object of a watched kind, pods that ask for nothing
included:

- *It remembers every object it has seen*, until that object's DELETED event: a
  ``ResourceMemory`` (a copy of the memo, an error throttler, the state of indexes and daemons,
  flags for resume handlers). About 0.9 KB of Python objects each: 21 MB with 22,000 pods,
  kept for the life of the process (BENCHMARKS-scale.md, "Memory"). ``EventMemories`` gives
  each event a memory of its own, not kept (kopf's ``ephemeral``, which its admission webhooks
  use for objects that may never exist). What that changes: the memo is the one ``Operator``
  either way (its ``__copy__`` returns itself); index, daemon and resume state serve kinds of
  handler we do not register; a patch kopf could not apply is not carried to the next event
  (kopf patches nothing for event handlers). One thing is lost: kopf's error throttler, which
  backs off an object whose processing failed (1 s, then longer, up to 10 min). Each event now
  starts at the first delay. It serves only errors outside the handlers (kopf ignores and logs
  an ``on.event`` handler's own) — in the watch's filter (``handlers.concerns_us``, which reads
  the view) or in kopf itself — and one object's events come seconds apart at most, so a
  failing object costs a log line and 1 s of its worker per event, not a busy loop.
- *It builds the "essence" of every object at every event* (a deep copy of the body without
  metadata and status, cleaned by the progress storage in two more deep copies), for the diffs
  of changing handlers. ``NoDiffBase`` answers an empty essence: with no changing handler
  there is nothing to diff. kopf's processing of one listed event of a pod that asks for
  nothing took 240 µs of CPU with both of kopf's own, 90 µs with these (measured in process on
  this project's machine, 5,000 kwok-like pod bodies, 2026-12-01): that processing is what kopf
  spends per pod while it delivers a large cluster at start-up, on the operator's one thread.

Both are sound only while the registry holds nothing else; ``fits`` says whether it does, and
``app.run`` falls back to kopf's own when it does not (a test pins ``handlers.register``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import kopf

# kopf's per-object memory store: given to ``kopf.operator(memories=...)``, not exported at its top.
from kopf._core.reactor.inventory import ResourceMemories, ResourceMemory

__all__ = ["EventMemories", "NoDiffBase", "fits"]


class EventMemories(ResourceMemories):
    """A memory for each event, not kept (see the module docstring)."""

    async def recall(
        self,
        raw_body: Any,
        *,
        memobase: Any = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> ResourceMemory:
        return await super().recall(
            raw_body, memobase=memobase, noticed_by_listing=noticed_by_listing, ephemeral=True
        )


class NoDiffBase(kopf.DiffBaseStorage):
    """An empty essence for every object, stored nowhere (see the module docstring)."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> Any:
        return cast(Any, {})

    def fetch(self, *, body: kopf.Body) -> Any:
        return cast(Any, {})

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


def fits(registry: kopf.OperatorRegistry) -> bool:
    """Whether the registry holds only event handlers (and activities), as both need."""
    # (kopf's registries by kind of handler: attributes of ``OperatorRegistry``, no public view)
    kinds = (registry._changing, registry._spawning, registry._indexing, registry._webhooks)
    return not any(kind.get_all_handlers() for kind in kinds)
