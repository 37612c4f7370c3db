"""The scenarios of one run: bursts, lifecycles, memory with many pods, restart recovery."""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.harness import CLUSTER_ID, WORKDIR, Kube, Operator, PodWatch, pod_body, statefulset_body
from bench.measure import (
    ASSOCIATE,
    _podeip_gets,
    first_poll_gaps,
    metric_sums,
    percentile,
    rate_per_minute,
    statistics_median,
)
from bench.report import Results
from podeip import constants as c
from podeip.cloud.alibaba.openapi import wire
from podeip.settings import default_rate_limits
from podeip.simulator.engine import Engine
from podeip.simulator.state import CallRecord
from testbed.cluster import ControlPlane


class Bench:
    def __init__(
        self, args: argparse.Namespace, plane: ControlPlane, engine: Engine, operator: Operator
    ) -> None:
        self.args, self.plane, self.engine, self.operator = args, plane, engine, operator
        self.nodes = list(plane.fake_nodes())
        self.results = Results()
        self._serial = 0

    def node(self) -> str:
        self._serial += 1
        return self.nodes[self._serial % len(self.nodes)]

    def calls_of(self, keys: set[str], since: float) -> list[CallRecord]:
        """Calls made for these pods: any parameter or allocation ID names one of ``keys``."""
        return [
            call
            for call in self.engine.call_log()
            if call.started >= since
            and (call.allocation_id in keys or keys.intersection(call.params.values()))
        ]

    def keys_of(self, namespace: str, since: float, watch: PodWatch) -> set[str]:
        """Namespace, pod IPs, and the PodEIP UIDs and allocation IDs its Allocate calls name."""
        keys = {namespace} | {seen.pod_ip for seen in watch.pods.values() if seen.pod_ip}
        for call in self.engine.call_log(action="AllocateEipAddress"):
            if call.started >= since and namespace in call.params.values():
                keys |= {v for k, v in call.params.items() if k.startswith("Tag.") and k.endswith("Value")}
                keys.add(call.allocation_id)
        keys.discard(CLUSTER_ID)
        keys.discard(c.MANAGED_BY)
        keys.discard("")
        return keys

    async def burst(self, kube: Kube, count: int) -> PodWatch:
        """``count`` EIP pods created at once; time from pod IP to gate True, and the floor."""
        namespace = await kube.namespace(f"burst-{count}")
        watch = PodWatch(kube, namespace)
        watch.start()
        since = time.time()
        names = [f"p{i:04d}" for i in range(count)]
        await kube.create_many(
            f"/api/v1/namespaces/{namespace}/pods", [pod_body(n, self.node(), eip=True) for n in names]
        )
        await watch.until(
            lambda: sum(s.ready is not None for s in watch.live()) >= count,
            limit=1800,
            what=f"{count} pods ready",
        )
        done = time.time()
        seen = watch.live()
        to_eip = [s.ready - s.ip for s in seen if s.ready and s.ip]
        from_create = [s.ready - since for s in seen if s.ready]
        floors = self.floors(namespace, since, watch)
        calls = self.calls_of(self.keys_of(namespace, since, watch), since)
        throttled = [x for x in self.engine.call_log() if x.started >= since and "Throttling" in x.result]
        floor = statistics_median(list(floors.values()))
        # The median pod waits for its Allocate and Associate tokens behind the pods before it.
        limit = default_rate_limits()[ASSOCIATE]
        queued = max(0, math.ceil(count / 2) - limit.burst) * 60 / self.results.client_limits[ASSOCIATE]
        self.results.bursts[count] = {
            "p50": percentile(to_eip, 50),
            "p99": percentile(to_eip, 99),
            "create_p50": percentile(from_create, 50),
            "floor": floor,
            "ratio": percentile(to_eip, 50) / floor if floor else math.nan,
            "limited_floor": floor + queued,
            "wall": done - since,
            "calls_per_pod": len(calls) / count,
            "throttled": len(throttled),
        }
        self.results.bursts[count]["poll_gap"] = percentile(first_poll_gaps(calls), 50)
        if count == self.args.counts[-1]:
            stamps = [x.started for x in calls if x.action == ASSOCIATE]
            self.results.binding = {
                "pods": count,
                "rate": rate_per_minute(stamps),
                "calls": len(stamps),
                "throttled": len(throttled),
                "throttled_actions": ", ".join(sorted({x.action for x in throttled})) or "none",
            }
        return watch

    def floors(self, namespace: str, since: float, watch: PodWatch) -> dict[str, float]:
        """Per pod: latencies of its first OK Allocate, DescribeNetworkInterfaces and Associate, plus
        the Associating → InUse delay."""
        by_pod: dict[str, dict[str, float]] = collections.defaultdict(dict)
        owner: dict[str, str] = {}  # allocation ID or pod IP → pod name
        for call in self.engine.call_log(action="AllocateEipAddress"):
            if call.ok and call.started >= since and namespace in call.params.values():
                tags = {tag["Key"]: tag.get("Value", "") for tag in wire.flat_items(call.params, "Tag")}
                name = owner[call.allocation_id] = tags[c.TAG_POD_NAME]
                by_pod[name].setdefault(call.action, call.latency)
        owner |= {s.pod_ip: s.name for s in watch.pods.values() if s.pod_ip}
        for call in self.engine.call_log():
            if call.ok and call.started >= since and call.action in ("DescribeNetworkInterfaces", ASSOCIATE):
                key = (
                    call.allocation_id
                    if call.action == ASSOCIATE
                    else call.params.get("PrivateIpAddress.1", "")
                )
                if key in owner:
                    by_pod[owner[key]].setdefault(call.action, call.latency)
        delay = self.engine.config.transition_delay
        return {name: sum(parts.values()) + delay for name, parts in by_pod.items() if len(parts) == 3}

    async def drain(
        self, kube: Kube, namespace: str, watch: PodWatch | None = None, *, limit: float = 900
    ) -> None:
        """Delete a namespace's pods and wait until its PodEIPs are gone and its EIPs released."""
        await kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods", None)
        podeips = f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}"
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            left = (await kube.call("GET", podeips))["items"]
            eips = [e for e in self.engine.eips() if e.tags.get(c.TAG_NAMESPACE) == namespace]
            if not left and not eips:
                return
            await asyncio.sleep(1)
        raise TimeoutError(f"{namespace}: PodEIPs or EIPs left after {limit:.0f}s")

    async def lifecycle_follow(self, kube: Kube, count: int) -> None:
        """Auto + Follow: pods created, bound, deleted, EIPs released. Calls and writes per pod."""
        namespace = await kube.namespace("life-follow")
        watch = PodWatch(kube, namespace)
        watch.start()
        before, since = self.operator.kube_writes(), time.time()
        names = [f"f{i:02d}" for i in range(count)]
        await kube.create_many(
            f"/api/v1/namespaces/{namespace}/pods", [pod_body(n, self.node(), eip=True) for n in names]
        )
        await watch.until(
            lambda: sum(s.ready is not None for s in watch.live()) >= count, limit=600, what="ready"
        )
        await self.drain(kube, namespace, watch)
        await asyncio.sleep(3)  # the last Release settles; the final status writes land
        self.record_lifecycle(
            "Auto, Follow: create → bound → delete → released", namespace, since, watch, before, count
        )
        await watch.stop()

    async def lifecycle_ttl(self, kube: Kube, count: int) -> None:
        """StatefulSet pods with a 10m TTL, deleted and recreated: calls and writes of the reuse."""
        namespace = await kube.namespace("life-ttl")
        watch = PodWatch(kube, namespace)
        watch.start()
        before, since = self.operator.kube_writes(), time.time()
        await kube.call(
            "POST", f"/apis/apps/v1/namespaces/{namespace}/statefulsets", statefulset_body("db", count, "10m")
        )
        await watch.until(
            lambda: sum(s.ready is not None for s in watch.live()) >= count, limit=600, what="ready"
        )
        await asyncio.sleep(2)
        self.record_lifecycle("StatefulSet, TTL 10m: create → bound", namespace, since, watch, before, count)
        first = {s.name: (s.created, s.address) for s in watch.live()}
        before, since = self.operator.kube_writes(), time.time()
        await kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods", None)

        def reborn() -> bool:
            fresh = [s for s in watch.live() if s.created > first[s.name][0] and s.ready]
            return len(fresh) >= count

        await watch.until(reborn, limit=600, what="recreated pods ready")
        await asyncio.sleep(2)
        kept = sum(s.address == first[s.name][1] for s in watch.live())
        label = f"StatefulSet, TTL 10m: pod deleted and recreated → same EIP ({kept}/{count} kept)"
        self.record_lifecycle(label, namespace, since, watch, before, count)
        await kube.call("DELETE", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/db", None)
        await kube.call("DELETE", f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}", None)
        await self.drain(kube, namespace, watch)
        await watch.stop()

    def record_lifecycle(
        self, label: str, namespace: str, since: float, watch: PodWatch, before: dict[str, float], count: int
    ) -> None:
        keys = self.keys_of(namespace, since - 600, watch)
        calls = self.calls_of(keys, since)
        after = self.operator.kube_writes()
        writes = {r: (after.get(r, 0) - before.get(r, 0)) / count for r in after}
        self.results.lifecycles[label] = {
            "calls": dict(collections.Counter(call.action for call in calls)),
            "total": len(calls) / count,
            "count": count,
            "writes": {r: w for r, w in writes.items() if w},
        }

    async def plain_pods(self, kube: Kube, count: int, *, tick: Callable[[], None] = lambda: None) -> None:
        """``count`` pods without EIP in namespace ``plain``, each waited for until it has an IP;
        ``tick`` runs every second meanwhile."""
        namespace = await kube.namespace("plain")
        watch = PodWatch(kube, namespace)
        watch.start()
        started = time.time()
        creating = asyncio.create_task(
            kube.create_many(
                f"/api/v1/namespaces/{namespace}/pods",
                [pod_body(f"x{i:05d}", self.node(), eip=False) for i in range(count)],
            )
        )
        while not creating.done() or sum(s.ip is not None for s in watch.pods.values()) < count:
            tick()
            await asyncio.sleep(1)
            if time.time() - started > 1800:
                raise TimeoutError("plain pods not running after 30 min")
        await creating
        await watch.stop()

    async def memory_run(self, kube: Kube, plain: int) -> None:
        """``plain`` pods without EIP next to the EIP pods: the operator's RSS and CPU."""
        _, _, cpu0 = self.operator.proc()
        started = time.time()
        peak_rss = 0.0

        def sample() -> None:
            nonlocal peak_rss
            peak_rss = max(peak_rss, self.operator.proc()[0])

        await self.plain_pods(kube, plain, tick=sample)
        created = time.time()
        _, _, cpu1 = self.operator.proc()
        # Steady state: every pod exists; one GC period passes.
        requests0, calls0 = self.operator.kube_requests(), len(self.engine.call_log())
        await asyncio.sleep(self.args.steady)
        rss, hwm, cpu2 = self.operator.proc()
        requests1, calls1 = self.operator.kube_requests(), len(self.engine.call_log())
        self.results.memory = {
            "plain": plain,
            "rss": max(peak_rss, rss),
            "hwm": hwm,
            "create_seconds": created - started,
            "create_cpu": cpu1 - cpu0,
            "steady_cpu_pct": (cpu2 - cpu1) / self.args.steady * 100,
            "steady_seconds": self.args.steady,
            "steady_requests_per_min": (requests1 - requests0) / self.args.steady * 60,
            "steady_calls_per_min": (calls1 - calls0) / self.args.steady * 60,
        }

    async def start_memory(
        self, variants: dict[str, dict[str, str]], *, window: float, rounds: int
    ) -> dict[str, list[dict[str, float]]]:
        """A (re)start among the pods already there: the new process lists them all at once. Per
        variant of the operator's environment (alternated over ``rounds``): its peak RSS (VmHWM)
        and RSS ``window`` seconds after it is healthy, and the CPU spent."""
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, env in variants.items():
                self.operator.start(**env)
                await asyncio.sleep(window)
                rss, hwm, cpu = self.operator.proc()
                self.operator.stop()
                figures[name].append({"hwm": hwm, "rss": rss, "cpu": cpu})
                print(f"[bench] start among pods, {name}: VmHWM {hwm:.0f} MiB, RSS {rss:.0f} MiB", flush=True)
        return figures

    async def restart(self, kube: Kube, watch: PodWatch, count: int) -> None:
        """Kill the operator and start it again. Recovered: the new process has read every PodEIP once
        (``count`` GETs of PodEIPs: the start-up listing enqueues them all at once and the queue serves
        them in order) and the burst pods still show their addresses. Then: whether it goes quiet."""
        quiet, cap = 10.0, 120.0
        self.operator.kill()
        killed = time.time()
        started = self.operator.start_timed()
        recovered = None
        last_change, last_total = time.time(), -1.0
        while True:
            metrics = self.operator.metrics()
            gets = metric_sums(metrics, c.METRIC_KUBE_REQUESTS, _podeip_gets).get(c.PLURAL, 0.0)
            total = sum(metric_sums(metrics, c.METRIC_KUBE_REQUESTS, lambda _: True).values())
            total += len(self.engine.call_log())
            now = time.time()
            if recovered is None and gets >= count:
                recovered = now
                requests_then = self.operator.kube_requests()
            if total != last_total:
                last_change, last_total = now, total
            elif recovered is not None and now - last_change >= quiet:
                break
            if recovered is not None and now - recovered > cap:
                break
            await asyncio.sleep(0.5)
        assert recovered is not None
        rss, hwm, _ = self.operator.proc()
        calls = [x for x in self.engine.call_log() if started <= x.started <= recovered]
        path = f"/api/v1/namespaces/{watch.namespace}/pods"
        pods = (await kube.call("GET", path))["items"]
        showing = sum(
            bool((p["metadata"].get("annotations") or {}).get(c.ALLOCATED_EIP_ADDRESS_KEYS[0]))
            and any(
                x["type"] == c.READINESS_GATE and x["status"] == "True"
                for x in p["status"].get("conditions", [])
            )
            for p in pods
        )
        self.results.recovery = {
            "seconds": recovered - started,
            "quiet": last_change - started if time.time() - last_change >= quiet else math.nan,
            "cap": cap,
            "down": started - killed,
            "pods": count,
            "showing": showing,
            "cloud_calls": len(calls),
            "calls": dict(collections.Counter(x.action for x in calls)),
            "kube_requests": requests_then,
            "rss": rss,
            "hwm": hwm,
        }


async def scenarios(bench: Bench, plane: ControlPlane) -> None:
    args = bench.args
    small, medium, large = args.counts
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        kube = Kube(plane, session)

        async def phase(name: str, step: Any) -> Any:
            print(f"[bench] {name} …", flush=True)
            started = time.monotonic()
            value = await step
            bench.results.durations[name] = time.monotonic() - started
            (WORKDIR / "results.json").write_text(json.dumps(dataclasses.asdict(bench.results), indent=1))
            print(f"[bench] {name}: {bench.results.durations[name]:.0f}s", flush=True)
            return value

        for count in (small, medium):
            watch = await phase(f"burst of {count}", bench.burst(kube, count))
            await phase(f"drain {count}", bench.drain(kube, watch.namespace))
            await watch.stop()
        await phase("lifecycle Follow", bench.lifecycle_follow(kube, args.lifecycle_pods))
        await phase("lifecycle TTL reuse", bench.lifecycle_ttl(kube, args.lifecycle_pods))
        await asyncio.sleep(6)  # Allocate/Associate buckets refill before the large burst
        watch = await phase(f"burst of {large}", bench.burst(kube, large))
        await phase(f"{args.plain} pods without EIP", bench.memory_run(kube, args.plain))
        await phase("restart recovery", bench.restart(kube, watch, large))
        await watch.stop()


#: The operator's environment with kopf's own watch defaults (an unpaged start-up listing, workers
#: kept 5 s after their last event: the code before ``Settings.watch``), and with ours.
START_MEMORY_VARIANTS = {
    "kopf's defaults": {"PODEIP_WATCH__LIST_CHUNK_SIZE": "0", "PODEIP_WATCH__WORKER_IDLE_SECONDS": "5"},
    "podeip's defaults": {},
}


async def start_memory(bench: Bench, plane: ControlPlane, *, window: float = 45.0) -> None:
    """``bench --start-memory N``: N pods without EIP, then the operator's peak RSS at start-up."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        kube = Kube(plane, session)
        started = time.monotonic()
        await bench.plain_pods(kube, bench.args.start_memory)
        seeded = time.monotonic()
        figures = await bench.start_memory(START_MEMORY_VARIANTS, window=window, rounds=bench.args.rounds)
    summary = {
        "commit": bench.results.commit,
        "plain": bench.args.start_memory,
        "window_seconds": window,
        "seed_seconds": seeded - started,
        "variants": {name: START_MEMORY_VARIANTS[name] for name in figures},
        "figures": figures,
    }
    (WORKDIR / "start-memory.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1), flush=True)
