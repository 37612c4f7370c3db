"""We test the product as a user meets it after ``helm install``, on a real node:

- the image (built offline by tests/testbed/node.py from the unchanged Dockerfile) and the chart
  from charts/podeip-operator, installed by helm with the simulated cloud as the sidecar, run
  as a real 2/2 pod on a kubelet + containerd node (in a network namespace of the test's own,
  beside the kwok nodes): the Deployment becomes Available (its probes pass), the processes run
  as UID 65532 with no capabilities, no new privileges and a read-only root filesystem;
- pods asking for EIPs, a Deployment on the kwok nodes and a real pod on the real node, are
  bound: both allocated-eipAddress annotations, the readiness gate True, ``kubectl get podeip``
  lists them InUse; the simulator (read in the pod, on its loopback) holds exactly one EIP per
  pod, associated with that pod's IP; /metrics answers through the chart's Service and counts
  the same allocations;
- ``helm upgrade`` with another GC period replaces the operator pod once (Recreate: never two
  operator pods running at once; the leader Lease passes to the new pod). The simulator lives in
  the pod, so the new operator meets an empty cloud: it finds each EIP lost and allocates
  exactly one new EIP per pod (the call log of the new simulator), and the pods' annotations
  follow;
- deleting the workloads releases every EIP the operator allocated (leak audit on the
  simulator's state and call log), and ``helm uninstall`` leaves no cluster-scoped object of
  the release behind but the CRDs.

Needs root (network namespace, mounts, cgroups); the module's fixture installs and builds what
is missing and fails (never skips) when it cannot. It stops only a node it started itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from podeip import constants as c
from podeip.k8s.leadership import LEASE_NAME
from testbed import node as real
from testbed.cluster import REPO
from testbed.fixtures import wait_for

CHART = REPO / "charts" / "podeip-operator"
RELEASE = "podeip-operator"
ACCESS_KEY_ID = "LTAIrealnode0000000001"
ACCESS_KEY_SECRET = "real-node-secret-never-real"
REGION = "cn-hangzhou"
VPC = "vpc-realnode0000000001"
SIM_PORT = 18080
#: The simulator's VPC: the real node's pod network and the kwok nodes' (TEST-NET-2).
VPC_CIDRS = (real.POD_CIDR, "198.51.100.0/24")
WITH_EIP = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}
KWOK_REPLICAS = 2


def values(gc_minutes: int) -> list[str]:
    sets = {
        "image.repository": real.IMAGE_REF.rsplit(":", 1)[0],
        "image.tag": real.IMAGE_REF.rsplit(":", 1)[1],
        "image.pullPolicy": "Never",  # imported into containerd; nothing is ever pulled
        "podeip.simulator.enabled": "true",
        "podeip.simulator.port": str(SIM_PORT),
        "podeip.simulator.extraArgs": "{" + ",".join(f"--vpc-cidr,{cidr}" for cidr in VPC_CIDRS) + "}",
        "credential.accessKey": ACCESS_KEY_ID,
        "credential.accessSecret": ACCESS_KEY_SECRET,
        "regionID": REGION,
        "vpcID": VPC,
        "clusterID": "",
        "nodeSelector.kubernetes\\.io/hostname": real.NAME,
        "networkController.eipController.garbageCollectionPeriodInMinutes": str(gc_minutes),
    }
    return [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]


def cluster_objects() -> frozenset[str]:
    """Every cluster-scoped object (of every listable kind, custom ones included) as kind/name."""
    kinds = kubectl("api-resources", "--namespaced=false", "--verbs=list", "-o", "name").split()
    return frozenset(kubectl("get", ",".join(kinds), "-o", "name").split())


def fetch_script(url: str) -> str:
    """A Python one-liner that prints the body of ``url`` (the image has Python, no curl)."""
    body = f"urllib.request.urlopen({url!r}, timeout=10).read().decode()"
    return f"import sys, urllib.request; sys.stdout.write({body})"


def kubectl(*args: str, input: str | None = None, check: bool = True) -> str:
    return real.kubectl(*args, input=input, check=check)


def get_json(*args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(kubectl("get", *args, "-o", "json"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Installed:
    namespace: str
    helm_env: dict[str, str]
    selector: str
    #: Every cluster-scoped object before the install, as kind/name.
    cluster_objects_before: frozenset[str]

    def helm(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [*real.client("helm"), "--namespace", self.namespace, *args],
            capture_output=True, text=True, timeout=timeout, env=self.helm_env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def operator_pods(self) -> list[dict]:  # type: ignore[type-arg]
        return get_json("-n", self.namespace, "pods", "-l", self.selector)["items"]  # type: ignore[no-any-return]

    def operator_pod(self) -> str:
        pods = [p for p in self.operator_pods() if not p["metadata"].get("deletionTimestamp")]
        assert len(pods) == 1, f"expected one operator pod, found {[p['metadata']['name'] for p in pods]}"
        return str(pods[0]["metadata"]["name"])

    def sim(self, path: str) -> list[dict]:  # type: ignore[type-arg]
        """GET the simulator's /_sim endpoint on the pod's loopback (kubectl exec: the simulator
        refuses anything but loopback, and its state lives only in that pod)."""
        script = fetch_script(f"http://127.0.0.1:{SIM_PORT}{path}")
        out = kubectl(
            "-n", self.namespace, "exec", self.operator_pod(), "-c", "cloud-sim", "--", "python", "-c", script
        )
        return json.loads(out)  # type: ignore[no-any-return]

    def allocations(self) -> list[str]:
        calls = self.sim("/_sim/calls")
        return [
            call["allocation_id"]
            for call in calls
            if call["action"] == "AllocateEipAddress" and call["result"] == "OK"
        ]


@pytest.fixture(scope="module")
def node() -> Iterator[real.Node]:
    """The real node: built and started here unless it already runs (``make node-up``); then
    only the image is rebuilt (when its inputs changed) and loaded."""
    if os.geteuid() != 0:
        pytest.fail("the real-node tests need root (network namespace, mounts, cgroups)", pytrace=False)
    running = real.Node.load()
    ours = not (running is not None and all(running.alive().values()))
    try:
        started = real.up()
        if not ours:
            real.load_image(real.build_image())
    except Exception as error:
        pytest.fail(f"the real node could not start: {error}", pytrace=False)
    yield started
    if ours:
        assert real.down() == 0, "the real node's teardown found leftovers (see the [node] lines)"
        assert not real.NETNS.exists()
        assert real._mounts_under(real.STATE) == []


@pytest.fixture(scope="module")
def installed(node: real.Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    namespace = f"podeip-node-{uuid.uuid4().hex[:8]}"
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        key: value for key, value in os.environ.items() if "proxy" not in key.lower() and key != "KUBECONFIG"
    }
    env.update(
        {name: str(home / name.lower()) for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}
    )
    before = cluster_objects()
    release = Installed(namespace, env, "", before)
    release.helm(
        "install", RELEASE, str(CHART), "--create-namespace", *values(1), "--wait", "--timeout", "180s"
    )
    labels = get_json("-n", namespace, "deployment", RELEASE)["spec"]["selector"]["matchLabels"]
    release = Installed(namespace, env, ",".join(f"{k}={v}" for k, v in sorted(labels.items())), before)
    try:
        yield release
    finally:
        # Normally the last test has cleaned up and uninstalled already. If not: workloads first,
        # while the operator still runs to release their EIPs and lift the PodEIP finalizers.
        if RELEASE in release.helm("list", "--short"):
            kubectl(
                "-n",
                namespace,
                "delete",
                "deployments,pods",
                "-l",
                "app=on-kwok",
                "--wait=false",
                check=False,
            )
            kubectl(
                "-n",
                namespace,
                "delete",
                "pod",
                "on-real-node",
                "--ignore-not-found",
                "--wait=false",
                check=False,
            )
            kubectl("-n", namespace, "wait", "--for=delete", "podeips", "--all", "--timeout=60s", check=False)
            release.helm("uninstall", RELEASE, "--wait", "--timeout", "120s")
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def diagnostics_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """On a failure: the namespace's pods, PodEIPs and Events, and the operator pods' logs."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed or "installed" not in request.fixturenames:
        return
    release: Installed = request.getfixturevalue("installed")
    ns = release.namespace
    print(kubectl("-n", ns, "get", "pods,podeips,leases", "-o", "wide", check=False))
    print(kubectl("-n", ns, "get", "events", "--sort-by=.lastTimestamp", check=False)[-6000:])
    for pod in release.operator_pods():
        for container in ("operator", "cloud-sim"):
            name = pod["metadata"]["name"]
            print(f"--- {name} {container} ---")
            print(kubectl("-n", ns, "logs", name, "-c", container, "--tail=80", check=False))


