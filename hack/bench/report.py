"""The run's numbers (``Results``, saved as results.json) and BENCHMARKS.md written from them."""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import EIP_CIDR, OPERATOR_ENV, POD_NETWORK, REPO, VPC_CIDR
from bench.measure import ASSOCIATE, fmt
from podeip import constants as c
from podeip.settings import default_rate_limits
from podeip.simulator.engine import PUBLISHED_LIMITS, EngineConfig
from testbed.cluster import versions


def _git_commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=REPO, capture_output=True, text=True)
    return head.stdout.strip() + (", src/ modified" if dirty.stdout.strip() else "")


COMMIT = _git_commit()


# ---- the benchmark ---------------------------------------------------------------------------
@dataclass
class Results:
    bursts: dict[int, dict[str, float]] = field(default_factory=dict)
    binding: dict[str, float] = field(default_factory=dict)
    lifecycles: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    recovery: dict[str, float] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    #: The commit measured, taken when the run starts (others may commit meanwhile).
    commit: str = field(default_factory=lambda: COMMIT)
    #: The operator's client limits (calls per minute) in force when the run started.
    client_limits: dict[str, float] = field(
        default_factory=lambda: {api: limit.per_minute for api, limit in default_rate_limits().items()}
    )
    #: Anything about this run a reader must know (added by hand to results.json before re-rendering).
    notes: list[str] = field(default_factory=list)


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


def _ok(met: bool) -> str:
    return "**met**" if met else "**missed**"


