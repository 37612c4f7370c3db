"""What a benchmark run stands on: the cluster settings, ``podeip run`` as a subprocess (the test
bed's process runner, plus memory and CPU from /proc), an admin client and a pod watch."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from podeip import constants as c
from podeip.settings import RateLimit
from podeip.simulator.engine import PUBLISHED_LIMITS, Engine, EngineConfig
from testbed.cluster import ControlPlane
from testbed.process import OperatorProcess
from testbed.process import operator_env as testbed_operator_env

REPO = Path(__file__).resolve().parents[2]


ACCESS_KEY_ID = "LTAIbench000000000000001"


ACCESS_KEY_SECRET = "bench-secret-never-real-0001"  # the local simulator's test credential


CLUSTER_ID = "c-bench"


POD_NETWORK = "198.18.0.0/17"  # 32 nodes × /22: room for 32,000 pods (bench-scale holds 25,000)


VPC_CIDR = "198.18.0.0/16"


EIP_CIDR = "198.19.0.0/19"  # the simulator's public addresses (8,192), also never contacted


NODES = 32


WORKDIR = REPO / ".local" / "bench"


#: The operator's settings under test (documented in BENCHMARKS.md).
OPERATOR_ENV = {
    "PODEIP_MAX_CONCURRENT_RECONCILES": "10",  # AENC's ACS example value
    "PODEIP_LOG_LEVEL": "INFO",
    # Leader election on, with a fixed identity as the chart gives (pod name and UID), so that
    # a restarted process takes the Lease back at once; its renewals are counted apart.
    "PODEIP_LEADER__IDENTITY": "podeip-bench",
}


# ---- the operator as a subprocess -----------------------------------------------------------
@dataclass
class Operator(OperatorProcess):
    """``podeip run`` through the test bed's process runner, plus what the benchmark reads:
    memory and CPU from /proc, a hard kill (Kubernetes requests: ``metrics()``)."""

    def start_timed(self) -> float:
        """Start ``podeip run`` and wait until it is healthy; return the wall-clock start."""
        started = time.time()
        self.start()
        return started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def proc(self) -> tuple[float, float, float]:
        """(VmRSS MiB, VmHWM MiB, CPU seconds) from /proc."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024, cpu


# ---- a small admin client and a pod watch ----------------------------------------------------
@dataclass
class Seen:
    """What the watch saw of one pod (by UID), as wall-clock times."""

    name: str
    created: float
    ip: float | None = None
    pod_ip: str = ""
    ready: float | None = None
    address: str = ""


class Kube:
    def __init__(self, plane: ControlPlane, session: aiohttp.ClientSession) -> None:
        self.server = plane.server
        self.session = session
        self.headers = {"Authorization": f"Bearer {plane.admin_token}"}
        self.ssl = ssl.create_default_context(cafile=str(plane.ca_path))

    async def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        async with self.session.request(
            method, self.server + path, json=body, headers=self.headers, ssl=self.ssl
        ) as answer:
            data: dict[str, Any] = await answer.json()
            if answer.status >= 400 and answer.status not in (404, 409):
                raise RuntimeError(f"{method} {path}: {answer.status} {data.get('message')}")
            return data

    async def create_many(self, path: str, bodies: Sequence[dict[str, Any]], *, parallel: int = 20) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(body: dict[str, Any]) -> None:
            async with gate:
                await self.call("POST", path, body)

        await asyncio.gather(*(one(body) for body in bodies))

    async def namespace(self, name: str) -> str:
        await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        return name


