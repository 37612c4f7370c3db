"""The run's numbers (``Results``, saved as results.json) and BENCHMARKS.md written from them.

Every section is written only from what the run measured; a scenario left out (``--only``) shows
as "not measured in this run". The "before" columns come from ``hack/bench/before.json``: the
same scenarios run on an earlier commit (written with ``--save-before``), with that commit named."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import EIP_CIDR, OPERATOR_ENV, POD_NETWORK, REPO, VPC_CIDR
from bench.measure import ASSOCIATE, by_resource, fmt, queued_floor, reads_writes
from podeip import constants as c
from podeip.settings import default_rate_limits
from podeip.simulator.engine import PUBLISHED_LIMITS, EngineConfig
from testbed.cluster import versions

BEFORE = Path(__file__).with_name("before.json")
#: DescribeEipAddresses' largest page (alibaba-openapi.md: PageSize ≤ 100): the GC listing's page.
PAGE_SIZE = 100
#: The operator's Kubernetes client budget (``PODEIP_KUBE_CLIENT_QPS``, default).
KUBE_QPS = 20.0
NOT_MEASURED = "not measured in this run"
#: What a scale-only report says of the rows and sections that ``make bench`` measures.
ELSEWHERE = "measured by `make bench` (BENCHMARKS.md)"
#: And what ``make bench`` says of the rows only ``make bench-scale`` measures.
ELSEWHERE_SCALE = "measured by `make bench-scale` (BENCHMARKS-scale.md)"
SCALE_ROWS = ("peak RSS", "restart after")


def _git_commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=REPO, capture_output=True, text=True)
    return head.stdout.strip() + (", src/ modified" if dirty.stdout.strip() else "")


COMMIT = _git_commit()


# ---- the benchmark ---------------------------------------------------------------------------
@dataclass
class Results:
    bursts: dict[int, dict[str, Any]] = field(default_factory=dict)
    singles: dict[str, float] = field(default_factory=dict)
    lifecycles: dict[str, dict[str, Any]] = field(default_factory=dict)
    at_rest: dict[int, dict[str, Any]] = field(default_factory=dict)
    restarts: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    #: The restart after pods were deleted and created while the operator was down (bench-scale).
    churn: dict[str, Any] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    #: The scenarios selected (``--only``).
    only: list[str] = field(default_factory=list)
    gc_period_minutes: float = 1.0
    #: The commit measured, taken when the run starts (others may commit meanwhile).
    commit: str = field(default_factory=lambda: COMMIT)
    #: The operator's client limits (calls per minute, burst) in force when the run started.
    client_limits: dict[str, float] = field(
        default_factory=lambda: {api: limit.per_minute for api, limit in default_rate_limits().items()}
    )
    client_bursts: dict[str, int] = field(
        default_factory=lambda: {api: limit.burst for api, limit in default_rate_limits().items()}
    )
    #: Anything about this run a reader must know (added by hand to results.json before re-rendering).
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Results:
        """From results.json (JSON object keys are strings; pod counts are ints again)."""
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        for name in ("bursts", "at_rest"):
            data[name] = {int(k): v for k, v in data.get(name, {}).items()}
        return cls(**data)


def before_of(path: Path = BEFORE) -> Results | None:
    return Results.load(json.loads(path.read_text())) if path.exists() else None


def save_before(r: Results, path: Path = BEFORE) -> None:
    """The figures that the "before" columns show, with the commit they were measured on."""
    keep = ("bursts", "singles", "lifecycles", "at_rest", "restarts", "commit", "gc_period_minutes")
    data = {k: v for k, v in dataclasses.asdict(r).items() if k in keep}
    data["measured"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# ---- the targets of issue 13 (pure, unit-tested) ---------------------------------------------
@dataclass(frozen=True)
class Target:
    measure: str
    limit: str
    goal: str
    measured: str = NOT_MEASURED
    ratio: float = math.nan
    met: bool | None = None

    def row(self) -> str:
        verdict = "—" if self.met is None else ("**met**" if self.met else "**missed**")
        ratio = "—" if math.isnan(self.ratio) else f"{self.ratio:.2f}×"
        return f"| {self.measure} | {self.measured} | {self.limit} | {ratio} | {self.goal} | {verdict} |"


def rates(r: Results) -> tuple[float, int, float, int]:
    """(configured Associate limit per minute, its burst, Alibaba's published one, its burst):
    the simulator's server bucket holds a tenth of the minute's rate at once."""
    published = float(PUBLISHED_LIMITS[ASSOCIATE])
    return r.client_limits[ASSOCIATE], int(r.client_bursts[ASSOCIATE]), published, int(published // 10)


def bound_per_min(count: int, b: dict[str, Any]) -> float:
    """Pods bound per minute over the whole burst: N over the time from the first POST until the
    last gate was seen True (first-to-last gate times would flatter an operator whose gates all
    turn True at the end; a perfect one reaches about R)."""
    return count / b["wall"] * 60 if b.get("wall") else math.nan


def burst_floors(r: Results, count: int) -> dict[str, float]:
    """All-ready and p50 floors of a burst at the configured limit and at Alibaba's 120/min."""
    b = r.bursts[count]
    ours, our_burst, published, pub_burst = rates(r)
    l1 = b["l1"]
    half = math.ceil(count / 2)
    return {
        "all": queued_floor(count, burst=our_burst, per_minute=ours, l1=l1),
        "all_published": queued_floor(count, burst=pub_burst, per_minute=published, l1=l1),
        "p50": queued_floor(half, burst=our_burst, per_minute=ours, l1=l1),
        "p50_published": queued_floor(half, burst=pub_burst, per_minute=published, l1=l1),
    }


def _ratio_target(
    measure: str, limit: str, goal: str, value: float, floor: float, most: float, unit: str = " s"
) -> Target:
    if math.isnan(value) or math.isnan(floor) or floor <= 0:
        return Target(measure, limit, goal)
    ratio = value / floor
    return Target(measure, limit, goal, fmt(value, unit, 1), ratio, ratio <= most)


def _at_most(
    measure: str, limit: str, goal: str, value: float, reference: float, most: float, unit: str = ""
) -> Target:
    if math.isnan(value):
        return Target(measure, limit, goal)
    ratio = value / reference if reference else math.nan
    return Target(measure, limit, goal, fmt(value, unit, 1), ratio, value <= most)


def targets(r: Results) -> list[Target]:
    """Issue 13's Targets table, one row each, from this run's figures (the largest burst and the
    largest at-rest population measured, named in the row)."""
    ours, _, published, _ = rates(r)
    rows: list[Target] = []
    large = max(r.bursts, default=0)
    if large >= 100 and "l1" in r.bursts[large]:
        b, floors = r.bursts[large], burst_floors(r, large)
        rows.append(
            _ratio_target(
                f"{large}-pod burst, all ready",
                f"(N − burst)/R + L₁ = {floors['all']:.0f} s at R = {ours:.0f}/min "
                f"({floors['all_published']:.0f} s at {published:.0f}/min: ratio "
                f"{b['wall'] / floors['all_published']:.2f}×)",
                "≤ 1.15 × limit",
                b["wall"],
                floors["all"],
                1.15,
            )
        )
        rows.append(
            _ratio_target(
                f"{large}-pod burst, p50 time to EIP",
                f"(⌈N/2⌉ − burst)/R + L₁ = {floors['p50']:.0f} s ({floors['p50_published']:.0f} s at "
                f"{published:.0f}/min: ratio {b['p50'] / floors['p50_published']:.2f}×)",
                "≤ 1.2 × floor",
                b["p50"],
                floors["p50"],
                1.2,
            )
        )
        bound = bound_per_min(large, b)
        rows.append(
            Target(
                f"pods bound per minute in the {large}-pod burst (from the watch)",
                f"R = {ours:.0f}/min ({published:.0f}/min: {bound / published * 100:.0f} %)",
                "≥ 95 % of R",
                fmt(bound, "/min", 1),
                bound / ours,
                bound >= 0.95 * ours,
            )
        )
    else:
        rows += [
            Target("500-pod burst, all ready", "(N − burst)/R + L₁", "≤ 1.15 × limit"),
            Target("500-pod burst, p50 time to EIP", "rate-limited floor", "≤ 1.2 × floor"),
            Target("pods bound per minute in the burst", "R", "≥ 95 % of R"),
        ]
    burst_life = _burst_lifecycle(r)
    if burst_life is not None:
        label, life = burst_life
        bind = sum(life["kube_bind"].values())
        rows.append(_at_most(f"Kubernetes requests per pod until bound ({label})", "~5", "≤ 8", bind, 5, 8))
        rows.append(
            _at_most(
                f"cloud calls per Auto/Follow lifecycle, {label}, batched calls shared",
                "4",
                "≤ 5.0",
                life["total"],
                4,
                5.0,
            )
        )
    else:
        rows.append(Target("Kubernetes requests per pod until bound (burst)", "~5", "≤ 8"))
        rows.append(
            Target("cloud calls per Auto/Follow lifecycle, 100-pod burst, batched calls shared", "4", "≤ 5.0")
        )
    single = r.lifecycles.get(SINGLE)
    if single is not None:
        rows.append(_at_most("cloud calls per lifecycle, one pod alone", "7–8", "≤ 8", single["total"], 8, 8))
    else:
        rows.append(Target("cloud calls per lifecycle, one pod alone", "7–8", "≤ 8"))
    if r.at_rest:
        for n, rest in sorted(r.at_rest.items()):
            per_min = sum(rest["kube_per_min"].values())
            rows.append(
                _at_most(
                    f"Kubernetes requests/min at rest, {n} PodEIPs (Lease aside)",
                    "0",
                    "≤ 2",
                    per_min,
                    math.nan,
                    2,
                )
            )
        for n, rest in sorted(r.at_rest.items()):
            rows.append(gc_target(n, rest))
    else:
        rows.append(
            Target("Kubernetes requests/min at rest, 500 and 5,000 PodEIPs (Lease aside)", "0", "≤ 2")
        )
        rows.append(Target("cloud calls per GC period at rest", "⌈N/page size⌉", "≤ N / page size + 1"))
    big = max((n for n, rest in r.at_rest.items() if not math.isnan(rest.get("l1", math.nan))), default=0)
    if big:
        rest = r.at_rest[big]
        l1 = rest["l1"]
        if math.isnan(rest["new_pod"]):
            rows.append(
                Target(
                    f"one new pod's time to EIP with {big:,} PodEIPs at rest",
                    f"L₁ = {l1:.1f} s",
                    "≤ 1.3 × L₁",
                    f"not bound within {rest['new_pod_limit']:.0f} s",
                    met=False,
                )
            )
        else:
            rows.append(
                _ratio_target(
                    f"one new pod's time to EIP with {big:,} PodEIPs at rest",
                    f"L₁ = {l1:.1f} s",
                    "≤ 1.3 × L₁",
                    rest["new_pod"],
                    l1,
                    1.3,
                )
            )
    else:
        rows.append(
            Target("one new pod's time to EIP with 5,000 PodEIPs at rest", "L₁ ≈ 2.3 s", "≤ 1.3 × L₁")
        )
    if r.restarts:
        label, rec = max(r.restarts.items(), key=lambda item: item[1]["pods"])
        seconds = rec["seconds"]
        measured = (
            f"not within {rec['cap']:.0f} s"
            if math.isnan(seconds)
            else f"{seconds:.1f} s, {rec['cloud_calls']} cloud calls, {rec['kube_requests']:.0f} requests"
        )
        met = not math.isnan(seconds) and seconds <= 30 and rec["cloud_calls"] <= 60
        rows.append(
            Target(
                f"restart, {label}, until every PodEIP was checked",
                "~15 s (5,000)",
                "≤ 30 s and ≤ 60 cloud calls",
                measured,
                seconds / 15 if not math.isnan(seconds) else math.nan,
                met,
            )
        )
    else:
        rows.append(
            Target(
                "restart, 5,000 PodEIPs, until every PodEIP was checked",
                "~15 s",
                "≤ 30 s and ≤ 60 cloud calls",
            )
        )
    rows.append(churn_target(r))
    if r.scale.get("first_hwm"):
        peak = max(r.scale["first_hwm"], r.scale.get("restart_hwm", 0.0))
        rows.append(
            _at_most(
                f"peak RSS, {r.scale['plain']:,.0f} plain + {r.scale['eip']:,.0f} EIP pods, first "
                "process and after restart",
                "~80 MiB",
                "≤ 150 MiB",
                peak,
                80,
                150,
                " MiB",
            )
        )
    else:
        rows.append(
            Target(
                "peak RSS, 20,000 plain + 2,000 EIP pods, first process and after restart",
                "~80 MiB",
                "≤ 150 MiB",
            )
        )
    if r.singles:
        s = r.singles
        rows.append(
            Target(
                f"one pod's time to EIP (median of {s['runs']:.0f} single pods)",
                f"L₁ = {s['l1']:.2f} s",
                "≤ 1.3 × L₁",
                fmt(s["p50"], " s"),
                s["ratio"],
                s["ratio"] <= 1.3,
            )
        )
    throttled = (
        sum(b.get("throttled", 0) for b in r.bursts.values())
        + sum(rest.get("throttled", 0) for rest in r.at_rest.values())
        + r.churn.get("throttled", 0)
    )
    if r.bursts or r.at_rest or r.churn:
        rows.append(
            Target(
                "throttling errors from the simulator (bursts, at rest, churn restart)",
                "0",
                "0",
                str(throttled),
                met=throttled == 0,
            )
        )
    return rows


def short_of(n: int, rest: dict[str, Any]) -> str:
    """Why a population is short of the ``n`` it was meant to be ("": it is not, or not counted):
    the seeded and bound counts the figures were measured at."""
    counted = {k: rest[k] for k in ("podeips", "bound", "eips", "gates") if k in rest}
    short = [f"{v:,.0f} {k}" for k, v in counted.items() if v < n]
    return f"short seeding: {', '.join(short)} of {n:,}" if short else ""


def gc_target(n: int, rest: dict[str, Any]) -> Target:
    """Cloud calls per GC period at rest: per whole cycle of the GC (one pass and the period it
    sleeps after it) where the run counted them, else per nominal period (older runs); the
    limit from the EIPs the listing had to page through; a short seeding is never met."""
    eips = int(rest.get("eips", n))
    pages = math.ceil(eips / PAGE_SIZE)
    per_pass = "calls_per_pass" in rest and rest.get("gc_cycles", 0) > 0
    value = sum(rest["calls_per_pass" if per_pass else "calls_per_period"].values())
    measure = f"cloud calls per GC period at rest, {n} PodEIPs"
    goal = f"≤ {pages + 1}"
    limit = f"⌈N/{PAGE_SIZE}⌉ = {pages}" + (f" ({eips:,} EIPs listed)" if "eips" in rest else "")
    if "calls_per_pass" in rest and not per_pass:
        return Target(measure, limit, goal, "no whole GC cycle in the window", met=False)
    row = _at_most(measure, limit, goal, value, pages, pages + 1)
    short = short_of(n, rest)
    if "podeips" in rest:
        counts = f"{rest['podeips']:,.0f} PodEIPs, {rest['bound']:,.0f} bound"
        detail = f" per pass ({counts}{'; ' + short if short else ''})" if per_pass else f" ({counts})"
        row = dataclasses.replace(row, measured=row.measured + detail, met=row.met and not short)
    return row


CHURN = "restart after {churn} pods deleted and {churn} created while down, {pods:,} PodEIPs"


def churn_floor(r: Results, ch: dict[str, Any]) -> dict[str, float]:
    """The churn restart's physical limit: the new pods' Allocates and Associates and the deleted
    pods' Unassociates each wait for their own bucket (separate per API, at the operator's limits
    and at Alibaba's), so the later of the two chains: (churn − burst)/R + one pod's latency
    (L₁ to bind; Unassociate + Unassociating + Release to unbind)."""
    ours, our_burst, published, pub_burst = rates(r)
    un = "UnassociateEipAddress"
    un_rate, un_burst = r.client_limits.get(un, ours), int(r.client_bursts.get(un, our_burst))
    un_pub = float(PUBLISHED_LIMITS.get(un, published))
    n, l1, u1 = int(ch["churn"]), ch["l1"], ch["u1"]
    reused, a1 = int(ch.get("reused", 0)), ch.get("a1", math.nan)
    bind = queued_floor(n, burst=our_burst, per_minute=ours, l1=l1)
    unbind = queued_floor(n, burst=un_burst, per_minute=un_rate, l1=u1) if not math.isnan(u1) else 0.0
    bind_pub = queued_floor(n, burst=pub_burst, per_minute=published, l1=l1)
    unbind_pub = (
        queued_floor(n, burst=int(un_pub // 10), per_minute=un_pub, l1=u1) if not math.isnan(u1) else 0.0
    )
    # A new pod on a deleted pod's IP binds after that IP's unbind: the last such IP is free
    # after the reused-th Unassociate slot, then its Associate and Associating follow.
    after = after_pub = 0.0
    if reused and not math.isnan(a1):
        after = queued_floor(reused, burst=un_burst, per_minute=un_rate, l1=a1)
        after_pub = queued_floor(reused, burst=int(un_pub // 10), per_minute=un_pub, l1=a1)
    return {
        "bind": bind,
        "unbind": unbind,
        "after": after,
        "floor": max(bind, unbind, after),
        "published": max(bind_pub, unbind_pub, after_pub),
    }


#: Not in issue 13's table: ours, stated in the report. 1.2× the floor, as the p50 of a burst.
CHURN_GOAL = 1.2


def churn_target(r: Results) -> Target:
    goal = f"≤ {CHURN_GOAL:g} × limit (ours: the issue gives none)"
    ch = r.churn
    if not ch:
        return Target(CHURN.format(churn=100, pods=5000), "(churn − burst)/R + L₁", goal)
    ours, _, published, _ = rates(r)
    measure = CHURN.format(churn=ch["churn"], pods=ch["pods"])
    f = churn_floor(r, ch)
    limit = (
        f"{f['floor']:.0f} s at R = {ours:.0f}/min (bind {f['bind']:.0f} s, unbind {f['unbind']:.0f} s, "
        f"bind after unbind {f['after']:.0f} s; "
        f"{f['published']:.0f} s at {published:.0f}/min)"
    )
    leaked = sum(len(v) for v in ch["leaks"].values())
    if math.isnan(ch["seconds"]):
        return Target(measure, limit, goal, f"not handled within {ch['cap']:.0f} s", met=False)
    row = _ratio_target(measure, limit, goal, ch["seconds"], f["floor"], CHURN_GOAL)
    measured = (
        f"{row.measured}, {ch['cloud_calls']} cloud calls, {ch['kube_requests']:.0f} requests, "
        f"{leaked} leaked"
    )
    return dataclasses.replace(row, measured=measured, met=bool(row.met) and leaked == 0)


SINGLE = "Auto, Follow, one pod alone"


def _burst_lifecycle(r: Results) -> tuple[str, dict[str, Any]] | None:
    found = [(k, v) for k, v in r.lifecycles.items() if k.startswith("Auto, Follow,") and "burst" in k]
    return max(found, key=lambda kv: kv[1]["count"]) if found else None


# ---- BENCHMARKS.md ---------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M)
    return {
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": model.group(1).strip() if model else platform.processor() or "unknown",
        "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown",
        "kernel": platform.release(),
    }


def software(commit: str) -> dict[str, str]:
    pins = versions()
    packages = (
        "kopf",
        "aiohttp",
        "alibabacloud-tea-openapi",
        "alibabacloud-vpc20160428",
        "alibabacloud-ecs20140526",
    )
    found = {name: importlib.metadata.version(name) for name in packages}
    return {
        "Python": platform.python_version(),
        "podeip-operator": f"{importlib.metadata.version('podeip-operator')} (commit {commit})",
        "Kubernetes (apiserver, kcm, scheduler)": pins["KUBERNETES_VERSION"],
        "etcd / kwok": f"{pins['ETCD_VERSION']} / {pins['KWOK_VERSION']}",
        **{f"`{name}`": version for name, version in found.items()},
    }


def _n(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def kube_table(
    title: str, now: dict[str, float] | None, before: dict[str, float] | None, unit: str
) -> list[str]:
    """Requests by verb and resource, before and now, with reads, writes and the total."""
    keys = sorted(set(now or {}) | set(before or {}), key=lambda k: (k.split(" ", 1)[-1], k))
    out = [f"| {title} | before | this run |", "|---|---|---|"]
    for key in keys:
        b = (before or {}).get(key, 0.0) if before is not None else None
        out.append(
            f"| {key} | {_n(b)} | {_n((now or {}).get(key, 0.0)) if now is not None else NOT_MEASURED} |"
        )
    for name, index in (("reads (get, list, watch)", 0), ("writes", 1)):
        b = reads_writes(before)[index] if before is not None else None
        n = reads_writes(now)[index] if now is not None else None
        out.append(f"| {name} | {_n(b)} | {_n(n) if n is not None else NOT_MEASURED} |")
    b_total = sum(before.values()) if before is not None else None
    n_total = sum(now.values()) if now is not None else None
    out.append(
        f"| **total {unit}** | **{_n(b_total)}** | "
        f"**{_n(n_total) if n_total is not None else NOT_MEASURED}** |"
    )
    return out


def report(
    args: argparse.Namespace, r: Results, cfg: EngineConfig, nodes: int, before: Results | None = None
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    minutes = r.durations.get("total", sum(r.durations.values())) / 60
    ours, our_burst, published, pub_burst = rates(r)
    command = (
        "python -m bench"
        + (" --quick" if args.quick else "")
        + (f" --only {','.join(r.only)}" if r.only and set(r.only) != set(DEFAULT_ONLY) else "")
    )
    scale_only = set(r.only) == {"scale"}
    rows = targets(r)
    if scale_only:
        rows = [dataclasses.replace(t, measured=ELSEWHERE) if t.measured == NOT_MEASURED else t for t in rows]
    elif "scale" not in r.only:
        rows = [
            dataclasses.replace(t, measured=ELSEWHERE_SCALE)
            if t.measured == NOT_MEASURED and t.measure.startswith(SCALE_ROWS)
            else t
            for t in rows
        ]
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`{command}`) on {now} at commit {r.commit}; the run took "
        f"{minutes:.1f} min. "
        "One run; medians and ratios from that run. Nothing here is a test: the numbers move with the "
        "machine and the simulated latency. Scenarios in this run: "
        + ", ".join(r.only)
        + "."
        + (
            f" **Before** columns: the same scenarios at commit {before.commit} (`hack/bench/before.json`)."
            if before
            else ""
        ),
    ]
    if args.quick:
        out += [
            "",
            "> **Quick run** (`--quick`): smaller counts than the default run; not the reference figures.",
        ]
    out += [
        "",
        "## Targets (issue 13)",
        "",
        "R is the Associate rate: the operator's configured client limit "
        f"({ours:.0f}/min after a burst of {our_burst}) for the verdicts, Alibaba's published "
        f"{published:.0f}/min (the simulator's server bucket, burst {pub_burst}) beside it. L₁ = "
        "max(Allocate, DescribeNetworkInterfaces) + Associate + the Associating → InUse delay, per pod from "
        "the call log (median): the two first calls are independent once the pod has its IP.",
        "",
        "| measure | measured | physical limit | ratio | target | |",
        "|---|---|---|---|---|---|",
        *[t.row() for t in rows],
        "",
    ]
    if scale_only:  # the other scenarios are `make bench`'s: point there, no empty tables
        out += at_rest_section(r, None)
        out += [
            "## Lifecycles, bursts and time to EIP",
            "",
            f"{ELSEWHERE[0].upper()}{ELSEWHERE[1:]}.",
            "",
        ]
    else:
        out += at_rest_section(r, before)
        out += lifecycle_section(r, before)
        out += bursts_section(r, before, cfg)
    out += restart_section(r, None if scale_only else before)
    out += churn_section(r)
    out += memory_section(r)
    start_memory = Path(__file__).with_name("start-memory.md")
    if start_memory.exists():  # measured apart (``--start-memory``), kept here verbatim
        out += [start_memory.read_text().rstrip(), ""]
    out += ["## Where a target is missed: the run's own figures", "", *why(r), ""]
    out += [
        *(["## Notes on this run", "", *[f"- {note}" for note in r.notes], ""] if r.notes else []),
        "## Setup",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine().items()],
        "",
        "| software | version |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in software(r.commit).items()],
        "",
        "| setting | value | why |",
        "|---|---|---|",
        "| cloud | simulated Alibaba OpenAPI over HTTP on 127.0.0.1, official SDK | the operator's "
        "real code path |",
        f"| latency per call | {cfg.latency[0] * 1000:.0f}–{cfg.latency[1] * 1000:.0f} ms, uniform "
        "| a region endpoint seen from a cluster in the region |",
        f"| Associating / Unassociating / Releasing | {cfg.transition_delay:g} s | EIP binding is "
        "asynchronous |",
        "| server-side limits | "
        + ", ".join(f"{a.removesuffix('EipAddress')} {n}/min" for a, n in PUBLISHED_LIMITS.items())
        + " (burst a tenth) | Alibaba's published per-API limits; above them the simulator answers "
        "`Throttling.User` |",
        "| operator client limits | "
        + ", ".join(
            f"{a.removesuffix('EipAddress')} {v:.0f}/min"
            for a, v in r.client_limits.items()
            if a.endswith("EipAddress")
        )
        + " (defaults) | below the published limits, headroom for other tools in the account |",
        *[f"| `{k}` | {v} | " + OPERATOR_WHY.get(k, "") + " |" for k, v in OPERATOR_ENV.items()],
        f"| `PODEIP_GC__PERIOD_MINUTES` | {r.gc_period_minutes:g} | `--gc-period`; AENC's default is 1 "
        "minute; at rest is measured over three periods |",
        f"| `PODEIP_KUBE_CLIENT_QPS` / `_BURST` | {KUBE_QPS:.0f} / 30 (defaults) | client-go's usual "
        "controller budget |",
        "| leader election | on (`PODEIP_LEADER__IDENTITY` fixed, as the chart's pod name and UID: a "
        "restart takes the Lease back at once) | the Lease renewals are shown apart |",
        "| seeding (`--only` without the burst, and `bench-scale`) | operator QPS 200 and 50 workers, "
        "cloud client and server limits 1200/min and more, cloud latency 5–20 ms and 0.2 s transitions; "
        "then a restart with all defaults | a large population in little time; the restart is measured |",
        f"| cluster | {nodes} kwok nodes, from {POD_NETWORK}; VPC {VPC_CIDR}; EIPs from {EIP_CIDR} "
        "| RFC 2544 benchmarking ranges, never contacted |",
        "",
        "Phase durations: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in r.durations.items() if k != "total")
        + ".",
        "",
    ]
    return "\n".join(out)


DEFAULT_ONLY = ("lifecycle", "at-rest", "burst", "memory")

OPERATOR_WHY = {
    "PODEIP_MAX_CONCURRENT_RECONCILES": "AENC's ACS example uses 10",
    "PODEIP_LOG_LEVEL": "the default",
    "PODEIP_LEADER__IDENTITY": "a restarted process takes the Lease back at once",
}


def _counts(counts: dict[str, float], digits: int = 0) -> str:
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return ", ".join(f"{a.removesuffix('EipAddress')} {n:.{digits}f}" for a, n in ordered) or "none"


def _pair(title: str, then: Any, now: Any, cell: Any) -> str:
    """A row of a before/this run table: ``cell`` of each side, or a dash / "not measured"."""
    return f"| {title} | {cell(then) if then else '—'} | {cell(now) if now else NOT_MEASURED} |"


def _probe(x: dict[str, Any]) -> str:
    if math.isnan(x["new_pod"]):
        return f"not bound within {x['new_pod_limit']:.0f} s"
    return fmt(x["new_pod"], " s")


def at_rest_section(r: Results, before: Results | None) -> list[str]:
    out = [
        "## At rest (issue 12)",
        "",
        "N PodEIPs bound (Auto, Follow) and nothing changing. The GC period is set to "
        f"{r.gc_period_minutes:g} min "
        "(`PODEIP_GC__PERIOD_MINUTES`); after one period to settle, the operator's "
        f"`{c.METRIC_KUBE_REQUESTS}` (its own client: kopf's watch streams are not in it) and the "
        "simulator's call log are read over three more periods (longer, up to six, until the window "
        "holds two whole GC cycles). The leader Lease's renewals are shown apart. "
        "Limits: 0 Kubernetes requests per minute (Lease aside); ⌈N/100⌉ cloud calls per GC period "
        "(one paged listing of our EIPs at the largest page). Then one new EIP pod is created beside "
        "them: its time to EIP. The operator sleeps the period after each pass, so one GC period runs "
        "from a pass's start to the next one's (the pass plus the period): the calls per GC period "
        "are counted over the whole such cycles in the window (from the first page 1 of the listing to "
        "the last), beside the figure per nominal period (which a long pass dilutes). Each population is "
        "counted when the window opens (PodEIPs, those bound, our EIPs, gates True): a short seeding "
        "shows and misses the row.",
        "",
    ]
    sizes = sorted(set(r.at_rest) | set(before.at_rest if before else {}))
    if not sizes:
        return [*out, NOT_MEASURED + ".", ""]
    for n in sizes:
        now = r.at_rest.get(n)
        then = before.at_rest.get(n) if before else None
        out.append(f"### {n} PodEIPs at rest")
        out.append("")
        out += kube_table(
            "Kubernetes requests per minute (verb resource)",
            now["kube_per_min"] if now else None,
            then["kube_per_min"] if then else None,
            "per minute (limit 0)",
        )
        out.append(_pair("leader Lease (apart)", then, now, lambda x: _n(sum(x["lease_per_min"].values()))))
        out += [
            "",
            f"| cloud calls per GC period (limit ⌈{n}/{PAGE_SIZE}⌉ = {math.ceil(n / PAGE_SIZE)}) | "
            "before | this run |",
            "|---|---|---|",
        ]
        actions = sorted(
            set(now["calls_per_period"] if now else {}) | set(then["calls_per_period"] if then else {})
        )
        for action in actions:
            out.append(_pair(action, then, now, lambda x, a=action: _n(x["calls_per_period"].get(a, 0.0))))
        out.append(
            _pair(
                "of them, listings by tag (the GC's pages)", then, now, lambda x: _n(x["listing_per_period"])
            )
        )
        out.append(_pair("**total**", then, now, lambda x: f"**{_n(sum(x['calls_per_period'].values()))}**"))
        if now and "calls_per_pass" in now:
            out += [
                f"| **per GC cycle** (a pass and the period slept after it: {now['gc_cycles']} whole "
                "cycles in the window) | — | "
                + (
                    f"**{_n(sum(now['calls_per_pass'].values()))}** ({_n(now['listing_per_pass'])} "
                    "listing pages) |"
                    if now["gc_cycles"]
                    else "no whole cycle |"
                ),
                f"| a pass (first page to last answer) / start to start | — | "
                f"{fmt(now['pass_seconds'], ' s', 1)} / {fmt(now['cycle_seconds'], ' s', 1)} |",
            ]
        l1 = _n(now["l1"], 2) if now else "—"
        out.append(_pair(f"one new pod's time to EIP meanwhile (L₁ {l1} s)", then, now, _probe))
        if now:
            out.append(
                f"| operator CPU over the window | — | {now['cpu_pct']:.1f} % of a core over "
                f"{now['seconds']:.0f} s ({now['periods']:.1f} periods) |"
            )
        out.append("")
        if now and "podeips" in now:
            short = short_of(n, now)
            out += [
                f"Measured at (counted when the window opened): {now['podeips']:,.0f} PodEIPs, "
                f"{now['bound']:,.0f} of them with their EIP InUse in the cloud, {now['eips']:,.0f} EIPs "
                f"tagged with our cluster ID (what the listing pages through), {now['gates']:,.0f} pods "
                "with the gate True" + (f" — **{short}**" if short else "") + ".",
                "",
            ]
    return out


def lifecycle_section(r: Results, before: Results | None) -> list[str]:
    out = [
        "## Kubernetes requests and cloud calls per Auto/Follow lifecycle",
        "",
        "Per pod, create → bound → delete → released: one pod at a time (the mean of the single pods) "
        "and a burst of pods created at once (its time held at rest, if any, left out). **Kubernetes**: "
        f"the operator's `{c.METRIC_KUBE_REQUESTS}`, after minus before, by verb and resource, reads "
        "counted as well as writes (they spend the same client budget); the leader Lease left out; "
        "background requests in the window (the GC's listing) included. **Cloud**: the simulator's "
        "call log, each call charged to the pods it served, named by allocation ID, PodEIP UID, pod "
        "IP or pod-name tag: a call that served k pods (a DescribeEipAddresses with k AllocationIds, a "
        "DescribeNetworkInterfaces with k PrivateIpAddress.N) counts 1/k for each, so batching neither "
        "hides calls nor counts them k times. Calls that named none of them (the GC's listing by tags) "
        "are shown apart.",
        "",
    ]
    labels = list(dict.fromkeys([*r.lifecycles, *(before.lifecycles if before else {})]))
    if not labels:
        return [*out, NOT_MEASURED + ".", ""]
    for label in labels:
        now = r.lifecycles.get(label)
        then = before.lifecycles.get(label) if before else None
        count = (now or then or {}).get("count", 0)
        out += [f"### {label} ({count} pods)", ""]
        out += kube_table(
            "Kubernetes requests per pod (verb resource)",
            now["kube"] if now else None,
            then["kube"] if then else None,
            "per lifecycle",
        )
        if (now and now.get("kube_bind")) or (then and then.get("kube_bind")):
            bind = lambda x: _n(sum(x["kube_bind"].values())) if x and x.get("kube_bind") else "—"  # noqa: E731
            out.append(f"| of them until bound | {bind(then)} | {bind(now) if now else NOT_MEASURED} |")
        res = lambda x: ", ".join(f"{k} {v:.1f}" for k, v in by_resource(x["kube"]).items()) if x else "—"  # noqa: E731
        out += ["", f"By resource, before: {res(then)}. This run: {res(now) if now else NOT_MEASURED}.", ""]
        out += ["| cloud calls per pod (1/k for shared calls) | before | this run |", "|---|---|---|"]
        actions = sorted(set(now["calls"] if now else {}) | set(then["calls"] if then else {}))
        for action in actions:
            b = then["calls"].get(action, 0.0) if then else None
            x = now["calls"].get(action, 0.0) if now else None
            out.append(f"| {action} | {_n(b, 2)} | {_n(x, 2) if x is not None else NOT_MEASURED} |")
        tot = lambda x: _n(x["total"], 2) if x else "—"  # noqa: E731
        out.append(f"| **total** | **{tot(then)}** | **{tot(now) if now else NOT_MEASURED}** |")
        if now:
            batched = (
                ", ".join(f"{a}: {n} calls for {k} pods" for a, (n, k) in now["batched"].items()) or "none"
            )
            out += [
                "",
                f"This run: calls that served several pods: {batched}; calls that named no pod (shared "
                f"by all): {_counts(now['shared'])}.",
                "",
            ]
        else:
            out.append("")
    return out


def bursts_section(r: Results, before: Results | None, cfg: EngineConfig) -> list[str]:
    ours, _, published, _ = rates(r)
    out = [
        "## Time to EIP and fairness",
        "",
        "From the moment a client-side watch first sees the pod's `status.podIP` to the moment it first "
        f"sees the condition `{c.READINESS_GATE}` True (wall clock on the watching side). Bare pods with "
        '`k8s.aliyun.com/pod-with-eip: "true"` and the readiness gate, POSTed at once (20 in flight), bound '
        "to fake nodes by `spec.nodeName` (the scheduler's pace is not in the numbers). Floors: the N-th "
        "pod waits for its Associate token behind the N − 1 before it after the bucket's burst, plus L₁: "
        "all ready (N − burst)/R + L₁, p50 (⌈N/2⌉ − burst)/R + L₁, at the configured R "
        f"({ours:.0f}/min) and at Alibaba's {published:.0f}/min. Bound per minute: N over the time from "
        "the first POST until the watch saw the last gate True (first-to-last gate times would flatter an "
        "operator whose gates all turn True at the end). Associates per minute: first to last OK call.",
        "",
    ]
    if r.singles:
        s = r.singles
        out += [
            f"One pod at a time ({s['runs']:.0f} pods): median time to EIP {fmt(s['p50'], ' s')} (slowest "
            f"{fmt(s['max'], ' s')}), L₁ {fmt(s['l1'], ' s')}, {fmt(s['ratio'])}× (median of the "
            "per-pod ratios); "
            f"first look after the Associate answer {fmt(s['poll_gap'], ' s')} (median).",
            "",
        ]
    if not r.bursts:
        return [*out, "Bursts: " + NOT_MEASURED + ".", ""]
    out += [
        f"| pods at once | p50 | p99 | L₁ | p50 floor ({ours:.0f} / {published:.0f}/min) | p50 / floor "
        "| all ready after "
        f"| all-ready floor ({ours:.0f} / {published:.0f}/min) | all ready / floor | bound per min | "
        "Associates per min "
        "| first poll after Associate (p50) | Kubernetes requests per pod until bound | throttled |",
        "|---" * 14 + "|",
    ]
    for count, b in sorted(r.bursts.items()):
        f = burst_floors(r, count)
        bind = b.get("kube_bind")
        if bind is None:
            life = r.lifecycles.get(f"Auto, Follow, {count}-pod burst")
            bind = life["kube_bind"] if life else None
        out.append(
            f"| {count} | {fmt(b['p50'], ' s')} | {fmt(b['p99'], ' s')} | {fmt(b['l1'], ' s')} "
            f"| {f['p50']:.1f} / {f['p50_published']:.1f} s | {fmt(b['p50'] / f['p50'])}× / "
            f"{fmt(b['p50'] / f['p50_published'])}× "
            f"| {fmt(b['wall'], ' s', 1)} | {f['all']:.1f} / {f['all_published']:.1f} s "
            f"| {fmt(b['wall'] / f['all'])}× / {fmt(b['wall'] / f['all_published'])}× "
            f"| {fmt(bound_per_min(count, b), '', 1)} | {fmt(b['associates_per_min'], '', 1)} | "
            f"{fmt(b['poll_gap'], ' s')} "
            f"| {_n(sum(bind.values())) if bind else '—'} | {int(b['throttled'])} |"
        )
    if before and before.bursts:
        out += [
            "",
            "Before (commit "
            + before.commit
            + "): "
            + "; ".join(
                f"{n} pods p50 {fmt(b['p50'], ' s')}, all ready {fmt(b['wall'], ' s', 1)}, bound "
                f"{fmt(bound_per_min(n, b), '/min', 1)}"
                for n, b in sorted(before.bursts.items())
            )
            + ".",
        ]
    return [*out, ""]


def restart_section(r: Results, before: Results | None) -> list[str]:
    out = [
        "## Restarts",
        "",
        "The operator stopped (SIGKILL where said, else SIGTERM, e.g. after seeding) and started with the "
        "defaults. Recovered, the earlier of: the new process has read every PodEIP once (N GETs of "
        "PodEIPs in its `/metrics`, what a pass costs when it reads from the API server), or it went quiet "
        "(no cloud call and no Kubernetes request but the Lease for 5 s) after its first work (what "
        "a pass that reads from the watch shows) and after its listing of our EIPs (⌈N/100⌉ pages, "
        "what checks every PodEIP against the cloud), or it did nothing at all for 15 s once its "
        "/healthz answered (recovered then).",
        "",
    ]
    rows = {**(before.restarts if before else {}), **r.restarts}
    if not rows:
        return [*out, NOT_MEASURED + ".", ""]
    out += [
        "| restart | run | recovered after | by | cloud calls | Kubernetes requests (Lease aside) | "
        "peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in rows:
        for name, source in (("before", before.restarts if before else {}), ("this run", r.restarts)):
            rec = source.get(label)
            if rec is None:
                continue
            seconds = (
                f"not within {rec['cap']:.0f} s" if math.isnan(rec["seconds"]) else f"{rec['seconds']:.1f} s"
            )
            out.append(
                f"| {label} | {name} | {seconds} | {rec['how']} | {rec['cloud_calls']} "
                f"({_counts(rec['calls'])}) "
                f"| {rec['kube_requests']:.0f} | {fmt(rec['hwm'], ' MiB', 0)} |"
            )
    return [*out, ""]


def churn_section(r: Results) -> list[str]:
    ch = r.churn
    if not ch:
        return []
    f = churn_floor(r, ch)
    ours, _, published, _ = rates(r)
    b, a = ch["before"], ch["after"]
    leaks = ch["leaks"]
    return [
        "### R" + CHURN.format(churn=ch["churn"], pods=ch["pods"])[1:],
        "",
        f"{ch['pods']:,} PodEIPs at rest (after the figures above); the operator stopped (SIGTERM); "
        f"meanwhile {ch['churn']} of the pods deleted and {ch['churn']} new EIP pods created (each with "
        "its IP before the start); then started with the defaults. Handled: every deleted pod's PodEIP "
        "gone (Follow: its EIP unassociated and released first) and every new pod's gate True; times "
        "from the process start (its start-up included). Physical limit: the Associates (after their "
        "Allocates) and the Unassociates wait for their own buckets, so the later chain: "
        f"(churn − burst)/R + one pod's latency, L₁ = {fmt(ch['l1'], ' s')} to bind, Unassociate + "
        f"Unassociating + Release = {fmt(ch['u1'], ' s')} to unbind; and a new pod given a deleted "
        f"pod's IP ({ch.get('reused', 0)} of {ch['churn']} here) binds only once that IP's EIP is "
        "unbound (Alibaba gives a private IP one EIP): the last such IP is free after its "
        "Unassociate slot, then Unassociate + Unassociating + Associate + Associating = "
        f"{fmt(ch.get('a1', math.nan), ' s')}; at R = {ours:.0f}/min (the operator's "
        f"limits) and at Alibaba's {published:.0f}/min. Target: ≤ {CHURN_GOAL:g} × that limit (issue 13 "
        "gives none; ours, as for a burst's p50).",
        "",
        "| | measured | limit |",
        "|---|---|---|",
        f"| healthy (start-up) | {fmt(ch['healthy'], ' s', 1)} | — |",
        f"| the {ch['churn']} deleted pods' PodEIPs gone | {fmt(ch['unbound'], ' s', 1)} | "
        f"{f['unbind']:.1f} s |",
        f"| the {ch['churn']} new pods' gates True | {fmt(ch['bound'], ' s', 1)} | "
        f"{max(f['bind'], f['after']):.1f} s (bind {f['bind']:.1f} s, "
        f"after the unbinds {f['after']:.1f} s) |",
        f"| **every change handled** | **{fmt(ch['seconds'], ' s', 1)}** | **{f['floor']:.1f} s** "
        f"({f['published']:.1f} s at {published:.0f}/min) |",
        f"| cloud calls until then | {ch['cloud_calls']} ({_counts(ch['calls'])}) | "
        f"{4 * ch['churn']} mutating (Allocate, Associate, Unassociate, Release each) |",
        f"| Kubernetes requests until then (Lease aside) | {ch['kube_requests']:.0f} "
        f"({_top(ch['kube'], 5, 0)}) | — |",
        f"| throttling errors | {ch['throttled']} | 0 |",
        "",
        f"Population before: {b['podeips']:,.0f} PodEIPs ({b['bound']:,.0f} bound), {b['eips']:,.0f} EIPs "
        f"of ours, {b['gates']:,.0f} gates True; after: {a['podeips']:,.0f} PodEIPs ({a['bound']:,.0f} "
        f"bound), {a['eips']:,.0f} EIPs, {a['gates']:,.0f} gates True. Leak audit after: "
        + "; ".join(f"{k}: {len(v)}" + (f" ({', '.join(v[:5])})" if v else "") for k, v in leaks.items())
        + ".",
        "",
    ]


def memory_section(r: Results) -> list[str]:
    out = ["## Memory", ""]
    m = r.memory
    if not m and not r.scale:
        return [*out, NOT_MEASURED + ".", ""]
    if m:
        out += [
            f"{m['plain']:,.0f} pods without EIP created (20 in flight) next to the EIP pods: "
            f"{fmt(m['create_seconds'], ' s', 0)} until all had an IP; the operator's RSS during and after "
            f"{fmt(m['rss'], ' MiB', 0)}, peak (VmHWM) {fmt(m['hwm'], ' MiB', 0)}, CPU "
            f"{fmt(m['create_cpu'], ' s', 1)}.",
            "",
        ]
    s = r.scale
    if s:
        out += [
            "### Scale (`make bench-scale`)",
            "",
            f"{s.get('plain', 0):,.0f} pods without EIP, then {s.get('eip', 0):,.0f} EIP pods among them "
            "(seeded), the operator restarted with the defaults; then more EIP pods seeded and a restart "
            "with them, and the at-rest figures above. Peak RSS (VmHWM) of the first process (the "
            f"defaults), which saw the plain pods arrive: {fmt(s.get('first_hwm', math.nan), ' MiB', 0)}; "
            "of the restarted one 30 s after it recovered: "
            f"{fmt(s.get('restart_hwm', math.nan), ' MiB', 0)}; "
            "apart, of the seeding process, which bound the EIP pods with the seeding settings (50 "
            "concurrent reconciles, client QPS 200, not the defaults): "
            f"{fmt(s.get('seed_hwm', math.nan), ' MiB', 0)}. "
            "How long each step took:",
            "",
            *[
                f"- {k.removeprefix('scale: ')}: {v:.0f} s"
                for k, v in r.durations.items()
                if k.startswith("scale: ")
            ],
            "",
        ]
    return out


def _top(counts: dict[str, float], n: int = 3, digits: int = 1) -> str:
    ordered = sorted(counts.items(), key=lambda item: -item[1])[:n]
    return ", ".join(f"{k} {v:.{digits}f}" for k, v in ordered) or "none"


def why(r: Results) -> list[str]:
    """For each missed target, what this run's figures say about where the time or the requests
    went (derived from the numbers only; no cause is asserted that the run did not measure)."""
    ours, _, published, _ = rates(r)
    lines: list[str] = []
    life = _burst_lifecycle(r)
    bind = sum(life[1]["kube_bind"].values()) if life else math.nan
    for count, b in sorted(r.bursts.items()):
        if count < 100 or "l1" not in b:
            continue
        floors = burst_floors(r, count)
        per_pod = sum(b["kube_bind"].values()) if b.get("kube_bind") else bind
        kube_floor = count * per_pod / KUBE_QPS
        if b["wall"] > 1.15 * floors["all"]:
            lines.append(
                f"- **{count}-pod burst, all ready** {b['wall']:.0f} s against {floors['all']:.0f} s: "
                "the pods cost "
                f"{per_pod:.1f} Kubernetes requests each until bound, {count} × {per_pod:.1f} / "
                f"{KUBE_QPS:.0f} "
                f"per second = {kube_floor:.0f} s of the client budget"
                + (
                    " (more than the cloud floor: the burst is bound by Kubernetes requests)"
                    if kube_floor > floors["all"]
                    else ""
                )
                + f"; the first look after an Associate came {fmt(b['poll_gap'], ' s')} after its answer "
                f"(median), Associates ran at {fmt(b['associates_per_min'], '/min', 1)} against R = "
                f"{ours:.0f}/min. "
                "Fewer requests per pod, or polls served before new work, close it."
            )
        bound = bound_per_min(count, b)
        if bound < 0.95 * ours:
            lines.append(
                f"- **Pods bound per minute** ({count}-pod burst) {bound:.1f}/min = "
                f"{bound / ours * 100:.0f} % of the configured {ours:.0f}/min "
                f"({bound / published * 100:.0f} % of Alibaba's {published:.0f}/min); same "
                "figures as above."
            )
    if life and bind > 8:
        lines.append(
            f"- **Kubernetes requests per pod until bound** ({life[0]}) {bind:.1f}: the largest are "
            f"{_top(life[1]['kube_bind'])} (per pod, verb resource)."
        )
    for label, v in r.lifecycles.items():
        limit = 8.0 if label == SINGLE else 5.0
        if label.startswith("Auto, Follow,") and v["total"] > limit:
            lines.append(
                f"- **Cloud calls per lifecycle** ({label}) {v['total']:.2f} against ≤ {limit:g}: "
                f"{_top(v['calls'], 6, 2)} per pod; the four mutating calls are 1 each at best, the "
                "rest are reads."
            )
    for n, rest in sorted(r.at_rest.items()):
        per_min = sum(rest["kube_per_min"].values())
        if per_min > 2:
            lines.append(
                f"- **At rest, {n} PodEIPs**: {per_min:.0f} Kubernetes requests/min while nothing changed "
                f"({_top(rest['kube_per_min'])} per minute), {per_min / (KUBE_QPS * 60) * 100:.0f} % of the "
                f"client budget of {KUBE_QPS * 60:.0f}/min; a new pod took "
                + (_probe(rest) if rest else "—")
                + ". Reading pods and PodEIPs from the watch and enqueueing only what the GC listing shows "
                "changed would remove them."
            )
        gc = gc_target(n, rest)
        if gc.met is False:
            per_pass = "calls_per_pass" in rest and rest.get("gc_cycles", 0) > 0
            calls = rest["calls_per_pass" if per_pass else "calls_per_period"]
            lines.append(
                f"- **Cloud calls per GC period at rest, {n} PodEIPs**: {gc.measured} against {gc.limit}: "
                f"{_counts(calls, 1)}, of which "
                f"{rest['listing_per_pass' if per_pass else 'listing_per_period']:.1f} listing pages"
                + (
                    f"; a pass took {fmt(rest['pass_seconds'], ' s', 1)}, start to start "
                    f"{fmt(rest['cycle_seconds'], ' s', 1)} over {rest['gc_cycles']} whole cycles"
                    if per_pass
                    else ""
                )
                + "."
            )
    for label, rec in r.restarts.items():
        if math.isnan(rec["seconds"]) or rec["seconds"] > 30 or rec["cloud_calls"] > 60:
            lines.append(
                f"- **Restart, {label}**: "
                + (
                    f"not recovered within {rec['cap']:.0f} s"
                    if math.isnan(rec["seconds"])
                    else f"{rec['seconds']:.1f} s"
                )
                + f", {rec['kube_requests']:.0f} Kubernetes requests ({_top(rec['kube'])}) and "
                f"{rec['cloud_calls']} cloud calls ({_counts(rec['calls'])}) until then."
            )
    if r.scale.get("first_hwm"):
        first, again = r.scale["first_hwm"], r.scale.get("restart_hwm", math.nan)
        if max(first, again if not math.isnan(again) else 0.0) > 150:
            lines.append(
                f"- **Peak RSS** ({r.scale['plain']:,.0f} plain + {r.scale['eip']:,.0f} EIP pods): the "
                f"first process (the defaults, the plain pods arriving) peaked at {first:.0f} MiB, "
                f"the restarted one at {fmt(again, ' MiB', 0)} 30 s after it recovered, against ≤ 150 MiB."
            )
    lines += churn_why(r)
    return lines or ["- Nothing measured in this run is missed."]


def churn_why(r: Results) -> list[str]:
    ch = r.churn
    row = churn_target(r)
    if not ch or row.met is not False:
        return []
    f = churn_floor(r, ch)
    leaks = "; ".join(f"{k}: {len(v)} ({', '.join(v[:3])})" for k, v in ch["leaks"].items() if v)
    return [
        f"- **{row.measure}**: handled after {fmt(ch['seconds'], ' s', 1)} against {f['floor']:.0f} s "
        f"(healthy after {fmt(ch['healthy'], ' s', 1)}; the deleted pods' PodEIPs gone after "
        f"{fmt(ch['unbound'], ' s', 1)} against {f['unbind']:.0f} s; the new pods bound after "
        f"{fmt(ch['bound'], ' s', 1)} against {f['bind']:.0f} s); {ch['cloud_calls']} cloud calls "
        f"({_counts(ch['calls'])}), {ch['kube_requests']:.0f} Kubernetes requests ({_top(ch['kube'])})"
        + (
            f"; not done: {len(ch['left'])} PodEIPs left, {ch['not_ready']} pods not ready"
            if ch["left"] or ch["not_ready"]
            else ""
        )
        + "".join(
            f"; {a.removesuffix('EipAddress')}s from {fmt(first, ' s', 1)} to {fmt(last, ' s', 1)}"
            for a, (first, last) in ch.get("spans", {}).items()
        )
        + (f"; leaks: {leaks}" if leaks else "; no leak")
        + "."
        + _churn_start(ch, f["floor"])
    ]


def _churn_start(ch: dict[str, Any], floor: float) -> str:
    """The churn restart split at its first mutating call: before it, the start-up (the process,
    then its listing of every pod and PodEIP, before which no change is known); after it, the
    work, against the limit (which leaves the start-up out)."""
    firsts = [first for first, _ in ch.get("spans", {}).values()]
    if not firsts or not ch.get("seconds"):
        return ""
    first = min(firsts)
    after = ch["seconds"] - first
    listed = ch.get("kube", {}).get("list pods", 0.0) + ch.get("kube", {}).get("list podeips", 0.0)
    return (
        f" The first change's call came {fmt(first, ' s', 1)} after the start: the start-up, whose "
        f"listing of every pod and PodEIP ({listed:.0f} list requests) comes before any change is "
        f"known, and which the limit leaves out. From that call on, {fmt(after, ' s', 1)}: "
        f"{after / floor:.2f}× the limit. What would close it: a shorter listing (a selecting pod "
        "watch, `podeip.watch.selectLabeledPods`, lists only the pods that ask for an EIP)."
    )