def report(args: argparse.Namespace, r: Results, cfg: EngineConfig, nodes: int) -> str:
    small, _, large = args.counts
    client = r.client_limits
    published = PUBLISHED_LIMITS[ASSOCIATE]
    ours = client[ASSOCIATE]
    one = r.bursts[small]
    follow = next(v for k, v in r.lifecycles.items() if k.startswith("Auto"))
    rate = r.binding.get("rate", math.nan)
    mem = r.memory
    peak = max(mem["hwm"], r.recovery.get("hwm", 0.0))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    minutes = r.durations.get("total", sum(r.durations.values())) / 60
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench{' --quick' if args.quick else ''}`) on {now}; the run "
        f"took {minutes:.1f} min. One run; medians and ratios from that run. Nothing here "
        "is a test: the numbers move with the machine and the simulated latency.",
    ]
    if args.quick:
        out += [
            "",
            "> **Quick run** (`--quick`): smaller counts than the default run; not the reference figures.",
        ]
    out += ["", "## Targets", "", "| target | measured | goal | ratio | |", "|---|---|---|---|---|"]
    out.append(
        f"| p50 time to EIP, 1 pod, vs the floor | {fmt(one['p50'], ' s')} (floor {fmt(one['floor'], ' s')}) "
        f"| ≤ 1.3 × floor | {fmt(one['ratio'])}× | {_ok(one['ratio'] <= 1.3)} |"
    )
    out.append(
        f"| binding rate, {large}-pod burst | {fmt(rate, '/min', 1)} AssociateEipAddress "
        f"| ≥ 90% of Alibaba's {published}/min | {fmt(rate / published * 100, '%', 0)} of "
        f"{published}/min; {fmt(rate / ours * 100, '%', 0)} of our client limit {ours:.0f}/min "
        f"| {_ok(rate >= 0.9 * published)} |"
    )
    out.append(
        f"| throttling errors, {large}-pod burst | {r.binding.get('throttled', 0)} "
        f"| 0 | — | {_ok(r.binding.get('throttled', 0) == 0)} |"
    )
    out.append(
        f"| cloud calls per Auto/Follow lifecycle | {fmt(follow['total'], '', 1)} | ≤ 8 "
        f"| {fmt(follow['total'] / 8)}× | {_ok(follow['total'] <= 8)} |"
    )
    out.append(
        f"| operator peak RSS, {mem['plain']:,} plain + {large} EIP pods (first process and restarted one) "
        f"| {fmt(peak, ' MiB', 0)} | ≤ 200 MiB | {fmt(peak / 200)}× | {_ok(peak <= 200)} |"
    )
    out += [
        "",
        "## Time to EIP",
        "",
        "From the moment a client-side watch first sees the pod's `status.podIP` to the moment it first "
        f"sees the condition `{c.READINESS_GATE}` True (wall clock on the watching side, not the apiserver's "
        'whole-second timestamps). Bare pods with `k8s.aliyun.com/pod-with-eip: "true"` and the readiness '
        "gate, POSTed at once (20 in flight), bound to fake nodes by `spec.nodeName` so that the scheduler's "
        "pace is not in the numbers. **Floor**: per pod, the simulated latencies of its Allocate, "
        "DescribeNetworkInterfaces and Associate calls (from the call log) plus the Associating → InUse "
        f"delay ({cfg.transition_delay:g} s); the median over the pods is shown. **Rate-limited floor**: "
        "the floor plus the wait of the median pod for its token behind the pods before it at the "
        "operator's own client limit (100/min after a burst of 10): what a perfectly pipelined "
        "operator would reach. **First poll**: seconds from an Associate's answer to the operator's "
        "next look at that EIP.",
        "",
        "| pods at once | p50 | p99 | floor | p50 / floor | rate-limited floor (p50 pod) | p50 / that "
        "| p50 from creation | all ready after | cloud calls per pod | first poll after Associate (p50) "
        "| throttled |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count, b in r.bursts.items():
        out.append(
            f"| {count} | {fmt(b['p50'], ' s')} | {fmt(b['p99'], ' s')} | {fmt(b['floor'], ' s')} "
            f"| {fmt(b['ratio'])}× | {fmt(b['limited_floor'], ' s')} | {fmt(b['p50'] / b['limited_floor'])}× "
            f"| {fmt(b['create_p50'], ' s')} | {fmt(b['wall'], ' s', 1)} | {fmt(b['calls_per_pod'], '', 1)} "
            f"| {fmt(b.get('poll_gap', math.nan), ' s')} | {int(b['throttled'])} |"
        )
    out += [
        "",
        f"Binding API in the {large}-pod burst: {r.binding.get('calls', 0)} AssociateEipAddress calls at "
        f"{fmt(rate, '/min', 1)} (first to last call), {r.binding.get('throttled', 0)} throttled calls "
        f"(actions: {r.binding.get('throttled_actions', 'none')}).",
        "",
        "## Calls per pod lifecycle",
        "",
        "Cloud calls from the simulator's call log, attributed to the scenario's pods by their namespace, "
        "PodEIP UIDs, allocation IDs and pod IPs (the periodic GC listing, which serves every pod at once, "
        "is not counted), divided by the number of pods. Kubernetes writes: the operator's own "
        f"`{c.METRIC_KUBE_REQUESTS}` with verb create, patch, update or delete, after minus before, per "
        "pod.",
        "",
    ]
    actions = sorted({a for v in r.lifecycles.values() for a in v["calls"]})
    out.append(
        "| lifecycle (pods) | "
        + " | ".join(a.removesuffix("EipAddress") for a in actions)
        + " | total | Kubernetes writes per pod |"
    )
    out.append("|---" * (len(actions) + 3) + "|")
    for label, v in r.lifecycles.items():
        cells = [fmt(v["calls"].get(a, 0) / v["count"], "", 1) for a in actions]
        writes = ", ".join(f"{res} {n:.1f}" for res, n in sorted(v["writes"].items())) or "0"
        total_writes = sum(v["writes"].values())
        out.append(
            f"| {label} ({v['count']}) | "
            + " | ".join(cells)
            + f" | **{fmt(v['total'], '', 1)}** | {total_writes:.1f} ({writes}) |"
        )
    rec = r.recovery
    out += [
        "",
        "## Memory, CPU and restart",
        "",
        f"{mem['plain']:,} pods without EIP created (20 in flight) next to the {large} EIP pods of the "
        f"burst: {fmt(mem['create_seconds'], ' s', 0)} until all had an IP.",
        "",
        "| measure | value |",
        "|---|---|",
        "| operator peak RSS (VmHWM, first process, whole run until the restart) "
        f"| {fmt(mem['hwm'], ' MiB', 0)} |",
        f"| operator RSS sampled during and after the {mem['plain']:,}-pod creation "
        f"| {fmt(mem['rss'], ' MiB', 0)} |",
        f"| operator CPU while the {mem['plain']:,} pods were created | {fmt(mem['create_cpu'], ' s', 1)} "
        f"({fmt(mem['create_cpu'] / mem['create_seconds'] * 100, '%', 0)} of a core) |",
        f"| operator CPU at rest with {mem['plain'] + large:,} pods ({mem['steady_seconds']:.0f} s, one GC "
        f"pass) | {fmt(mem['steady_cpu_pct'], '% of a core', 1)} |",
        f"| operator traffic at rest | {fmt(mem['steady_requests_per_min'], '', 0)} Kubernetes requests/min, "
        f"{fmt(mem['steady_calls_per_min'], '', 0)} cloud calls/min |",
        f"| restart recovery ({rec['pods']} PodEIPs) | {fmt(rec['seconds'], ' s', 1)} |",
        f"| new process's peak RSS (VmHWM) {rec['cap']:.0f} s after recovery | {fmt(rec['hwm'], ' MiB', 0)} "
        f"(RSS then {fmt(rec['rss'], ' MiB', 0)}) |",
        f"| cloud calls of the new process until recovered | {rec['cloud_calls']} "
        f"({_counts(rec['calls'])}) |",
        f"| Kubernetes requests of the new process until recovered | {rec['kube_requests']:.0f} |",
        "| quiet (no request, no call for 10 s) after start | "
        + (
            fmt(rec["quiet"], " s", 1)
            if not math.isnan(rec["quiet"])
            else f"not within {rec['cap']:.0f} s of recovery"
        )
        + " |",
        f"| EIP pods still showing their address and a True gate | {rec['showing']} / {rec['pods']} |",
        "",
        "**Restart recovery**, defined: the operator is killed with SIGKILL and started again at once; "
        "recovery is the time from the new process's start until it has reconciled every PodEIP once, seen "
        f"as {large} GETs of PodEIPs in its `/metrics` (sampled every 0.5 s; kopf's start-up listing "
        "enqueues every PodEIP at once and the queue serves them in order, so these are the first pass over "
        "each), with every EIP pod still showing its address and the gate True afterwards. The operator "
        "being idle (no cloud call and no Kubernetes request for 10 s) is reported next to it; the periodic "
        "resync may keep it from ever being idle.",
        "",
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
        "| cloud | simulated Alibaba OpenAPI over HTTP on 127.0.0.1, official SDK | the operator's real "
        "code path |",
        f"| latency per call | {cfg.latency[0] * 1000:.0f}–{cfg.latency[1] * 1000:.0f} ms, uniform "
        "| a region endpoint seen from a cluster in the region |",
        f"| Associating / Unassociating / Releasing | {cfg.transition_delay:g} s "
        "| EIP binding is asynchronous |",
        "| server-side limits | "
        + ", ".join(f"{a.removesuffix('EipAddress')} {n}/min" for a, n in PUBLISHED_LIMITS.items())
        + " (burst a tenth) | Alibaba's published per-API limits; above them the simulator answers "
        "`Throttling.User` |",
        "| operator client limits | "
        + ", ".join(
            f"{a.removesuffix('EipAddress')} {v:.0f}/min"
            for a, v in client.items()
            if a.endswith("EipAddress")
        )
        + " (defaults) | below the published limits, headroom for other tools in the account |",
        *[f"| `{k}` | {v} | " + OPERATOR_WHY.get(k, "") + " |" for k, v in OPERATOR_ENV.items()],
        "| `PODEIP_KUBE_CLIENT_QPS` / `_BURST` | 20 / 30 (defaults) | client-go's usual controller budget |",
        f"| cluster | {nodes} kwok nodes, a /24 each from {POD_NETWORK}; VPC {VPC_CIDR}; EIPs from "
        f"{EIP_CIDR} | RFC 2544 benchmarking ranges, never contacted |",
        "",
        "## Where a target is missed, why, and what would close the gap",
        "",
        *explanations(args, r),
        "",
        "Phase durations: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in r.durations.items() if k != "total")
        + ".",
        "",
    ]
    return "\n".join(out)


OPERATOR_WHY = {
    "PODEIP_MAX_CONCURRENT_RECONCILES": "AENC's ACS example uses 10",
    "PODEIP_GC__PERIOD_MINUTES": "AENC's default GC period",
    "PODEIP_LOG_LEVEL": "the default",
}


def _counts(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return ", ".join(f"{a.removesuffix('EipAddress')} {n}" for a, n in ordered) or "none"


def explanations(args: argparse.Namespace, r: Results) -> list[str]:
    """One paragraph per finding from the numbers; the causes are what the call logs of runs showed."""
    one, large = r.bursts[args.counts[0]], r.bursts[args.counts[-1]]
    count = args.counts[-1]
    follow = next(v for k, v in r.lifecycles.items() if k.startswith("Auto"))
    create = next(v for k, v in r.lifecycles.items() if k.endswith("create → bound"))
    rate, throttled = r.binding.get("rate", math.nan), r.binding.get("throttled", 0)
    published = PUBLISHED_LIMITS[ASSOCIATE]
    ours = r.client_limits[ASSOCIATE]
    describes = follow["calls"].get("DescribeEipAddresses", 0) / follow["count"]
    writes = sum(create["writes"].values())
    qps = 20.0
    mem, rec = r.memory, r.recovery
    peak = max(mem["hwm"], rec.get("hwm", 0.0))
    lines = [
        f"- **Time to EIP, one pod** ({fmt(one['ratio'])}× the floor, {_ok(one['ratio'] <= 1.3)}): the "
        f"first look at the EIP came {fmt(one.get('poll_gap', math.nan), ' s')} after the Associate answer "
        "(the operator starts from a 1 s guess of the transition time and learns it from its waits); the "
        "next looks follow a quarter of the estimate apart, growing 1.5× each time, so InUse is seen up "
        "to one look interval (about 0.4–0.7 s here) after the transition ends, plus the operator's "
        "Kubernetes writes. One pod is one sample, and where the looks fall decides it: runs on this "
        "machine gave between 1.06× and 1.33×. Looking at a short fixed interval (0.25 s) once the "
        "estimate has passed, instead of a growing one, would keep it near 1.1×; measuring the one-pod "
        "case as the median of several single pods would make the figure steadier.",
        f"- **Bursts** (no target; p50 {fmt(large['p50'] / large['limited_floor'])}× the rate-limited "
        f"floor at {count} pods). Two causes, both visible in the run. (1) The Kubernetes client "
        f"budget: a pod costs {writes:.0f} Kubernetes writes until bound (table above) plus two GETs "
        "per reconcile pass, so "
        f"{count} pods need about {count * (writes + 8) / qps / 60:.0f} min at the default "
        f"{qps:.0f} requests/s, longer than the {count / ours:.0f} min their Allocate tokens take. (2) Polls "
        "starve: an Associate is made in the same pass as its Allocate, but the look that sees InUse comes "
        f"{fmt(large.get('poll_gap', math.nan), ' s')} later (median; "
        f"{fmt(one.get('poll_gap', math.nan), ' s')} for one pod), because the work queue serves keys by due "
        "time and every new pod's first pass is older than any poll; those passes wait for an Allocate "
        "token inside a worker (`RateLimiter.acquire` sleeps while holding one of the "
        f"{OPERATOR_ENV['PODEIP_MAX_CONCURRENT_RECONCILES']} workers), so the polls run only after the "
        "whole Allocate backlog. Closing it: requeue a pass for its token's time instead of sleeping in "
        "a worker (or serve keys with a cloud operation in flight first), and spend fewer Kubernetes "
        "requests per pod (read pods and PodEIPs from the watch instead of GETting them each pass, merge "
        "the status and condition writes), or raise `PODEIP_KUBE_CLIENT_QPS`.",
    ]
    if rate < 0.9 * published:
        lines.append(
            f"- **Binding rate** ({fmt(rate / published * 100, '%', 0)} of Alibaba's {published}/min, "
            f"{_ok(False)} by design): the operator's default client bucket for AssociateEipAddress is "
            f"{ours:.0f}/min ({ours / published * 100:.0f}% of the published limit) to leave headroom for "
            "other tools that share the account's limit; against that configured limit the burst reached "
            f"{fmt(rate / ours * 100, '%', 0)}. `PODEIP_CLOUD__RATE_LIMITS` with "
            f"`AssociateEipAddress` at {published}/min would lift the ceiling to the published limit, at the "
            "cost of that headroom (and the Kubernetes budget above would then be the limit)."
        )
    else:
        lines.append(f"- **Binding rate**: met ({fmt(rate / published * 100, '%', 0)} of {published}/min).")
    if throttled:
        lines.append(
            f"- **Throttling** ({throttled} throttled calls: {r.binding.get('throttled_actions')}): the "
            "client buckets did not keep the operator under the server's limits."
        )
    else:
        lines.append("- **Throttling**: met; the client buckets keep every API under the server's limit.")
    if follow["total"] > 8:
        lines.append(
            f"- **Calls per Auto/Follow lifecycle** ({fmt(follow['total'], '', 1)}, {_ok(False)}): six calls "
            "are needed (Allocate, DescribeNetworkInterfaces, Associate, Unassociate, Release and one look "
            "at the end of Associating); the operator also looks right before unbinding (a fresh "
            "observation before Unassociate, docs/reliability.md R6) and once after Unassociate, which makes "
            "8. The "
            f"rest of the {fmt(describes, '', 1)} DescribeEipAddresses per pod are second looks during "
            "Associating: the first look is aimed at the learnt transition time, and the estimate shrinks "
            "by 10% whenever a first look finds the state settled, so it hovers just under the real delay "
            "and a share of first looks comes a moment too early. Aiming the first look slightly after "
            "the estimate (for example 1.15×, or the estimate plus the typical call latency) closes it."
        )
    else:
        lines.append(f"- **Calls per lifecycle**: met ({fmt(follow['total'], '', 1)} ≤ 8).")
    if peak <= 200:
        lines.append(f"- **Memory**: met ({fmt(peak, ' MiB', 0)} ≤ 200 MiB, the larger of both processes).")
    else:
        lines.append(
            f"- **Memory** ({fmt(peak, ' MiB', 0)}, {_ok(False)}; first process "
            f"{fmt(mem['hwm'], ' MiB', 0)}, restarted one {fmt(rec.get('hwm', math.nan), ' MiB', 0)}): "
            "the process that saw the pods arrive one by one stays under the target; the restarted one "
            "receives all of them at once from kopf's start-up listing, works through them at its "
            "Kubernetes budget, and peaks higher. Not yet profiled (tracemalloc over a restart would "
            "tell); the likely lever is keeping pods without EIP out of the operator: every pod of the "
            "cluster goes through kopf's pod watch and its per-object processing, and a label selector on "
            "that watch (the annotation cannot be selected on; a label set by the admission policy can) "
            "would leave only the EIP pods."
        )
    lines.append(
        f"- **At rest and after a restart** (no target): with {count} PodEIPs the operator makes "
        f"{fmt(mem['steady_requests_per_min'], '', 0)} Kubernetes requests per minute (its whole "
        f"{qps * 60:.0f}/min budget) and {fmt(mem['steady_calls_per_min'], '', 0)} cloud calls per minute "
        "while nothing changes: every GC period the resync enqueues every PodEIP, each pass GETs the pod "
        "and the PodEIP and refreshes `podLastSeen`, and the pass over all of them takes longer than the "
        "period, so the queue never empties and new pods wait behind the resync. Recovery after a restart "
        f"({fmt(rec['seconds'], ' s', 0)}) is bound by the same budget: {rec['kube_requests']:.0f} requests "
        f"at {qps:.0f}/s. Serving the resync from the watch (kopf already receives every PodEIP and pod), "
        "writing `podLastSeen` only for TTL/Never PodEIPs or less often, and letting a GC listing stand "
        "in for a Describe until the next listing would bring both down."
    )
    return lines
