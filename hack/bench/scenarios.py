"""The scenarios of one run: single pods, bursts with their lifecycles, at rest, memory with many
pods, restarts; ``scale`` ones under ``make bench-scale``. Each one only measures; the report
compares. Every scenario works on any version of the operator: it reads the simulator's call log,
the operator's ``/metrics`` (``podeip_kube_api_requests_total``) and a client-side pod watch."""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.harness import CLUSTER_ID, WORKDIR, Kube, Operator, PodWatch, pod_body, statefulset_body
from bench.measure import (
    ASSOCIATE,
    _podeip_gets,
    attribute,
    audit,
    counts_diff,
    first_poll_gaps,
    gc_passes,
    is_listing,
    kube_counts,
    metric_sums,
    one_pod_latency,
    owners,
    percentile,
    pods_served,
    rate_per_minute,
    split_lease,
    statistics_median,
)
from bench.report import Results
from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile.looks import FRESH
from podeip.settings import RateLimit, default_rate_limits
from podeip.simulator.engine import Engine
from podeip.simulator.state import CallRecord
from testbed.cluster import ControlPlane

#: Generous limits for seeding a large population fast (the restart with the defaults that
#: follows is itself measured): the operator's Kubernetes client, workers and cloud buckets, and
#: the simulator's server-side limits, latency (5–20 ms) and transitions (0.2 s), for the
#: seeding only.
SEED_PER_MINUTE = 1200
SEED_ENV = {
    "PODEIP_KUBE_CLIENT_QPS": "200",
    "PODEIP_KUBE_CLIENT_BURST": "400",
    "PODEIP_MAX_CONCURRENT_RECONCILES": "50",
    "PODEIP_CLOUD__RATE_LIMITS": json.dumps(
        {api: {"per_minute": SEED_PER_MINUTE, "burst": 100} for api in default_rate_limits()}
    ),
}
#: How long a new pod may take while N PodEIPs are at rest before the probe gives up.
PROBE_LIMIT = 180.0