def test_operator_pod_is_available_and_hardened(installed: Installed) -> None:
    ns = installed.namespace
    deployment = get_json("-n", ns, "deployment", RELEASE)
    available = {x["type"]: x["status"] for x in deployment["status"]["conditions"]}
    assert available.get("Available") == "True", deployment["status"]
    pod = get_json("-n", ns, "pod", installed.operator_pod())
    assert pod["spec"]["nodeName"] == real.NAME
    statuses = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    assert set(statuses) == {"operator", "cloud-sim"}
    assert all(s["ready"] and s["restartCount"] == 0 for s in statuses.values()), statuses
    for container in ("operator", "cloud-sim"):
        exec_ = ("-n", ns, "exec", pod["metadata"]["name"], "-c", container, "--")
        status = dict(
            line.split(":", 1)
            for line in kubectl(*exec_, "cat", "/proc/1/status").splitlines()
            if ":" in line
        )
        assert status["Uid"].split() == ["65532"] * 4, (container, status["Uid"])
        assert status["Gid"].split() == ["65532"] * 4, (container, status["Gid"])
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[caps], 16) == 0, (container, caps, status[caps])
        assert status["NoNewPrivs"].strip() == "1", container
        write = kubectl(*exec_, "sh", "-c", "touch /opt/podeip/x 2>&1; echo rc=$?", check=False)
        assert "Read-only file system" in write and "rc=1" in write, write
        assert "rc=0" in kubectl(*exec_, "sh", "-c", "touch /tmp/x; echo rc=$?")  # the emptyDir


