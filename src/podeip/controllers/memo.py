"""The kopf memo: the running operator's shared parts, handed to every handler.

kopf shallow-copies the memo for each object; ``__copy__`` returns the same instance so that
every handler sees the one work queue and the one view of pods and PodEIPs.
"""

from __future__ import annotations

from dataclasses import dataclass

from podeip.k8s.connection import KubeConnection
from podeip.k8s.view import ClusterView
from podeip.reconcile.queue import WorkQueue


@dataclass(eq=False)
class Operator:
    connection: KubeConnection
    queue: WorkQueue
    #: What the watch delivered (and our writes answered); it enqueues the keys that change.
    view: ClusterView

    def __copy__(self) -> Operator:
        return self
