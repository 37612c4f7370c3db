"""Pure measurements of a benchmark run: percentiles, rates, counter sums, first-poll gaps."""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Callable, Iterable, Sequence

from podeip import constants as c
from podeip.simulator.state import CallRecord

#: The call whose first poll the gaps are measured after.
ASSOCIATE = "AssociateEipAddress"


# ---- pure helpers (unit-tested) -------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate_per_minute(stamps: Iterable[float]) -> float:
    """Average rate of events between the first and the last one, per minute (NaN below 2)."""
    ordered = sorted(stamps)
    if len(ordered) < 2 or ordered[-1] <= ordered[0]:
        return math.nan
    return (len(ordered) - 1) / (ordered[-1] - ordered[0]) * 60.0


def metric_sums(text: str, name: str, keep: Callable[[dict[str, str]], bool]) -> dict[str, float]:
    """Sum a Prometheus counter from the text exposition by its ``resource`` label, for kept samples."""
    sums: dict[str, float] = collections.defaultdict(float)
    pattern = re.compile(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if keep(labels):
                sums[labels.get("resource", "")] += float(match.group(2))
    return dict(sums)


def first_poll_gaps(calls: Sequence[CallRecord]) -> list[float]:
    """Seconds from each OK Associate's answer to the next Describe of the same EIP (the first poll)."""
    gaps = []
    for i, call in enumerate(calls):
        if call.action == ASSOCIATE and call.ok:
            after = (
                x for x in calls[i + 1 :] if x.action == "DescribeEipAddresses" and x.started >= call.ended
            )
            poll = next((x for x in after if x.params.get("AllocationId") == call.allocation_id), None)
            if poll is not None:
                gaps.append(poll.started - call.ended)
    return gaps


def fmt(value: float, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}{unit}"


def _podeip_gets(labels: dict[str, str]) -> bool:
    return labels.get("verb") == "get" and labels.get("resource") == c.PLURAL


def statistics_median(values: list[float]) -> float:
    return percentile(values, 50)