@dataclass(frozen=True)
class Workloads:
    kwok: str
    real_pod: str


def eip_of(namespace: str, name: str) -> str | None:
    """The pod's address once both annotations agree and the readiness gate is True."""
    body = get_json("-n", namespace, "pod", name)
    annotations = body["metadata"].get("annotations") or {}
    address = annotations.get(c.ALLOCATED_EIP_ADDRESS_KEYS[0])
    if not address or annotations.get(c.ALLOCATED_EIP_ADDRESS_KEYS[1]) != address:
        return None
    conditions = {x["type"]: x for x in body["status"].get("conditions") or []}
    gate = conditions.get(c.READINESS_GATE)
    if not gate or gate["status"] != "True" or gate.get("reason") != c.READINESS_REASON_OK:
        return None
    return str(address)


@pytest.fixture(scope="module")
def workloads(installed: Installed) -> Workloads:
    ns = installed.namespace
    gate = [{"conditionType": c.READINESS_GATE}]
    kwok = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "on-kwok"},
        "spec": {
            "replicas": KWOK_REPLICAS,
            "selector": {"matchLabels": {"app": "on-kwok"}},
            "template": {
                "metadata": {"labels": {"app": "on-kwok"}, "annotations": WITH_EIP},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "readinessGates": gate,
                    "containers": [{"name": "main", "image": "registry.invalid/app:1"}],
                },
            },
        },
    }
    pause = (real.pause_dir() / "image-name").read_text().strip()
    on_node = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "on-real-node", "annotations": WITH_EIP},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": real.NAME},
            "readinessGates": gate,
            "automountServiceAccountToken": False,
            "containers": [{"name": "main", "image": f"docker.io/{pause}", "imagePullPolicy": "Never"}],
        },
    }
    kubectl(
        "-n",
        ns,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [kwok, on_node]}),
    )
    return Workloads(kwok="on-kwok", real_pod="on-real-node")


