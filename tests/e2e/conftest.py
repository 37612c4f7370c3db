"""Fixtures of the end-to-end tests: the chart installed by helm, and the operator running with
nothing but the chart's RBAC.

The operator runs out of cluster as ``podeip run`` in a subprocess, so that it can reach the
simulated Alibaba cloud on 127.0.0.1 (kwok runs no containers: the chart's own operator pod is
only a fake Running pod that executes nothing). What makes this end to end is its identity and
its configuration, both taken from the installed release:

- it authenticates with a token of the chart's ServiceAccount (``kubectl create token``) and no
  other credential, so every call it makes is authorized by the chart's ClusterRole and Roles,
  and its pod updates pass through the chart's ValidatingAdmissionPolicy;
- its environment is the chart's Deployment environment as installed, with only what points
  into the pod replaced: the metrics address, the cloud endpoints (the in-process HTTP
  simulator), the mounted AccessKey files (written from the chart's Secret) and the fieldRefs.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.server import RunningSimulator, start_in_thread
from testbed.cluster import REPO, ControlPlane, binary, free_port, versions, write_kubeconfig
from testbed.fixtures import Kubectl, get_json
from testbed.process import OperatorProcess

CHART = REPO / "charts" / "podeip-operator"
#: The AENC sample values from Alibaba's ACK page, as a user pastes them.
AENC_VALUES = REPO / "tests" / "chart" / "values" / "aenc-ack.yaml"
KUBE_VERSION = versions()["KUBERNETES_VERSION"]
RELEASE = "podeip-operator"
ACCESS_KEY_ID = "LTAIe2etestbed000000001"
ACCESS_KEY_SECRET = "e2e-secret-never-real-0001"
MIGRATOR = "podeip-e2e-migrator"
MIGRATOR_GROUP = "podeip-e2e-migrators"
#: Values on top of the AENC file, and why:
HELM_SETS = (
    # nothing is ever pulled: kwok fakes the pod, and the name cannot resolve anyway;
    "image.repository=registry.invalid/podeip",
    # empty: the operator reads the kube-system namespace UID (exercises that RBAC rule);
    "clusterID=",
    # the chart's AccessKey Secret, mounted as files (no fallback to an instance RAM role).
    f"credential.accessKey={ACCESS_KEY_ID}",
    f"credential.accessSecret={ACCESS_KEY_SECRET}",
    # a migration tool's identities, allowed by the PodEIP admission policy.
    f"validatingAdmissionPolicy.podEIPs.allowedUsernames={{{MIGRATOR}}}",
    f"validatingAdmissionPolicy.podEIPs.allowedGroups={{{MIGRATOR_GROUP}}}",
)
#: The pod's own name and UID, standing in for the fieldRefs of the leader Lease's identity.
OPERATOR_POD = "podeip-operator-e2e-out-of-cluster"
OPERATOR_POD_UID = "00000000-0000-4000-8000-0000000000e2"
#: The GC pass lists PodEIPs cluster-wide and the tagged EIPs; every 3 s here, so that it runs
#: under the chart's RBAC during the test (AENC's value is whole minutes).
GC_PERIOD_MINUTES = "0.05"


@dataclass(frozen=True)
class Release:
    """The installed chart."""

    name: str
    namespace: str
    service_account: str
    deployment: dict  # type: ignore[type-arg]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def run_helm(helm: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, env=env)
    if result.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def helm() -> Path:
    """The test bed's helm; a clear failure (never a skip) when it has not been built."""
    try:
        return binary("helm")
    except FileNotFoundError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """helm's own state (cache, config, data) in a temporary directory, never the user's."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.pop("KUBECONFIG", None)
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[name] = str(home / name.lower())
    return env


@pytest.fixture(scope="module")
def release(
    control_plane: ControlPlane, kubectl: Kubectl, helm: Path, helm_env: dict[str, str]
) -> Iterator[Release]:
    """The chart installed with the AENC values into a fresh namespace; uninstalled afterwards."""
    namespace = f"podeip-e2e-{uuid.uuid4().hex[:8]}"
    kubeconfig = ("--kubeconfig", str(control_plane.kubeconfig))
    sets = [arg for value in HELM_SETS for arg in ("--set", value)]
    try:
        run_helm(
            helm, helm_env, "install", RELEASE, str(CHART), *kubeconfig, "--namespace", namespace,
            "--create-namespace", "-f", str(AENC_VALUES), *sets, "--wait", "--timeout", "90s",
        )  # fmt: skip
    except AssertionError:
        # A half-installed release must not break the next run's install: drop it, then report.
        subprocess.run(
            [str(helm), "uninstall", RELEASE, *kubeconfig, "--namespace", namespace],
            capture_output=True, timeout=120, env=helm_env, check=False,
        )  # fmt: skip
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        raise
    try:
        deployment = get_json(kubectl, "-n", namespace, "deployment", RELEASE)
        service_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        yield Release(
            name=RELEASE, namespace=namespace, service_account=service_account, deployment=deployment
        )
    finally:
        run_helm(helm, helm_env, "uninstall", RELEASE, *kubeconfig, "--namespace", namespace, "--wait")
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        # The uninstall leaves no cluster-wide grant or policy behind (the CRDs stay, as helm
        # documents for crds/).
        left = kubectl(
            "get", "clusterroles,clusterrolebindings,validatingadmissionpolicies,"
            "validatingadmissionpolicybindings",
            "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name",
        )  # fmt: skip
        assert left.split() == [], f"left behind by helm uninstall: {left}"


@pytest.fixture(scope="module")
def sa_kubeconfig(
    control_plane: ControlPlane, kubectl: Kubectl, release: Release, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A kubeconfig whose only credential is a token of the chart's ServiceAccount."""
    token = kubectl(
        "create", "token", release.service_account, "-n", release.namespace, "--duration=1h"
    ).strip()
    path = tmp_path_factory.mktemp("sa-kubeconfig") / "kubeconfig"
    write_kubeconfig(
        path, server=control_plane.server, ca_path=control_plane.ca_path, token=token, user=release.user
    )
    return path


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningSimulator]:
    """The simulated Alibaba cloud behind its HTTP front, in the AENC values' region and VPC."""
    values = AENC_VALUES.read_text()
    vpc_id = next(line.split('"')[1] for line in values.splitlines() if line.startswith("vpcID:"))
    region_id = next(line.split('"')[1] for line in values.splitlines() if line.startswith("regionID:"))
    engine = Engine(EngineConfig(region_id=region_id, vpc_id=vpc_id, transition_delay=0.3, quota=20))
    simulator = start_in_thread(engine, credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
    yield simulator
    simulator.stop()


def chart_environment(release: Release, kubectl: Kubectl, files: Path) -> dict[str, str]:
    """The operator container's environment as the release installed it, with the fieldRefs
    resolved and the mounted AccessKey files copied out of the chart's Secret into ``files``."""
    (container,) = [
        c for c in release.deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator"
    ]
    field_values = {
        "metadata.namespace": release.namespace,
        "metadata.name": OPERATOR_POD,
        "metadata.uid": OPERATOR_POD_UID,
    }
    env: dict[str, str] = {}
    for item in container["env"]:
        if "valueFrom" in item:
            env[item["name"]] = field_values[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            # The API server stores `value: ""` as no value at all; the kubelet expands
            # $(NAME) of variables defined before.
            value = item.get("value", "")
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), value)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (volume,) = [
        v for v in release.deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "credentials"
    ]
    secret = get_json(kubectl, "-n", release.namespace, "secret", volume["secret"]["secretName"])
    files.mkdir(parents=True, exist_ok=True)
    for name in (
        "PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID_FILE",
        "PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET_FILE",
    ):
        in_pod = Path(env[name])
        item = next(i for i in volume["secret"]["items"] if in_pod == Path(mounts["credentials"]) / i["path"])
        local = files / item["path"]
        local.write_bytes(base64.b64decode(secret["data"][item["key"]]))
        env[name] = str(local)
    return env


