"""We test these aspects of an operator that must not act, as ``podeip run`` subprocesses on
the local control plane with the simulated cloud behind the official SDK:

- ``enableControllers`` without ``eip`` (an empty list): the operator says so at start, stays
  up with /healthz and /metrics served, and touches nothing: an annotated pod gets no PodEIP,
  an existing PodEIP is left exactly as it was, and the cloud sees no call at all;
- a running ack-extend-network-controller (its Deployment in kube-system): the operator
  refuses to start (exit code 3) with a log line and a Warning Event on that Deployment, and
  calls the cloud not once; scaled to zero, it no longer stops the operator.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podeip import constants as c
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, free_port
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import OperatorProcess, apply, leak_audit, operator_environment, pod, pod_manifest, podeip

WITH_EIP = {c.PREFIX_K8S + "pod-with-eip": "true"}


@pytest.fixture
def idle_operator(
    control_plane: ControlPlane, podeip_crd: str, cloud: RunningSimulator, tmp_path: Path
) -> Iterator[OperatorProcess]:
    port = free_port()
    env = operator_environment(control_plane.kubeconfig, cloud, port)
    env["PODEIP_ENABLE_CONTROLLERS"] = ""
    handle = OperatorProcess(env=env, log_path=tmp_path / "operator.log", metrics_port=port)
    handle.start()
    yield handle
    handle.stop()


def test_without_the_eip_controller_nothing_is_touched_and_the_operator_stays_healthy(
    idle_operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    calls_before = len(cloud.engine.call_log())
    existing = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": "PodEIP",
        "metadata": {"name": "existing"},
        "spec": {
            "allocationID": "eip-idletestnone",
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    }
    apply(kubectl, namespace, existing, pod_manifest("existing", WITH_EIP), pod_manifest("asks", WITH_EIP))
    before = podeip(kubectl, namespace, "existing")
    wait_for(lambda: (pod(kubectl, namespace, "asks") or {}).get("status", {}).get("podIP"), what="pod IP")
    time.sleep(5)  # an active operator binds within about a second here
    assert podeip(kubectl, namespace, "asks") is None
    assert podeip(kubectl, namespace, "existing") == before  # no finalizer, status or annotation
    annotations = (pod(kubectl, namespace, "asks") or {})["metadata"].get("annotations") or {}
    assert not any(key in annotations for key in c.ALLOCATED_EIP_ADDRESS_KEYS)
    assert cloud.engine.call_log()[calls_before:] == []
    assert idle_operator.healthy()
    assert c.METRIC_LEADER in idle_operator.metrics()
    assert "without 'eip': the EIP controller is off" in idle_operator.log_path.read_text()
    kubectl("-n", namespace, "delete", "pod", "--all", "--wait=false")
    leak_audit(cloud.engine, kubectl, namespace)


def aenc_deployment(replicas: int) -> dict:  # type: ignore[type-arg]
    labels = {"app": "ack-extend-network-controller"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ack-extend-network-controller", "namespace": "kube-system"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "controller", "image": "registry.invalid/aenc:v0.12"}]},
            },
        },
    }


def test_a_running_aenc_is_refused_with_a_log_line_and_an_event(
    control_plane: ControlPlane, podeip_crd: str, cloud: RunningSimulator, kubectl: Kubectl, tmp_path: Path
) -> None:
    port = free_port()
    env = operator_environment(control_plane.kubeconfig, cloud, port)
    calls_before = len(cloud.engine.call_log())
    kubectl("apply", "-f", "-", input=json.dumps(aenc_deployment(1)))
    try:
        log = tmp_path / "refused.log"
        with log.open("wb") as output:
            result = subprocess.run(
                [sys.executable, "-m", "podeip", "run"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
        assert result.returncode == 3, log.read_text()
        assert "ack-extend-network-controller is running" in log.read_text()
        uid = get_json(kubectl, "-n", "kube-system", "deployment", "ack-extend-network-controller")[
            "metadata"
        ]["uid"]
        refusals = [
            e
            for e in get_json(kubectl, "-n", "kube-system", "events")["items"]
            if e["reason"] == c.EV_OTHER_CONTROLLER and e["involvedObject"].get("uid") == uid
        ]
        assert len(refusals) == 1 and refusals[0]["type"] == "Warning"
        assert "two EIP controllers would allocate twice" in refusals[0]["message"]
        assert cloud.engine.call_log()[calls_before:] == []
        # podeip gc and podeip adopt refuse alike: exit 3, the reason, no traceback, no cloud call.
        for command in (["gc", "--dry-run"], ["adopt", "--dry-run"]):
            once = subprocess.run(
                [sys.executable, "-m", "podeip", *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert once.returncode == 3, (command, once.stdout, once.stderr)
            assert "ack-extend-network-controller is running" in once.stderr
            assert "Traceback" not in once.stderr and once.stdout == ""
        assert cloud.engine.call_log()[calls_before:] == []

        # Scaled to zero (AENC stopped, its objects kept): the operator starts.
        kubectl("apply", "-f", "-", input=json.dumps(aenc_deployment(0)))
        wait_for(
            lambda: (
                not get_json(kubectl, "-n", "kube-system", "deployment", "ack-extend-network-controller")[
                    "status"
                ].get("replicas")
            ),
            what="AENC scaled to zero",
        )
        handle = OperatorProcess(env=env, log_path=tmp_path / "started.log", metrics_port=port)
        handle.start()
        handle.stop()
    finally:
        kubectl(
            "-n", "kube-system", "delete", "deployment", "ack-extend-network-controller", "--ignore-not-found"
        )
