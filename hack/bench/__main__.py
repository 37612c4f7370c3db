"""``make bench``: how fast, how frugal and how light the operator is, measured in one run.

Why a script and not a test: the numbers depend on the machine and on the simulated cloud's
latency, so nothing here asserts a time; it measures and writes BENCHMARKS.md, with the
targets shown as ratios and a short explanation where one is missed.

What runs: the local control plane (tests/testbed/cluster.py, with 32 kwok nodes whose pod
CIDRs come from the RFC 2544 benchmarking range 198.18.0.0/19, never contacted), the simulated
Alibaba cloud behind its HTTP front in this process (per-call latency, async transitions and
Alibaba's published per-API limits, all configurable), and ``podeip run`` as a subprocess that
talks to it through the official SDK, exactly as a user runs it. Timings are taken on the
client side from a pod watch (wall clock, sub-second), call counts from the simulator's call
log, Kubernetes requests (reads and writes) from the operator's ``/metrics``, memory and CPU from ``/proc``.

    make bench
    make bench-scale                                                      # the scale scenarios only
    PYTHONPATH=hack:tests .venv/bin/python -m bench [--quick] [--only lifecycle,at-rest,burst,memory,scale]
        [--gc-period MINUTES] [--latency 50ms-200ms] [--transition-delay 2s] [--save-before]
    PYTHONPATH=hack:tests .venv/bin/python -m bench --start-memory 5000   # memory at start-up only
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.harness import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    NODES,
    POD_NETWORK,
    REPO,
    WORKDIR,
    Operator,
    _crd,
    _wait_crd,
    engine_config,
    operator_env,
)
from bench.report import DEFAULT_ONLY, Results, before_of, report, save_before
from bench.scenarios import Bench, scenarios, start_memory
from podeip.simulator.engine import Engine
from podeip.simulator.server import parse_latency, parse_seconds, start_in_thread
from testbed.cluster import ControlPlane, free_port

SCENARIOS = ("lifecycle", "at-rest", "burst", "memory", "scale")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1/20/50 pods and 500 plain pods (a smoke run)")
    parser.add_argument(
        "--only",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=list(DEFAULT_ONLY),
        help=f"comma-separated scenarios of {', '.join(SCENARIOS)} (default: all but scale; "
        "`make bench-scale` runs scale)",
    )
    parser.add_argument(
        "--gc-period", type=float, help="PODEIP_GC__PERIOD_MINUTES for the run (1; --quick 0.25)"
    )
    parser.add_argument("--singles", type=int, help="single pods, one at a time (5; --quick 2)")
    parser.add_argument(
        "--latency", type=parse_latency, default=(0.05, 0.2), help="per cloud call (50ms-200ms)"
    )
    parser.add_argument(
        "--transition-delay", type=parse_seconds, default=2.0, help="Associating → InUse (2s)"
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument(
        "--from-results", type=Path, help="a results.json of an earlier run: only write the report"
    )
    parser.add_argument(
        "--save-before",
        action="store_true",
        help="also keep this run's figures as the before columns (hack/bench/before.json)",
    )
    parser.add_argument(
        "--no-before", action="store_true", help="no before columns (ignore hack/bench/before.json)"
    )
    parser.add_argument("--scale-plain", type=int, default=20000, help="bench-scale: plain pods (20,000)")
    parser.add_argument(
        "--scale-eip", type=int, default=2000, help="bench-scale: EIP pods among them (2,000)"
    )
    parser.add_argument(
        "--scale-at-rest", type=int, default=5000, help="bench-scale: PodEIPs at rest and restarted (5,000)"
    )
    parser.add_argument(
        "--scale-churn",
        type=int,
        default=100,
        help="bench-scale: pods deleted and created while the operator is down, then a restart (100)",
    )
    parser.add_argument(
        "--start-memory",
        type=int,
        metavar="N",
        help="only this: N pods without EIP, then the operator started among them, with kopf's "
        "defaults and with ours, alternately (peak RSS; writes start-memory.json, not BENCHMARKS.md)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --start-memory (2)")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(
            f"--only: unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}"
        )
    args.counts = (1, 20, 50) if args.quick else (1, 100, 500)
    args.plain = 500 if args.quick else 5000
    args.lifecycle_pods = 5 if args.quick else 10
    if args.gc_period is None:
        args.gc_period = 0.25 if args.quick else 1.0
    if args.singles is None:
        args.singles = 2 if args.quick else 5
    if args.quick:
        args.scale_plain, args.scale_eip, args.scale_at_rest = (
            min(args.scale_plain, 1000),
            min(args.scale_eip, 100),
            min(args.scale_at_rest, 200),
        )
        args.scale_churn = min(args.scale_churn, 20)
    before = None if args.no_before else before_of()
    if args.from_results:  # render BENCHMARKS.md again from a run's saved numbers
        results = Results.load(json.loads(args.from_results.read_text()))
        args.output.write_text(report(args, results, engine_config(args), NODES, before))
        if args.save_before:
            save_before(results)
        return 0
    if WORKDIR.exists():
        shutil.rmtree(WORKDIR)
    WORKDIR.mkdir(parents=True)
    begun = time.monotonic()
    plane = ControlPlane(workdir=WORKDIR / "cluster", nodes=NODES, pod_network=POD_NETWORK)
    plane.start()
    engine = Engine(engine_config(args))
    simulator = start_in_thread(engine, credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
    port = free_port()
    env = operator_env(plane, simulator.url, engine, port, gc_period=args.gc_period)
    operator = Operator(env, WORKDIR / "operator.log", port)
    try:
        plane.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", _crd())
        _wait_crd(plane)
        if args.start_memory is not None:
            bench = Bench(args, plane, engine, operator)
            asyncio.run(start_memory(bench, plane))
            return 0
        operator.start()
        bench = Bench(args, plane, engine, operator)
        bench.results.only = list(args.only)
        asyncio.run(scenarios(bench, plane))
        bench.results.durations["total"] = time.monotonic() - begun
        (WORKDIR / "results.json").write_text(json.dumps(dataclasses.asdict(bench.results), indent=1))
        args.output.write_text(report(args, bench.results, engine.config, plane.nodes, before))
        if args.save_before:
            save_before(bench.results)
        print(f"[bench] wrote {args.output} in {bench.results.durations['total'] / 60:.1f} min", flush=True)
    finally:
        with (WORKDIR / "calls.jsonl").open("w") as log:  # for a closer look at a run
            log.writelines(json.dumps(dataclasses.asdict(call)) + "\n" for call in engine.call_log())
        operator.stop()
        simulator.stop()
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
