"""The demo: a local control plane, the simulated Alibaba cloud and the operator, end to end.

    make demo          (or: .venv/bin/python hack/demo.py)

1. starts the local Kubernetes control plane (etcd, kube-apiserver, controller manager,
   scheduler, kwok fake nodes; all on 127.0.0.1) and the simulated Alibaba cloud behind its
   OpenAPI HTTP front; the operator talks to it through the official Alibaba SDK;
2. installs the PodEIP CRD and starts ``podeip run``;
3. applies the seed documents' examples: a Deployment whose pods get an EIP each (bandwidth 5,
   readiness gate), a StatefulSet whose pods keep theirs for 10 minutes (TTL), and a pod that
   uses an EIP the account already owns (static);
4. waits until every pod has its EIP, prints ``kubectl get podeip -o wide``, each pod's
   allocated address and the simulated cloud's EIP table;
5. deletes a StatefulSet pod and shows that it comes back with the same address;
6. cleans up and shows that no EIP allocated by the operator is left.

Nothing leaves this machine: the fake pod IPs are never contacted.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
os.environ["ALIBABA_CLOUD_CLI_PROFILE_DISABLED"] = "true"

from podeip import constants as c  # noqa: E402
from podeip.cloud.models import EipStatus  # noqa: E402
from podeip.simulator.engine import Engine, EngineConfig  # noqa: E402
from podeip.simulator.server import start_in_thread  # noqa: E402
from testbed.cluster import ControlPlane, free_port  # noqa: E402
from testbed.fixtures import run_kubectl  # noqa: E402
from testbed.process import OperatorProcess, operator_env  # noqa: E402

NAMESPACE = "demo"
CLUSTER_ID = "c-demo"
SAMPLES = REPO / "crds" / "samples"
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[demo {time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)), flush=True)


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.plane = ControlPlane(workdir=workdir / "cluster")
        self.engine = Engine(EngineConfig(transition_delay=1.0, latency=(0.05, 0.15)))
        self.key_id, self.key_secret = "LTAIdemo" + secrets.token_hex(8), secrets.token_hex(16)
        self.operator: OperatorProcess | None = None
        self.metrics_port = free_port()

    # ---- plumbing ------------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None) -> str:
        return run_kubectl(self.plane, *args, input=input)

    def wait(self, what: str, predicate: Any, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"timed out waiting for {what}; operator log: {self.workdir / 'operator.log'}")

    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.kubectl("-n", NAMESPACE, "get", "pods", "-o", "json"))[
            "items"
        ]
        return items

    @staticmethod
    def address(pod: dict[str, Any]) -> str | None:
        annotations = pod["metadata"].get("annotations") or {}
        address = annotations.get(c.ALLOCATED_EIP_ADDRESS_KEYS[0])
        conditions = {x["type"]: x["status"] for x in pod.get("status", {}).get("conditions") or []}
        gated = any(g["conditionType"] == c.READINESS_GATE for g in pod["spec"].get("readinessGates") or [])
        return address if address and (not gated or conditions.get(c.READINESS_GATE) == "True") else None

    def print_eip_table(self) -> None:
        rows = sorted(self.engine.eips(), key=lambda e: e.allocation_id)
        print(f"{'ALLOCATION ID':26} {'ADDRESS':14} {'STATUS':10} {'BOUND TO':34} {'OWNER (tags)':30}")
        for eip in rows:
            bound = f"{eip.instance_id} {eip.private_ip_address}".strip() or "-"
            owner = eip.tags.get(c.TAG_NAMESPACE, "") + "/" + eip.tags.get(c.TAG_POD_NAME, "")
            print(
                f"{eip.allocation_id:26} {eip.ip_address:14} {eip.status.value:10} {bound:34} "
                f"{owner if owner != '/' else '(not ours: static)':30}"
            )
        if not rows:
            print("(no EIPs)")

    # ---- the story ---------------------------------------------------------------------------------
    def start(self) -> None:
        banner("1. Local control plane, simulated Alibaba cloud, operator")
        say("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1")
        self.plane.start()
        simulator = start_in_thread(self.engine, credentials={self.key_id: self.key_secret})
        self.simulator = simulator
        say(f"simulated Alibaba cloud (VPC and ECS OpenAPI, ACS3-HMAC-SHA256) at {simulator.url}")
        self.kubectl("apply", "-f", str(REPO / "crds" / "podeips.alibabacloud.com.yaml"))
        self.kubectl("wait", "--for=condition=Established", "crd/podeips.alibabacloud.com", "--timeout=60s")
        env = operator_env()
        env.update(
            PODEIP_KUBECONFIG=str(self.plane.kubeconfig),
            PODEIP_STANDALONE="true",
            PODEIP_CLUSTER_ID=CLUSTER_ID,
            PODEIP_METRICS_HOST="127.0.0.1",
            PODEIP_METRICS_PORT=str(self.metrics_port),
            PODEIP_LOG_FORMAT="text",
            PODEIP_MAX_CONCURRENT_RECONCILES="4",
            PODEIP_CLOUD__PROVIDER="alibaba",
            PODEIP_CLOUD__REGION_ID=self.engine.config.region_id,
            PODEIP_CLOUD__VPC_ID=self.engine.config.vpc_id,
            PODEIP_CLOUD__VPC_ENDPOINT=simulator.url,
            PODEIP_CLOUD__ECS_ENDPOINT=simulator.url,
            PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID=self.key_id,
            PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET=self.key_secret,
        )
        self.operator = OperatorProcess(
            env=env, log_path=self.workdir / "operator.log", metrics_port=self.metrics_port
        )
        self.operator.start()
        say(f"operator running; its log: {self.operator.log_path}")

    def apply_examples(self) -> None:
        banner("2. The seed documents' examples")
        self.kubectl("create", "namespace", NAMESPACE)
        static = self.engine.seed_eip(status=EipStatus.AVAILABLE)
        say(f"the account owns EIP {static.allocation_id} ({static.ip_address}); the static pod uses it")
        manifest = (
            (SAMPLES / "pod-static-never.yaml").read_text().replace("eip-bp14qxxxxxxx", static.allocation_id)
        )
        for sample in ("deployment-auto-follow.yaml", "statefulset-auto-ttl.yaml"):
            self.kubectl("-n", NAMESPACE, "apply", "-f", str(SAMPLES / sample))
            say(f"applied {sample}")
        self.kubectl("-n", NAMESPACE, "apply", "-f", "-", input=manifest)
        say("applied pod-static-never.yaml")
        self.kubectl("-n", NAMESPACE, "scale", "deployment/example", "--replicas=2")
        self.static_id = static.allocation_id

    def wait_for_eips(self) -> dict[str, str]:
        def all_bound() -> dict[str, str] | None:
            pods = self.pods()
            addresses = {p["metadata"]["name"]: self.address(p) for p in pods}
            done = sum(1 for a in addresses.values() if a)
            say(f"{done}/{len(addresses)} pods have their EIP")
            expected = 2 + 2 + 1
            return addresses if len(addresses) == expected and done == expected else None  # type: ignore[return-value]

        addresses: dict[str, str] = self.wait("every pod's EIP", all_bound, timeout=180)
        banner("3. kubectl get podeip -o wide")
        print(self.kubectl("-n", NAMESPACE, "get", "podeip", "-o", "wide"))
        print("Each pod's k8s.aliyun.com/allocated-eipAddress (readiness gate k8s.aliyun.com/eip True):")
        for name, address in sorted(addresses.items()):
            print(f"  {name:28} {address}")
        print("\nThe simulated cloud's EIP table:")
        self.print_eip_table()
        return addresses

    def show_same_address_after_restart(self, before: dict[str, str]) -> None:
        banner("4. A StatefulSet pod is deleted and comes back")
        old = json.loads(self.kubectl("-n", NAMESPACE, "get", "pod", "example-0", "-o", "json"))
        say(f"deleting pod example-0 (uid {old['metadata']['uid'][:8]}…, EIP {before['example-0']})")
        self.kubectl("-n", NAMESPACE, "delete", "pod", "example-0", "--wait=false")

        def back() -> str | None:
            pod = json.loads(
                self.kubectl("-n", NAMESPACE, "get", "pod", "example-0", "-o", "json", "--ignore-not-found")
                or "null"
            )
            if not pod or pod["metadata"]["uid"] == old["metadata"]["uid"]:
                return None
            return self.address(pod)

        address = self.wait("example-0 back with its EIP", back)
        verdict = (
            "the same address"
            if address == before["example-0"]
            else f"a DIFFERENT address ({before['example-0']})"
        )
        say(f"example-0 is back (new uid, new pod IP) with EIP {address}: {verdict}")
        if address != before["example-0"]:
            raise RuntimeError("the StatefulSet pod did not get its EIP back")

    def clean_up(self) -> None:
        banner("5. Clean up: no EIP is left behind")
        self.kubectl(
            "-n", NAMESPACE, "delete", "deployment/example", "statefulset/example", "pod/static-example"
        )
        say(
            "deleted the workloads: Follow PodEIPs go with their pods; "
            "TTL and Never ones keep their EIPs, unbound"
        )

        def settled() -> bool:
            items = json.loads(self.kubectl("-n", NAMESPACE, "get", "podeip", "-o", "json"))["items"]
            kept = {"TTL", "Never"}
            return all(
                i["spec"]["allocationType"]["releaseStrategy"] in kept
                and i.get("status", {}).get("status") == "Available"
                for i in items
            )

        self.wait("Follow PodEIPs gone and kept EIPs unbound", settled)
        print(self.kubectl("-n", NAMESPACE, "get", "podeip"))
        say("a kept EIP is released by deleting its PodEIP (or, for TTL, when the TTL runs out)")
        self.kubectl("-n", NAMESPACE, "delete", "podeip", "--all", "--wait=false")
        self.wait(
            "every PodEIP gone",
            lambda: not json.loads(self.kubectl("-n", NAMESPACE, "get", "podeip", "-o", "json"))["items"],
        )
        ours = lambda: [e for e in self.engine.eips() if e.tags.get(c.TAG_CLUSTER_ID) == CLUSTER_ID]  # noqa: E731
        self.wait("the operator's EIPs released", lambda: not ours(), timeout=60)
        print("The simulated cloud's EIP table after clean-up:")
        self.print_eip_table()
        static = next(e for e in self.engine.eips() if e.allocation_id == self.static_id)
        say(
            f"no EIP allocated by the operator is left; the static EIP {static.allocation_id} is still yours "
            f"({static.status.value}, never modified or released)"
        )
        calls: dict[str, int] = {}
        for call in self.engine.call_log():
            calls[call.action] = calls.get(call.action, 0) + 1
        say("cloud API calls in this demo: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        if getattr(self, "simulator", None) is not None:
            self.simulator.stop()
        self.plane.stop()


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="podeip-demo-"))
    demo = Demo(workdir)
    try:
        demo.start()
        demo.apply_examples()
        addresses = demo.wait_for_eips()
        demo.show_same_address_after_restart(addresses)
        demo.clean_up()
    except Exception as error:
        print(f"\nDEMO FAILED: {error}\nlogs: {workdir}", file=sys.stderr)
        demo.stop()
        return 1
    demo.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    banner("Done: the control plane, the simulated cloud and the operator are stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
