"""We test these aspects of how the operator proves who it is, on the local control plane:

- ``podeip run`` and ``podeip gc --dry-run`` connect through a kubeconfig whose user is an exec
  credential plugin (a small script printing an ``ExecCredential`` with a ServiceAccount
  token): a pod gets its EIP, the dry run sees its PodEIP and tagged EIP and releases nothing;
- ``podeip run`` connects through a kubeconfig whose user is a token file; the file is
  rewritten with a new token while the operator runs and the old token is then revoked (its
  bound Secret deleted, which the API server checks on every request): the operator goes on
  binding and releasing EIPs with the new token;
- both end with a leak audit of the simulated cloud.

The identity is a ServiceAccount bound to cluster-admin: what is tested here is the connection,
not the chart's RBAC (``tests/e2e`` checks that).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podeip import constants as c
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, free_port
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import (
    OperatorProcess,
    apply,
    leak_audit,
    operator_environment,
    pod_manifest,
    wait_for_address,
)

EIP = {c.PREFIX_K8S + "pod-with-eip": "true"}

#: The plugin: prints the token held in a file as an ExecCredential, and counts its runs.
PLUGIN = """\
import json, sys
from pathlib import Path
token, counter = Path(sys.argv[1]), Path(sys.argv[2])
counter.write_text(str(int(counter.read_text()) + 1 if counter.exists() else 1))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token.read_text().strip()}}))
"""


@dataclass(frozen=True)
class Identity:
    namespace: str
    service_account: str


@pytest.fixture(scope="module")
def identity(control_plane: ControlPlane, kubectl: Kubectl, podeip_crd: str) -> Iterator[Identity]:
    """A ServiceAccount with cluster-admin, in a namespace of its own; removed afterwards."""
    name = f"podeip-cred-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    kubectl("-n", name, "create", "serviceaccount", "operator")
    kubectl(
        "create",
        "clusterrolebinding",
        name,
        "--clusterrole=cluster-admin",
        f"--serviceaccount={name}:operator",
    )
    yield Identity(namespace=name, service_account="operator")
    kubectl("delete", "clusterrolebinding", name, check=False)
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def bound_token(kubectl: Kubectl, identity: Identity, secret: str) -> str:
    """A ServiceAccount token bound to a Secret of its own: deleting the Secret revokes it."""
    kubectl("-n", identity.namespace, "create", "secret", "generic", secret)
    return kubectl(
        "-n", identity.namespace, "create", "token", identity.service_account, "--duration=1h",
        "--bound-object-kind=Secret", f"--bound-object-name={secret}",
    ).strip()  # fmt: skip


def kubeconfig(path: Path, control_plane: ControlPlane, user: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "testbed",
                        "cluster": {
                            "server": control_plane.server,
                            "certificate-authority": str(control_plane.ca_path),
                        },
                    }
                ],
                "users": [{"name": "operator", "user": user}],
                "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "operator"}}],
                "current-context": "testbed",
            }
        )
    )
    return path


def podeips(kubectl: Kubectl, namespace: str) -> list[str]:
    return [item["metadata"]["name"] for item in get_json(kubectl, "-n", namespace, "podeips")["items"]]


def authenticates(kubectl: Kubectl, token: str) -> bool:
    """Whether the API server still accepts the token (kubectl with it, and no other credential)."""
    answer = kubectl("auth", "whoami", f"--token={token}", "-o", "json", check=False)
    return '"username"' in answer


@pytest.fixture
def start_operator(cloud: RunningSimulator, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    started: list[OperatorProcess] = []

    def start(config: Path) -> OperatorProcess:
        port = free_port()
        handle = OperatorProcess(
            env=operator_environment(config, cloud, port),
            log_path=tmp_path / "operator.log",
            metrics_port=port,
        )
        started.append(handle)
        handle.start()
        return handle

    yield start
    for handle in started:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(f"--- operator log (last lines) ---\n{handle.tail(120)}")
        handle.stop()


def gc_dry_run(config: Path, cloud: RunningSimulator) -> dict[str, Any]:
    env = operator_environment(config, cloud, 0)
    env.pop("PODEIP_KUBECONFIG")  # the flag, as a user types it
    result = subprocess.run(
        [sys.executable, "-m", "podeip", "gc", "--dry-run", "--kubeconfig", str(config)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sweep: dict[str, Any] = json.loads(result.stdout)
    return sweep


def test_run_and_gc_connect_through_an_exec_credential_plugin(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    identity: Identity,
    cloud: RunningSimulator,
    namespace: str,
    tmp_path: Path,
    start_operator: Any,
) -> None:
    token_file, runs = tmp_path / "sa-token", tmp_path / "plugin-runs"
    token_file.write_text(bound_token(kubectl, identity, "exec-plugin"))
    (tmp_path / "plugin.py").write_text(PLUGIN)
    plugin_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(tmp_path / "plugin.py"), str(token_file), str(runs)],
            "interactiveMode": "Never",
        }
    }
    config = kubeconfig(tmp_path / "exec.kubeconfig", control_plane, plugin_user)
    start_operator(config)
    assert int(runs.read_text()) >= 1

    apply(kubectl, namespace, pod_manifest("web", EIP))
    address = wait_for_address(kubectl, namespace, "web")
    allocation_id = get_json(kubectl, "-n", namespace, "podeip", "web")["spec"]["allocationID"]
    assert any(e.allocation_id == allocation_id and e.ip_address == address for e in cloud.engine.eips())

    before = int(runs.read_text())
    sweep = gc_dry_run(config, cloud)
    assert int(runs.read_text()) > before  # the dry run ran the plugin too
    assert sweep["podeips"] >= 1 and sweep["tagged"] >= 1
    assert sweep["candidates"] == [] and sweep["released"] == []

    kubectl("-n", namespace, "delete", "pod", "web")
    wait_for(lambda: not podeips(kubectl, namespace), timeout=90, what="the PodEIP released and gone")
    leak_audit(cloud.engine, kubectl, namespace)


def test_the_operator_keeps_working_after_its_token_file_rotates_and_the_old_token_is_revoked(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    identity: Identity,
    cloud: RunningSimulator,
    namespace: str,
    tmp_path: Path,
    start_operator: Any,
) -> None:
    old, new = bound_token(kubectl, identity, "token-a"), bound_token(kubectl, identity, "token-b")
    token_file = tmp_path / "token"
    token_file.write_text(old)
    config = kubeconfig(tmp_path / "file.kubeconfig", control_plane, {"tokenFile": str(token_file)})
    start_operator(config)
    apply(kubectl, namespace, pod_manifest("before", EIP))
    wait_for_address(kubectl, namespace, "before")

    # Rotate as the kubelet does (write a new file and rename it over the old), then revoke.
    staged = tmp_path / "token.new"
    staged.write_text(new)
    staged.rename(token_file)
    kubectl("-n", identity.namespace, "delete", "secret", "token-a")
    wait_for(lambda: not authenticates(kubectl, old), timeout=30, what="the old token revoked")
    assert authenticates(kubectl, new)

    apply(kubectl, namespace, pod_manifest("after", EIP))
    wait_for_address(kubectl, namespace, "after")
    # Releasing (Follow) also works with the new token only: the PodEIPs go by themselves.
    kubectl("-n", namespace, "delete", "pod", "before", "after")
    wait_for(lambda: not podeips(kubectl, namespace), timeout=90, what="both PodEIPs released and gone")
    leak_audit(cloud.engine, kubectl, namespace)
    assert gc_dry_run(config, cloud)["released"] == []