@pytest.fixture(scope="module")
def operator(
    release: Release,
    sa_kubeconfig: Path,
    cloud: RunningSimulator,
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """``podeip run`` with the release's environment and the ServiceAccount's kubeconfig."""
    workdir = tmp_path_factory.mktemp("operator")
    port = free_port()
    # Nothing of the test runner's own Kubernetes or podeip configuration leaks in.
    env = {
        key: value
        for key, value in os.environ.items()
        if "proxy" not in key.lower()
        and not key.startswith(("PODEIP_", "KUBERNETES_"))
        and key != "KUBECONFIG"
    }
    env.update(chart_environment(release, kubectl, workdir / "credentials"))
    env.update(
        PODEIP_KUBECONFIG=str(sa_kubeconfig),
        PODEIP_METRICS_HOST="127.0.0.1",
        PODEIP_METRICS_PORT=str(port),
        PODEIP_CLOUD__VPC_ENDPOINT=cloud.url,
        PODEIP_CLOUD__ECS_ENDPOINT=cloud.url,
        PODEIP_GC__PERIOD_MINUTES=GC_PERIOD_MINUTES,
        HOSTNAME=OPERATOR_POD,
    )
    handle = OperatorProcess(env=env, log_path=workdir / "operator.log", metrics_port=port)
    handle.start()
    yield handle
    handle.stop()


def kube_requests(metrics: str) -> dict[tuple[str, str, str], float]:
    """``podeip_kube_api_requests_total`` by (verb, resource, code), from the exposition text."""
    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "podeip_kube_api_requests_total":
                labels = sample.labels
                found[(labels["verb"], labels["resource"], labels["code"])] = sample.value
    return found
