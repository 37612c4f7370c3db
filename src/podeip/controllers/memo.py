"""The kopf memo: the running operator's shared parts, handed to every handler.

kopf shallow-copies the memo for each object; ``__copy__`` returns the same instance so that
every handler sees the one work queue and the one set of known PodEIPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podeip.k8s.connection import KubeConnection
from podeip.reconcile.queue import Key, WorkQueue


@dataclass(eq=False)
class Operator:
    connection: KubeConnection
    queue: WorkQueue
    #: (namespace, name) of every PodEIP seen by the watch: their pods' events matter too.
    known: set[Key] = field(default_factory=set)

    def __copy__(self) -> Operator:
        return self