class Bench:
    def __init__(
        self, args: argparse.Namespace, plane: ControlPlane, engine: Engine, operator: Operator
    ) -> None:
        self.args, self.plane, self.engine, self.operator = args, plane, engine, operator
        self.nodes = list(plane.fake_nodes())
        self.results = Results(gc_period_minutes=args.gc_period)
        self._serial = 0
        self.seed_hwm = 0.0  # VmHWM of the last seeding process

    def node(self) -> str:
        self._serial += 1
        return self.nodes[self._serial % len(self.nodes)]

    def kube(self) -> dict[str, float]:
        """The operator's Kubernetes requests so far, by ``"verb resource"``."""
        return kube_counts(self.operator.metrics())

    def calls_between(self, since: float, until: float = math.inf) -> list[CallRecord]:
        return [x for x in self.engine.call_log() if since <= x.started < until]

    # ---- binding -------------------------------------------------------------------------------
    async def bind(self, kube: Kube, watch: PodWatch, names: list[str], *, limit: float = 1800) -> float:
        """Create these EIP pods at once (20 in flight) and wait until each shows a True gate."""
        await kube.create_many(
            f"/api/v1/namespaces/{watch.namespace}/pods", [pod_body(n, self.node(), eip=True) for n in names]
        )
        wanted = set(names)
        await watch.until(
            lambda: sum(s.ready is not None for s in watch.live(wanted)) >= len(wanted),
            limit=limit,
            what=f"{len(wanted)} pods ready",
        )
        return time.time()

    def latencies(self, namespace: str, since: float, watch: PodWatch) -> dict[str, float]:
        """L₁ per pod: its first OK Allocate, DescribeNetworkInterfaces and Associate (a batched
        call's latency counts for each pod it served) and the Associating → InUse delay."""
        calls = self.calls_between(since)
        owner = owners(calls, namespace, {s.pod_ip: s.name for s in watch.pods.values() if s.pod_ip})
        parts: dict[str, dict[str, float]] = collections.defaultdict(dict)
        for call in calls:
            if call.ok and call.action in ("AllocateEipAddress", "DescribeNetworkInterfaces", ASSOCIATE):
                for pod in pods_served(call, owner, namespace):
                    parts[pod].setdefault(call.action, call.latency)
        delay = self.engine.config.transition_delay
        return {pod: one_pod_latency(p, delay) for pod, p in parts.items() if len(p) == 3}

    def record_burst(self, count: int, watch: PodWatch, since: float, done: float) -> None:
        seen = watch.live()
        to_eip = [s.ready - s.ip for s in seen if s.ready and s.ip]
        ready = [s.ready for s in seen if s.ready]
        calls = self.calls_between(since, done + 1)
        throttled = [x for x in calls if "Throttling" in x.result]
        associates = [x.started for x in calls if x.action == ASSOCIATE and x.ok]
        self.results.bursts[count] = {
            "p50": percentile(to_eip, 50),
            "p99": percentile(to_eip, 99),
            "create_p50": percentile([r - since for r in ready], 50),
            "l1": statistics_median(list(self.latencies(watch.namespace, since, watch).values())),
            "wall": done - since,
            "gates_per_min": rate_per_minute(ready),  # first to last gate (report: bound_per_min)
            "associates_per_min": rate_per_minute(associates),
            "poll_gap": percentile(first_poll_gaps(calls), 50),
            "throttled": len(throttled),
            "throttled_actions": ", ".join(sorted({x.action for x in throttled})) or "none",  # type: ignore[dict-item]
        }

    async def drain(self, kube: Kube, namespace: str, *, limit: float = 900) -> None:
        """Delete a namespace's pods and wait until its PodEIPs are gone and its EIPs released."""
        await kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods", None)
        podeips = f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}"
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            left = (await kube.call("GET", podeips))["items"]
            eips = [e for e in self.engine.eips() if e.tags.get(c.TAG_NAMESPACE) == namespace]
            if not left and not eips:
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"{namespace}: PodEIPs or EIPs left after {limit:.0f}s")

    def record_lifecycle(
        self,
        label: str,
        namespace: str,
        count: int,
        windows: list[tuple[float, float]],
        kube: list[tuple[dict[str, float], dict[str, float]]],
        watch: PodWatch,
        *,
        bind_kube: dict[str, float] | None = None,
    ) -> None:
        """Cloud calls (batched ones 1/k per pod) and Kubernetes requests (by verb and resource,
        the Lease apart) per pod over the lifecycle's windows (the time at rest in between excluded)."""
        calls = [x for since, until in windows for x in self.calls_between(since, until)]
        # Owners from the whole call log: a reused EIP was allocated before the window.
        owner = owners(
            self.engine.call_log(),
            namespace,
            {s.pod_ip: s.name for s in watch.pods.values() if s.pod_ip},
        )
        split = attribute(calls, owner, namespace)
        total: dict[str, float] = collections.Counter()
        for before, after in kube:
            total.update(counts_diff(after, before, per=count))
        work, lease = split_lease(dict(total))
        self.results.lifecycles[label] = {
            "count": count,
            "calls": split.by_action(count),
            "total": sum(split.by_action(count).values()),
            "shared": split.shared,
            "batched": {a: list(v) for a, v in split.batched.items()},
            "kube": work,
            "lease": lease,
            "kube_bind": split_lease(bind_kube)[0] if bind_kube is not None else {},
        }

    async def singles(self, kube: Kube, runs: int) -> None:
        """One pod at a time, ``runs`` times: create → bound → delete → released. Time to EIP
        against L₁, and the whole lifecycle's cloud calls and Kubernetes requests per pod."""
        namespace = await kube.namespace("single")
        watch = PodWatch(kube, namespace)
        watch.start()
        await asyncio.sleep(0.5)
        before, since = self.kube(), time.time()
        for i in range(runs):
            await self.bind(kube, watch, [f"s{i}"], limit=300)
            # A pod lives longer than R6's freshness (``looks.FRESH``): deleted at once, its
            # bind's last look would serve as the fresh look before the Unassociate, one
            # Describe fewer than a real pod costs.
            await asyncio.sleep(FRESH + 1.0)
            await self.drain(kube, namespace)
        await asyncio.sleep(2)  # the last Release's final writes land
        after, until = self.kube(), time.time()
        seen = watch.live()
        to_eip = [s.ready - s.ip for s in seen if s.ready and s.ip]
        l1 = self.latencies(namespace, since, watch)
        ratios = [(s.ready - s.ip) / l1[s.name] for s in seen if s.ready and s.ip and s.name in l1]
        self.results.singles = {
            "runs": runs,
            "p50": percentile(to_eip, 50),
            "max": max(to_eip, default=math.nan),
            "l1": statistics_median(list(l1.values())),
            "ratio": statistics_median(ratios),
            "poll_gap": percentile(first_poll_gaps(self.calls_between(since, until)), 50),
        }
        self.record_lifecycle(
            "Auto, Follow, one pod alone", namespace, runs, [(since, until)], [(before, after)], watch
        )
        await watch.stop()

    async def burst_lifecycle(
        self, kube: Kube, count: int, *, hold: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        """``count`` pods at once: bound (the burst's timings), optionally held at rest (``hold``),
        then all deleted and released. The lifecycle's calls and requests exclude the hold."""
        namespace = await kube.namespace(f"burst-{count}")
        watch = PodWatch(kube, namespace)
        watch.start()
        await asyncio.sleep(0.5)
        k0, t0 = self.kube(), time.time()
        done = await self.bind(kube, watch, [f"p{i:04d}" for i in range(count)])
        self.record_burst(count, watch, t0, done)
        await asyncio.sleep(3)  # trailing writes of the last binds
        k1, t1 = self.kube(), time.time()
        if hold is not None:
            await hold(namespace)
        k2, t2 = self.kube(), time.time()
        await self.drain(kube, namespace)
        await asyncio.sleep(3)
        k3, t3 = self.kube(), time.time()
        self.record_lifecycle(
            f"Auto, Follow, {count}-pod burst",
            namespace,
            count,
            [(t0, t1), (t2, t3)],
            [(k0, k1), (k2, k3)],
            watch,
            bind_kube=counts_diff(k1, k0, per=count),
        )
        await watch.stop()

    async def burst(self, kube: Kube, count: int) -> str:
        """``count`` pods at once, kept bound afterwards (at rest, memory and restart use them)."""
        namespace = await kube.namespace(f"burst-{count}")
        watch = PodWatch(kube, namespace)
        watch.start()
        await asyncio.sleep(0.5)
        k0, t0 = self.kube(), time.time()
        done = await self.bind(kube, watch, [f"p{i:04d}" for i in range(count)])
        self.record_burst(count, watch, t0, done)
        self.results.bursts[count]["kube_bind"] = split_lease(counts_diff(self.kube(), k0, per=count))[0]  # type: ignore[assignment]
        await watch.stop()
        return namespace

    async def lifecycle_ttl(self, kube: Kube, count: int) -> None:
        """StatefulSet pods with a 10m TTL, deleted and recreated: the same EIP comes back."""
        namespace = await kube.namespace("life-ttl")
        watch = PodWatch(kube, namespace)
        watch.start()
        await kube.call(
            "POST", f"/apis/apps/v1/namespaces/{namespace}/statefulsets", statefulset_body("db", count, "10m")
        )
        await watch.until(
            lambda: sum(s.ready is not None for s in watch.live()) >= count, limit=600, what="ready"
        )
        await asyncio.sleep(2)
        first = {s.name: (s.created, s.address) for s in watch.live()}
        before, since = self.kube(), time.time()
        await kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods", None)

        def reborn() -> bool:
            return sum(s.created > first[s.name][0] and s.ready is not None for s in watch.live()) >= count

        await watch.until(reborn, limit=600, what="recreated pods ready")
        await asyncio.sleep(2)
        kept = sum(s.address == first[s.name][1] for s in watch.live())
        label = "StatefulSet, TTL 10m: pod deleted and recreated → same EIP"
        self.record_lifecycle(label, namespace, count, [(since, time.time())], [(before, self.kube())], watch)
        self.results.lifecycles[label]["kept"] = kept
        await kube.call("DELETE", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/db", None)
        await kube.call("DELETE", f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}", None)
        await self.drain(kube, namespace)
        await watch.stop()

    # ---- populations, at rest, restart ----------------------------------------------------------
    async def seed(self, kube: Kube, namespace: str, first: int, count: int) -> float:
        """Pods ``first`` … ``count − 1`` of ``namespace`` bound with generous limits everywhere
        (a large population in little time), then the operator restarted with the defaults;
        returns the seeding's seconds. The restart after it is measured by the caller."""
        started = time.time()
        cfg = self.engine.config
        default_limits, latency, delay = cfg.rate_limits, cfg.latency, cfg.transition_delay
        self.engine.with_config(
            rate_limits={a: RateLimit(per_minute=SEED_PER_MINUTE * 2, burst=200) for a in default_limits},
            latency=(0.005, 0.02),
            transition_delay=0.2,
        )
        self.operator.stop()
        self.operator.start(**SEED_ENV)
        watch = PodWatch(kube, namespace)
        watch.start()
        await asyncio.sleep(0.5)
        await self.bind(kube, watch, [f"p{i:04d}" for i in range(first, count)], limit=3600)
        await watch.stop()
        self.engine.with_config(rate_limits=default_limits, latency=latency, transition_delay=delay)
        self.seed_hwm = self.operator.proc()[1]
        self.operator.stop()
        return time.time() - started

    async def restart(self, count: int, *, label: str, kill: bool = True, cap: float = 180.0) -> None:
        """Stop the operator (SIGKILL unless ``kill`` is false) and start it with the defaults.
        Recovered, the earlier of: it has read every PodEIP once (``count`` GETs of PodEIPs, what
        a pass costs when it reads from the API server), or it went quiet (no cloud call and no
        Kubernetes request but the Lease for 5 s) after its first work and after its listing of
        our EIPs (⌈count/100⌉ pages: what checks every PodEIP against the cloud; before it, a
        quiet moment is only the watch's start-up delivery), or it did nothing at all for 15 s
        once healthy (recovered when healthy). Not within ``cap`` seconds: not recovered."""
        quiet = 5.0
        if kill:
            self.operator.kill()
        else:
            self.operator.stop()
        calls0 = len(self.engine.call_log())
        started = self.operator.start_timed()
        healthy = time.time()
        recovered, how = math.nan, "not within the cap"
        last_change, last_total = time.time(), -1.0
        while time.time() - started < cap:
            metrics = self.operator.metrics()
            gets = metric_sums(metrics, c.METRIC_KUBE_REQUESTS, _podeip_gets).get(c.PLURAL, 0.0)
            work, _ = split_lease(kube_counts(metrics))
            made = self.engine.call_log()[calls0:]
            calls = len(made)
            listed = sum(is_listing(x) for x in made) >= max(1, math.ceil(count / 100))
            total = sum(work.values()) + calls
            now = time.time()
            if total != last_total:
                last_change, last_total = now, total
            if gets >= count:
                recovered, how = now - started, f"{count} PodEIP GETs"
                break
            if total > 0 and listed and now - last_change >= quiet:
                recovered, how = last_change - started, "quiet after its first work"
                break
            if total == 0 and now - started >= 3 * quiet:  # nothing at all to do after a restart
                recovered, how = (
                    healthy - started,
                    f"healthy, then no call and no request for {3 * quiet:.0f} s",
                )
                break
            await asyncio.sleep(0.5)
        work, _lease = split_lease(kube_counts(self.operator.metrics()))
        until = started + (cap if math.isnan(recovered) else recovered)
        calls = [x for x in self.engine.call_log()[calls0:] if x.started <= until]
        rss, hwm, _ = self.operator.proc()
        self.results.restarts[label] = {
            "pods": count,
            "seconds": recovered,
            "how": how,  # type: ignore[dict-item]
            "cap": cap,
            "cloud_calls": len(calls),
            "calls": dict(collections.Counter(x.action for x in calls)),  # type: ignore[dict-item]
            "kube_requests": sum(work.values()),
            "kube": work,  # type: ignore[dict-item]
            "rss": rss,
            "hwm": hwm,
        }

    async def at_rest(self, kube: Kube, count: int, namespace: str) -> None:
        """``count`` PodEIPs bound, nothing changing: after one GC period to settle, over three
        more, the operator's Kubernetes requests per minute by verb and resource (the leader Lease
        apart) and its cloud calls per GC period by action (the window is stretched, up to six
        periods, until it holds two whole GC cycles); then one new pod's time to EIP."""
        period = self.args.gc_period * 60
        await asyncio.sleep(period)
        population = await self.population(kube, namespace)
        k0, t0 = self.kube(), time.time()
        cpu0 = self.operator.proc()[2]
        await asyncio.sleep(3 * period + 1)
        # A GC cycle is the period plus the pass (a long one at 5,000 EIPs): wait for two whole ones.
        for _ in range(int(3 * period)):
            if gc_passes(self.calls_between(t0)).cycles >= 2:
                break
            await asyncio.sleep(1)
        k1, t1 = self.kube(), time.time()
        cpu1 = self.operator.proc()[2]
        minutes = (t1 - t0) / 60
        work, lease = split_lease(counts_diff(k1, k0, per=minutes))
        calls = self.calls_between(t0, t1)
        periods = (t1 - t0) / period
        listing = [x for x in calls if is_listing(x)]
        passes = gc_passes(calls)
        probe_ns = await kube.namespace(f"probe-{count}")
        watch = PodWatch(kube, probe_ns)
        watch.start()
        await asyncio.sleep(0.5)
        try:
            await self.bind(kube, watch, ["new"], limit=PROBE_LIMIT)
            seen = watch.live()[0]
            new_pod = seen.ready - seen.ip if seen.ready and seen.ip else math.nan
        except TimeoutError:
            new_pod = math.nan
        await watch.stop()
        self.results.at_rest[count] = {
            "pods": count,
            "seconds": t1 - t0,
            "periods": periods,
            "kube_per_min": work,
            "lease_per_min": lease,
            "calls_per_period": {
                a: n / periods for a, n in sorted(collections.Counter(x.action for x in calls).items())
            },
            "listing_per_period": len(listing) / periods,
            "gc_cycles": passes.cycles,
            "calls_per_pass": passes.calls_per_cycle,
            "listing_per_pass": passes.pages_per_cycle,
            "pass_seconds": passes.pass_seconds,
            "cycle_seconds": passes.cycle_seconds,
            **population,
            "throttled": sum("Throttling" in x.result for x in calls),
            "cpu_pct": (cpu1 - cpu0) / (t1 - t0) * 100,
            "new_pod": new_pod,
            "new_pod_limit": PROBE_LIMIT,
            "l1": statistics_median(list(self.latencies(probe_ns, t1, watch).values())),
        }
        await self.drain(kube, probe_ns, limit=600)

    async def population(self, kube: Kube, namespace: str) -> dict[str, float]:
        """What a figure is measured at: the namespace's PodEIPs, those whose EIP is InUse in the
        cloud, our EIPs (tagged with our cluster ID, all namespaces) and the pods with a True gate.
        A short seeding shows here and in the report, never silently."""
        podeips = await kube.call("GET", f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}")
        pods = (await kube.call("GET", f"/api/v1/namespaces/{namespace}/pods"))["items"]
        eips = {e.allocation_id: e for e in self.engine.eips() if e.tags.get(c.TAG_CLUSTER_ID) == CLUSTER_ID}
        named = [p["spec"].get("allocationID") for p in podeips["items"]]
        gates = [
            x
            for pod in pods
            for x in (pod.get("status") or {}).get("conditions") or []
            if x["type"] == c.READINESS_GATE and x["status"] == "True"
        ]
        return {
            "podeips": len(named),
            "bound": sum(aid in eips and eips[aid].status == EipStatus.IN_USE for aid in named),
            "eips": len(eips),
            "gates": len(gates),
        }

    async def churn_restart(self, kube: Kube, namespace: str, count: int, churn: int) -> None:
        """With ``count`` PodEIPs at rest, the operator stopped (SIGTERM); meanwhile ``churn`` of
        the pods deleted and ``churn`` new EIP pods created (each with its IP before the start);
        then started with the defaults. Handled when every new pod's gate is True and every deleted
        pod's PodEIP is gone (Follow: its EIP unbound and released first, its finalizer last);
        the restart's cloud calls and Kubernetes requests until then; a leak audit after."""
        gone = [f"p{i:04d}" for i in range(churn)]
        new = [f"n{i:04d}" for i in range(churn)]
        owned = {
            e.allocation_id
            for e in self.engine.eips()
            if e.tags.get(c.TAG_NAMESPACE) == namespace and e.tags.get(c.TAG_POD_NAME) in gone
        }
        # The deleted pods' IPs, where their EIPs are bound: a new pod given one binds only after
        # that EIP's unbind (Alibaba gives a private IP one EIP).
        gone_ips = {e.private_ip_address for e in self.engine.eips() if e.allocation_id in owned} - {""}
        before = await self.population(kube, namespace)
        self.operator.stop()
        watch = PodWatch(kube, namespace)
        watch.start()
        await asyncio.sleep(0.5)
        pods = f"/api/v1/namespaces/{namespace}/pods"
        gate = asyncio.Semaphore(20)

        async def delete(name: str) -> None:
            async with gate:
                await kube.call("DELETE", f"{pods}/{name}", None)

        await asyncio.gather(*(delete(name) for name in gone))
        await kube.create_many(pods, [pod_body(n, self.node(), eip=True) for n in new])
        await watch.until(
            lambda: sum(s.ip is not None for s in watch.live(new)) >= churn, limit=300, what="new pods' IPs"
        )
        calls0 = len(self.engine.call_log())
        started = self.operator.start_timed()
        healthy = time.time()
        podeips = f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.PLURAL}"
        left, unbound = set(gone), math.nan
        cap = 600.0
        while time.time() - started < cap:
            for name in list(left):  # PodEIPs of the deleted pods, until each is gone
                if (await kube.call("GET", f"{podeips}/{name}")).get("code") == 404:
                    left.discard(name)
            if not left and math.isnan(unbound):
                unbound = time.time()
            ready = [s.ready for s in watch.live(new) if s.ready is not None]
            if not left and len(ready) >= churn:
                break
            await asyncio.sleep(1.0)
        ready = [s.ready for s in watch.live(new) if s.ready is not None]
        bound = max(ready) if len(ready) >= churn else math.nan
        done = max(bound, unbound)
        work, _lease = split_lease(kube_counts(self.operator.metrics()))
        until = started + cap if math.isnan(done) else done
        calls = [x for x in self.engine.call_log()[calls0:] if x.started <= until]
        unbinds = [
            x.latency
            for x in calls
            if x.ok and x.action == "UnassociateEipAddress" and x.allocation_id in owned
        ]
        releases = [
            x.latency for x in calls if x.ok and x.action == "ReleaseEipAddress" and x.allocation_id in owned
        ]
        associates = [x.latency for x in calls if x.ok and x.action == ASSOCIATE]
        reused = sum(s.pod_ip in gone_ips for s in watch.live(new))
        transition = self.engine.config.transition_delay

        def span(action: str) -> list[float]:  # first and last OK call of an action, from the start
            stamps = [x.started - started for x in calls if x.ok and x.action == action]
            return [min(stamps), max(stamps)] if stamps else [math.nan, math.nan]

        await asyncio.sleep(5)  # the last writes land before the audit
        listed = (await kube.call("GET", f"/apis/{c.GROUP}/{c.VERSION}/{c.PLURAL}"))["items"]
        alive = [  # the pods of the namespaces that hold PodEIPs (not the 20,000 plain ones)
            pod
            for ns in sorted({p["metadata"]["namespace"] for p in listed} | {namespace})
            for pod in (await kube.call("GET", f"/api/v1/namespaces/{ns}/pods"))["items"]
        ]
        key = lambda meta: f"{meta['namespace']}/{meta['name']}"  # noqa: E731
        leaks = audit(
            [e.allocation_id for e in self.engine.eips() if e.tags.get(c.TAG_CLUSTER_ID) == CLUSTER_ID],
            {key(p["metadata"]): p["spec"].get("allocationID", "") for p in listed},
            [key(p["metadata"]) for p in alive],
            [f"{namespace}/{name}" for name in gone],
        )
        self.results.churn = {
            "pods": count,
            "churn": churn,
            "before": before,
            "after": await self.population(kube, namespace),
            "seconds": done - started,
            "unbound": unbound - started,
            "bound": bound - started,
            "healthy": healthy - started,
            "cap": cap,
            "left": sorted(left),
            "not_ready": churn - len(ready),
            "cloud_calls": len(calls),
            "calls": dict(collections.Counter(x.action for x in calls)),
            "throttled": sum("Throttling" in x.result for x in calls),
            "kube_requests": sum(work.values()),
            "kube": work,
            "l1": statistics_median(list(self.latencies(namespace, started, watch).values())),
            "u1": statistics_median(unbinds) + transition + statistics_median(releases),
            # New pods on deleted pods' IPs, and what one waits for after its IP's Unassociate
            # slot: Unassociate, Unassociating, Associate, Associating.
            "reused": reused,
            "a1": statistics_median(unbinds) + transition + statistics_median(associates) + transition,
            "leaks": leaks,
            "spans": {a: span(a) for a in ("AllocateEipAddress", ASSOCIATE, "UnassociateEipAddress")},
        }
        await watch.stop()

    # ---- memory ----------------------------------------------------------------------------------
    async def plain_pods(
        self, kube: Kube, count: int, *, namespace: str = "plain", tick: Callable[[], None] = lambda: None
    ) -> float:
        """``count`` pods without EIP, each waited for until it has an IP; ``tick`` runs every
        second meanwhile. Returns the seconds it took."""
        await kube.namespace(namespace)
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
            if time.time() - started > 3600:
                raise TimeoutError("plain pods not running after 60 min")
        await creating
        await watch.stop()
        return time.time() - started

    async def memory_run(self, kube: Kube, plain: int) -> None:
        """``plain`` pods without EIP next to the EIP pods: the operator's RSS and CPU."""
        _, _, cpu0 = self.operator.proc()
        peak_rss = 0.0

        def sample() -> None:
            nonlocal peak_rss
            peak_rss = max(peak_rss, self.operator.proc()[0])

        seconds = await self.plain_pods(kube, plain, tick=sample)
        rss, hwm, cpu1 = self.operator.proc()
        self.results.memory = {
            "plain": plain,
            "rss": max(peak_rss, rss),
            "hwm": hwm,
            "create_seconds": seconds,
            "create_cpu": cpu1 - cpu0,
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

    # ---- scale (make bench-scale) ---------------------------------------------------------------
    async def scale(self, kube: Kube) -> None:
        """2,000 EIP pods among 20,000 plain ones (peak RSS of the first process and of a restart),
        then 5,000 PodEIPs: a restart with the defaults, at rest, one new pod's time to EIP, and a
        restart after 100 pods were deleted and 100 created while the operator was down."""
        a = self.args
        s = self.results.scale
        s["plain"], s["eip"] = a.scale_plain, a.scale_eip

        async def timed(name: str, step: Awaitable[Any]) -> Any:
            print(f"[bench] scale: {name} …", flush=True)
            started = time.monotonic()
            value = await step
            self.results.durations[f"scale: {name}"] = time.monotonic() - started
            return value

        await timed(
            f"{a.scale_plain:,} plain pods", self.plain_pods(kube, a.scale_plain, namespace="plain-scale")
        )
        first_hwm = self.operator.proc()[1]  # the process that saw the plain pods arrive
        namespace = await kube.namespace("scale")
        await timed(f"seed {a.scale_eip:,} EIP pods", self.seed(kube, namespace, 0, a.scale_eip))
        s["first_hwm"] = first_hwm
        # The seeding process runs with SEED_ENV (50 concurrent reconciles, client QPS 200), not
        # the defaults: its peak is shown apart, not held against the target.
        s["seed_hwm"] = self.seed_hwm
        label = f"{a.scale_eip:,} PodEIPs among {a.scale_plain:,} plain pods"
        await timed(f"restart, {label}", self.restart(a.scale_eip, label=label, kill=False))
        await asyncio.sleep(30)
        s["restart_hwm"] = self.operator.proc()[1]
        more = self.seed(kube, namespace, a.scale_eip, a.scale_at_rest)
        await timed(f"seed up to {a.scale_at_rest:,} EIP pods", more)
        label = f"{a.scale_at_rest:,} PodEIPs"
        await timed(f"restart, {label}", self.restart(a.scale_at_rest, label=label, kill=False, cap=600))
        await timed(f"at rest, {label}", self.at_rest(kube, a.scale_at_rest, namespace))
        churn = f"restart after {a.scale_churn} pods deleted and {a.scale_churn} created while down"
        await timed(churn, self.churn_restart(kube, namespace, a.scale_at_rest, a.scale_churn))


async def scenarios(bench: Bench, plane: ControlPlane) -> None:
    """The selected scenarios, in an order that reuses populations: the 100-pod burst's pods are
    held at rest before they are deleted; the large burst's pods serve the large at-rest figure,
    the memory run and the restart. What is not selected is seeded where another scenario needs it."""
    args = bench.args
    only = args.only
    _, medium, large = args.counts
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        kube = Kube(plane, session)

        async def phase(name: str, step: Awaitable[Any]) -> Any:
            print(f"[bench] {name} …", flush=True)
            started = time.monotonic()
            value = await step
            bench.results.durations[name] = time.monotonic() - started
            (WORKDIR / "results.json").write_text(json.dumps(dataclasses.asdict(bench.results), indent=1))
            print(f"[bench] {name}: {bench.results.durations[name]:.0f}s", flush=True)
            return value

        async def hold(namespace: str) -> None:
            await phase(f"at rest, {medium} PodEIPs", bench.at_rest(kube, medium, namespace))

        if "lifecycle" in only:
            await phase("single pods", bench.singles(kube, args.singles))
            at_rest = hold if "at-rest" in only else None
            await phase(f"burst of {medium}", bench.burst_lifecycle(kube, medium, hold=at_rest))
            await phase("lifecycle TTL reuse", bench.lifecycle_ttl(kube, args.lifecycle_pods))
        population = ""
        if "at-rest" in only and "lifecycle" not in only:
            population = await kube.namespace("rest")
            await phase(f"seed {medium}", bench.seed(kube, population, 0, medium))
            await phase(
                f"restart, {medium} PodEIPs", bench.restart(medium, label=f"{medium} PodEIPs", kill=False)
            )
            await hold(population)
        if "burst" in only:
            if population:
                await phase(f"drain {medium}", bench.drain(kube, population))
            await asyncio.sleep(6)  # Allocate/Associate buckets refill before the large burst
            population = await phase(f"burst of {large}", bench.burst(kube, large))
        elif "at-rest" in only or "memory" in only:
            first = medium if population else 0
            population = population or await kube.namespace("rest")
            await phase(f"seed {large}", bench.seed(kube, population, first, large))
            await phase(
                f"restart, {large} PodEIPs", bench.restart(large, label=f"{large} PodEIPs", kill=False)
            )
        if "at-rest" in only:
            await phase(f"at rest, {large} PodEIPs", bench.at_rest(kube, large, population))
        if "memory" in only:
            await phase(f"{args.plain} pods without EIP", bench.memory_run(kube, args.plain))
            label = f"{large} PodEIPs among {args.plain:,} plain pods (SIGKILL)"
            await phase("restart recovery", bench.restart(large, label=label))
        if "scale" in only:
            await phase("scale", bench.scale(kube))


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