class PodWatch:
    """Watches one namespace's pods; records when each first has an IP and a True EIP gate."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.pods: dict[str, Seen] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        version = (await self.kube.call("GET", path))["metadata"]["resourceVersion"]
        while True:
            url = f"{self.kube.server}{path}?watch=1&resourceVersion={version}&timeoutSeconds=600"
            async with self.kube.session.get(
                url, headers=self.kube.headers, ssl=self.kube.ssl, timeout=aiohttp.ClientTimeout(total=None)
            ) as stream:
                async for line in stream.content:
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        version = (await self.kube.call("GET", path))["metadata"]["resourceVersion"]
                        break
                    version = event["object"]["metadata"]["resourceVersion"]
                    self._observe(event["object"], time.time())

    def _observe(self, pod: dict[str, Any], now: float) -> None:
        meta, status = pod["metadata"], pod.get("status") or {}
        seen = self.pods.setdefault(meta["uid"], Seen(name=meta["name"], created=now))
        if seen.ip is None and status.get("podIP"):
            seen.ip, seen.pod_ip = now, status["podIP"]
        gate = [x for x in status.get("conditions") or [] if x["type"] == c.READINESS_GATE]
        if seen.ready is None and gate and gate[0]["status"] == "True":
            seen.ready = now
            seen.address = (meta.get("annotations") or {}).get(c.ALLOCATED_EIP_ADDRESS_KEYS[0], "")

    def live(self, names: Iterable[str] | None = None) -> list[Seen]:
        """The newest incarnation of each pod name (optionally only these names)."""
        newest: dict[str, Seen] = {}
        for seen in self.pods.values():
            fresher = seen.name not in newest or newest[seen.name].created < seen.created
            if (names is None or seen.name in names) and fresher:
                newest[seen.name] = seen
        return list(newest.values())

    async def until(self, check: Callable[[], bool], *, limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached in {limit:.0f}s")
            await asyncio.sleep(0.2)


def pod_body(name: str, node: str, *, eip: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeName": node,
        "containers": [{"name": "main", "image": "registry.invalid/app:1"}],
        "terminationGracePeriodSeconds": 0,
    }
    meta: dict[str, Any] = {"name": name}
    if eip:
        meta["annotations"] = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}
        spec["readinessGates"] = [{"conditionType": c.READINESS_GATE}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def statefulset_body(name: str, replicas: int, release_after: str) -> dict[str, Any]:
    annotations = {c.PREFIX_K8S + c.POD_WITH_EIP: "true", c.PREFIX_K8S + c.RELEASE_STRATEGY: release_after}
    template = pod_body(name, "", eip=True)
    del template["spec"]["nodeName"]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": template["spec"],
            },
        },
    }


# ---- the run ---------------------------------------------------------------------------------
def engine_config(args: argparse.Namespace) -> EngineConfig:
    limits = {
        action: RateLimit(per_minute=n, burst=max(1, n // 10)) for action, n in PUBLISHED_LIMITS.items()
    }
    return EngineConfig(
        vpc_cidrs=(VPC_CIDR,),
        eip_cidr=EIP_CIDR,
        quota=10000,
        latency=args.latency,
        transition_delay=args.transition_delay,
        rate_limits=limits,
    )


def operator_env(
    plane: ControlPlane, url: str, engine: Engine, port: int, *, gc_period: float = 1.0
) -> dict[str, str]:
    env = testbed_operator_env()  # no proxies, no metadata or CLI-profile lookups
    env.update(OPERATOR_ENV)
    env.update(
        PODEIP_KUBECONFIG=str(plane.kubeconfig),
        PODEIP_STANDALONE="false",
        PODEIP_GC__PERIOD_MINUTES=f"{gc_period:g}",
        PODEIP_CLUSTER_ID=CLUSTER_ID,
        PODEIP_METRICS_HOST="127.0.0.1",
        PODEIP_METRICS_PORT=str(port),
        PODEIP_CLOUD__PROVIDER="alibaba",
        PODEIP_CLOUD__REGION_ID=engine.config.region_id,
        PODEIP_CLOUD__VPC_ID=engine.config.vpc_id,
        PODEIP_CLOUD__VPC_ENDPOINT=url,
        PODEIP_CLOUD__ECS_ENDPOINT=url,
        PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID=ACCESS_KEY_ID,
        PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
    )
    return env


def _crd() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load((REPO / "crds" / "podeips.alibabacloud.com.yaml").read_text()))


def _wait_crd(plane: ControlPlane) -> None:
    for _ in range(100):
        crd = plane.api("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{c.CRD_NAME}")
        conditions = (crd.get("status") or {}).get("conditions") or []  # type: ignore[union-attr]
        if any(x["type"] == "Established" and x["status"] == "True" for x in conditions):
            return
        time.sleep(0.2)
    raise TimeoutError("the PodEIP CRD is not Established")