def eip_pods(namespace: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """The pods asking for an EIP, by name."""
    pods = get_json("-n", namespace, "pods")["items"]
    return {
        p["metadata"]["name"]: p
        for p in pods
        if (p["metadata"].get("annotations") or {}).get(c.PREFIX_K8S + c.POD_WITH_EIP)
    }


def all_bound(namespace: str) -> dict[str, str] | None:
    pods = eip_pods(namespace)
    if len(pods) != KWOK_REPLICAS + 1:
        return None
    found = {name: eip_of(namespace, name) for name in pods}
    return found if all(found.values()) else None  # type: ignore[return-value]


def assert_bound_once(installed: Installed, bound: dict[str, str]) -> None:
    """Each pod's address is an InUse EIP of the simulator, associated with that pod's IP, and
    the simulator allocated exactly one EIP per pod."""
    ns = installed.namespace
    pods = eip_pods(ns)
    eips = {e["IpAddress"]: e for e in installed.sim("/_sim/eips")}
    allocations = installed.allocations()
    assert len(allocations) == len(set(allocations)) == len(pods), allocations
    assert len(eips) == len(pods), sorted(eips)
    for name, address in bound.items():
        eip = eips[address]
        assert eip["Status"] == "InUse", eip
        assert eip["PrivateIpAddress"] == pods[name]["status"]["podIP"], (name, eip)
        assert eip["AllocationId"] in allocations
    listed = kubectl("-n", ns, "get", "podeip")
    for name in pods:
        assert name in listed and "InUse" in listed.split(name, 1)[1].splitlines()[0], listed


def test_pods_on_kwok_and_on_the_real_node_get_eips(installed: Installed, workloads: Workloads) -> None:
    ns = installed.namespace
    bound = wait_for(lambda: all_bound(ns), timeout=120, interval=1, what="EIPs on every pod")
    assert isinstance(bound, dict)
    pod = get_json("-n", ns, "pod", workloads.real_pod)
    assert pod["spec"]["nodeName"] == real.NAME and pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("198.18.1."), pod["status"]["podIP"]
    assert_bound_once(installed, bound)


def scrape_from_a_pod(namespace: str, url: str) -> str:
    """GET ``url`` from a pod of the product image on the real node (its Python, no shell
    needed): traffic to a ClusterIP goes through kube-proxy's rules, as a Prometheus' would."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "scrape"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": real.NAME},
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "scrape",
                    "image": real.IMAGE_REF,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", fetch_script(url)],
                }
            ],
        },
    }
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(pod))
    try:

        def finished() -> str | None:
            phase = get_json("-n", namespace, "pod", "scrape")["status"].get("phase")
            return phase if phase in ("Succeeded", "Failed") else None

        phase = wait_for(finished, timeout=60, interval=0.5, what="the scrape pod to finish")
        text = kubectl("-n", namespace, "logs", "scrape")
        assert phase == "Succeeded", text
        return text
    finally:
        kubectl("-n", namespace, "delete", "pod", "scrape", "--wait=true", "--timeout=60s")


def test_metrics_through_the_service(installed: Installed, workloads: Workloads) -> None:
    ns = installed.namespace
    (service,) = get_json("-n", ns, "services", "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    name, cluster_ip = service["metadata"]["name"], service["spec"]["clusterIP"]
    (port,) = [p["port"] for p in service["spec"]["ports"] if p["name"] == "metrics"]
    # From a pod, to the ClusterIP (kube-proxy), and through the API server's Service proxy.
    text = scrape_from_a_pod(ns, f"http://{cluster_ip}:{port}/metrics")
    proxied = kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/http:{name}:metrics/proxy/metrics")
    assert c.METRIC_CLOUD_CALLS in proxied
    allocated = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == c.METRIC_CLOUD_CALLS
                and sample.labels.get("error_code") == ""
                and sample.labels["operation"] == "AllocateEipAddress"
            ):
                allocated += sample.value
    assert allocated == len(installed.allocations()) == KWOK_REPLICAS + 1, text[:2000]


class PodWatch:
    """``kubectl get pods -w`` on the operator pods in the background: the most operator pods
    seen with a running container at the same time."""

    def __init__(self, installed: Installed) -> None:
        self.process = subprocess.Popen(
            [*real.client("kubectl"), "-n", installed.namespace, "get", "pods", "-l", installed.selector,
             "--watch", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.running: dict[str, bool] = {}
        self.most = 0
        self.names: set[str] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        decoder = json.JSONDecoder()
        buffer = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.strip())
                except ValueError:
                    break
                buffer = buffer.strip()[end:]
                self._see(event)

    def _see(self, event: dict) -> None:  # type: ignore[type-arg]
        with self.lock:
            pod = event["object"]
            name = pod["metadata"]["name"]
            self.names.add(name)
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            running = any("running" in s.get("state", {}) for s in statuses)
            self.running[name] = event["type"] != "DELETED" and running
            self.most = max(self.most, sum(self.running.values()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.thread.join(timeout=10)


def test_helm_upgrade_replaces_the_operator_once(installed: Installed, workloads: Workloads) -> None:
    ns = installed.namespace
    before = installed.operator_pod()
    watch = PodWatch(installed)
    try:
        time.sleep(1)  # the watch's initial listing
        installed.helm(
            "upgrade", RELEASE, str(CHART), "--reuse-values", *values(2), "--wait", "--timeout", "180s"
        )
        after = installed.operator_pod()
        assert after != before
        bound = wait_for(
            lambda: all_bound_by(ns, installed), timeout=120, interval=1, what="EIPs after the upgrade"
        )
        assert isinstance(bound, dict)
    finally:
        watch.stop()
    assert watch.names >= {before, after}, watch.names
    assert watch.most == 1, f"{watch.most} operator pods ran at once during the upgrade"
    env = {
        e["name"]: e.get("value") for e in get_json("-n", ns, "pod", after)["spec"]["containers"][0]["env"]
    }
    assert env["PODEIP_GC__PERIOD_MINUTES"] == "2"
    lease = get_json("-n", ns, "lease", LEASE_NAME)
    assert lease["spec"]["holderIdentity"].startswith(after), lease["spec"]
    # The new simulator started empty: one new EIP per pod, none twice.
    assert_bound_once(installed, bound)


def all_bound_by(namespace: str, installed: Installed) -> dict[str, str] | None:
    """Every pod bound to an EIP the current simulator knows (after the upgrade)."""
    bound = all_bound(namespace)
    if bound is None:
        return None
    known = {e["IpAddress"] for e in installed.sim("/_sim/eips") if e["Status"] == "InUse"}
    return bound if set(bound.values()) <= known else None


def test_uninstall_leaves_no_eip_and_no_cluster_object(installed: Installed, workloads: Workloads) -> None:
    ns = installed.namespace
    allocated = set(installed.allocations())
    kubectl("-n", ns, "delete", "deployment", workloads.kwok, "--wait=true")
    kubectl("-n", ns, "delete", "pod", workloads.real_pod, "--wait=true", "--timeout=60s")
    wait_for(lambda: not get_json("-n", ns, "podeips")["items"], timeout=120, interval=1, what="PodEIPs gone")
    # Leak audit: every EIP the operator allocated was released, and nothing else is left.
    wait_for(lambda: not installed.sim("/_sim/eips"), timeout=60, interval=1, what="every EIP released")
    released = {
        call["allocation_id"]
        for call in installed.sim("/_sim/calls")
        if call["action"] == "ReleaseEipAddress" and call["result"] == "OK"
    }
    assert allocated <= released, (allocated, released)
    installed.helm("uninstall", RELEASE, "--wait", "--timeout", "120s")
    wait_for(lambda: not installed.operator_pods(), timeout=60, interval=1, what="operator pod gone")
    # Every cluster-scoped object that was not there before the install, labelled or not, is gone
    # (the CRDs stay, as helm documents for crds/; the release namespace is the test's).
    after = cluster_objects()
    new = after - installed.cluster_objects_before
    crds = {n.split("/", 1)[1] for n in after if n.startswith("customresourcedefinition")}
    # The API server registers an APIService for each CRD group by itself; it goes with the CRDs.
    crd_groups = {name.split(".", 1)[1] for name in crds}
    left = sorted(
        n
        for n in new
        if not n.startswith("customresourcedefinition")
        and n != f"namespace/{ns}"
        and not (n.startswith("apiservice.") and n.split("/", 1)[1].split(".", 1)[1] in crd_groups)
    )
    assert left == [], f"left behind by helm uninstall: {left}"
    assert "customresourcedefinition.apiextensions.k8s.io/podeips.alibabacloud.com" in after
