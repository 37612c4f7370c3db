"""The fault plan of the simulated cloud: what goes wrong, on which call.

Both fronts (in process and HTTP) share the engine and therefore this plan, so a test or the
demo can say "the next two AllocateEipAddress calls fail with InternalError" or "every fifth
call is throttled" or "the next allocation succeeds but its answer is lost" (commit-then-drop)
and get the same behaviour whichever way the SDK or provider reaches the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from podeip.cloud.alibaba.openapi import codes

ANY_ACTION = "*"


@dataclass
class Fault:
    """One rule. ``code=None`` with ``commit=True`` loses the answer of a successful call."""

    action: str = ANY_ACTION
    code: str | None = codes.INTERNAL_ERROR
    #: How many calls the rule hits before it is spent (``-1``: forever).
    times: int = 1
    #: When > 0: hit only every Nth matching call (the Nth, 2Nth, …).
    every: int = 0
    #: Perform the action first, then fail (``code``) or drop the answer (``code=None``).
    commit: bool = False
    #: Extra seconds of latency on the calls the rule hits.
    latency: float = 0.0
    seen: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        # Without a code there is nothing to answer: the call happens and its answer is lost.
        if self.code is None:
            self.commit = True

    def matches(self, action: str) -> bool:
        return self.times != 0 and self.action in {ANY_ACTION, action}

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``ACTION:CODE[:times=N|every=N|commit|latency=S]…``; CODE ``drop`` loses the answer.

        Examples: ``AllocateEipAddress:InternalError:times=2``, ``*:Throttling.User:every=5:times=-1``,
        ``AllocateEipAddress:drop:commit``.
        """
        action, _, rest = text.partition(":")
        code, *options = rest.split(":") if rest else ["drop"]
        fault = cls(action=action or ANY_ACTION, code=None if code in {"", "drop"} else code)
        for option in options:
            name, _, value = option.partition("=")
            if name == "times":
                fault.times = int(value)
            elif name == "every":
                fault.every = int(value)
            elif name == "commit":
                fault.commit = True
            elif name == "latency":
                fault.latency = float(value)
            else:
                raise ValueError(f"unknown fault option {option!r} in {text!r}")
        return replace(fault)


class FaultPlan:
    """The active rules, consulted once per call; thread-safe (the HTTP front has its own thread)."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, action: str) -> Fault | None:
        """The rule that hits this call, if any (its counters move on)."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(action):
                    continue
                rule.seen += 1
                if rule.every and rule.seen % rule.every:
                    continue
                if rule.times > 0:
                    rule.times -= 1
                return rule
        return None

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for rule in self._rules if rule.times != 0)
