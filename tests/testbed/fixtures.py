"""Pytest fixtures for the local control plane (a plugin loaded by tests/conftest.py).

The control plane starts once per test session and stops at the end. When it cannot start,
the tests that need it fail with the reason: a missing test bed is never a silent skip.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed.cluster import REPO, ControlPlane, binary

Kubectl = Callable[..., str]


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(workdir=tmp_path_factory.mktemp("control-plane"))
    try:
        plane.start(progress=False)
    except Exception as error:
        pytest.fail(f"the local control plane could not start: {error}", pytrace=False)
    yield plane
    plane.stop()


def run_kubectl(plane: ControlPlane, *args: str, input: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        [str(binary("kubectl")), "--kubeconfig", str(plane.kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout + (result.stderr if not check else "")


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Kubectl:
    """Run kubectl against the local control plane as the admin; returns stdout."""

    def run(*args: str, input: str | None = None, check: bool = True) -> str:
        return run_kubectl(control_plane, *args, input=input, check=check)

    return run


@pytest.fixture(scope="session")
def podeip_crd(control_plane: ControlPlane, kubectl: Kubectl) -> str:
    """The PodEIP CRD from crds/, applied and Established."""
    path = REPO / "crds" / "podeips.alibabacloud.com.yaml"
    kubectl("apply", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/podeips.alibabacloud.com")
    return "podeips.alibabacloud.com"


@pytest.fixture
def namespace(control_plane: ControlPlane, kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 60.0, interval: float = 0.25, what: str = ""
) -> object:
    """Poll until the predicate returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what or predicate}; last value: {last!r}"
    )


def get_json(kubectl: Kubectl, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(kubectl("get", *args, "-o", "json"))


@pytest.fixture(autouse=True)
def show_operator_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "operator" in request.fixturenames:
        handle = request.getfixturevalue("operator")
        print(f"--- operator log (last lines) ---\n{handle.tail(120)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


__all__ = ["Kubectl", "Path", "get_json", "run_kubectl", "wait_for"]
