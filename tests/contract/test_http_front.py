"""We test these aspects: what only the HTTP front does, seen through the official SDK and raw HTTP.

A wrong secret or unknown AccessKey fails with Alibaba's codes as Forbidden; rotated AccessKey
files are re-read and the call succeeds; the legacy V2 signature works end to end; unsigned
requests get Alibaba's error body; the debug endpoints show and steer the engine; the server
refuses non-loopback addresses; ``podeip cloud-sim`` serves standalone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from podeip.cloud import errors
from podeip.cloud.alibaba.sdk.clients import make_clients
from podeip.cloud.alibaba.sdk.credentials import build_credentials
from podeip.cloud.alibaba.sdk.provider import AlibabaEipProvider
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import AllocateRequest
from podeip.settings import CloudSettings, CredentialSettings
from podeip.simulator import server
from podeip.simulator.engine import Engine
from podeip.simulator.server import RunningSimulator, start_in_thread

AK, SECRET = "AKIDSIMULATOR", "simulator-secret-not-real"


@pytest.fixture
def simulator(engine: Engine) -> Iterator[RunningSimulator]:
    with start_in_thread(engine, credentials={AK: SECRET}) as running:
        yield running


def _provider(
    simulator: RunningSimulator, credentials: CredentialSettings, clock: ManualClock
) -> AlibabaEipProvider:
    settings = CloudSettings(
        region_id="cn-hangzhou",
        vpc_endpoint=simulator.url,
        ecs_endpoint=simulator.url,
        credentials=credentials,
    )
    handle = build_credentials(settings.credentials, region_id="cn-hangzhou")
    return AlibabaEipProvider(
        clients=make_clients(settings, credential=handle.client),
        credentials=handle,
        region_id="cn-hangzhou",
        vpc_id="",
        rate_limits={},
        clock=clock,
        sleep=clock.sleep,
    )


def _http(url: str, *, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        (AK, "wrong-secret", "SignatureDoesNotMatch"),
        ("AKIDUNKNOWN", SECRET, "InvalidAccessKeyId.NotFound"),
    ],
)
async def test_bad_credentials_are_forbidden_with_alibabas_codes(
    simulator: RunningSimulator, clock: ManualClock, key: str, secret: str, code: str
) -> None:
    provider = _provider(
        simulator,
        CredentialSettings(access_key_id=SecretStr(key), access_key_secret=SecretStr(secret)),
        clock,
    )
    with pytest.raises(errors.Forbidden) as caught:
        await provider.get_eip("eip-1")
    assert caught.value.code == code and caught.value.request_id


async def test_rotated_access_key_files_are_reread_and_the_call_succeeds(
    simulator: RunningSimulator, clock: ManualClock, tmp_path: Path
) -> None:
    (tmp_path / "id").write_text(AK)
    (tmp_path / "secret").write_text("expired-secret")
    provider = _provider(
        simulator,
        CredentialSettings(access_key_id_file=tmp_path / "id", access_key_secret_file=tmp_path / "secret"),
        clock,
    )
    (tmp_path / "secret").write_text(SECRET)  # the Secret volume is updated in place
    assert await provider.get_eip("eip-1") is None


async def test_the_legacy_v2_signature_works_end_to_end(
    simulator: RunningSimulator, clock: ManualClock
) -> None:
    provider = _provider(
        simulator, CredentialSettings(access_key_id=SecretStr(AK), access_key_secret=SecretStr(SECRET)), clock
    )
    provider._clients.vpc._signature_algorithm = "v2"
    allocation = await provider.allocate_eip(
        AllocateRequest(tags={"a": "b"}), owner_tags={}, client_token="t-v2"
    )
    eip = await provider.get_eip(allocation.allocation_id)
    assert eip is not None and dict(eip.tags) == {"a": "b"}


def test_an_unsigned_request_gets_alibabas_error_body(simulator: RunningSimulator) -> None:
    status, body = _http(simulator.url + "/?RegionId=cn-hangzhou", method="POST", body={})
    assert status == 400
    assert body["Code"] == "IncompleteSignature" and set(body) >= {
        "RequestId",
        "HostId",
        "Message",
        "Recommend",
    }


def test_debug_endpoints_show_and_steer_the_engine(simulator: RunningSimulator, engine: Engine) -> None:
    _, seeded = _http(
        simulator.url + "/_sim/eips",
        method="POST",
        body={"instance_id": "i-ecs1", "instance_type": "EcsInstance", "tags": {"owner": "someone"}},
    )
    _, eips = _http(simulator.url + "/_sim/eips")
    _, fault = _http(simulator.url + "/_sim/faults", method="POST", body={"spec": "AllocateEipAddress:drop"})
    _, package = _http(simulator.url + "/_sim/bandwidth-packages", method="POST", body={})
    assert [eip["AllocationId"] for eip in eips] == [seeded["AllocationId"]] and eips[0]["Status"] == "InUse"
    assert fault["code"] is None and fault["commit"] and len(engine.faults) == 1
    assert package["BandwidthPackageId"] in engine.packages
    _http(simulator.url + "/_sim/reset", method="POST", body={})
    assert engine.eips() == [] and len(engine.faults) == 0


async def test_the_call_log_endpoint_lists_calls_with_results(
    simulator: RunningSimulator, clock: ManualClock
) -> None:
    provider = _provider(
        simulator, CredentialSettings(access_key_id=SecretStr(AK), access_key_secret=SecretStr(SECRET)), clock
    )
    await provider.release_eip("eip-missing")
    _, calls = _http(simulator.url + "/_sim/calls")
    assert [(call["action"], call["result"], call["allocation_id"]) for call in calls] == [
        ("ReleaseEipAddress", "InvalidAllocationId.NotFound", "eip-missing"),
    ]


def test_the_simulator_refuses_non_loopback_addresses(engine: Engine) -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_in_thread(engine, credentials={}, host="0.0.0.0")
    args = argparse.Namespace(listen="192.0.2.1:8080")
    assert server.main(args) == 2


def test_cloud_sim_serves_standalone_and_reports_its_port() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podeip",
            "cloud-sim",
            "--listen",
            "127.0.0.1:0",
            "--access-key-id",
            AK,
            "--access-key-secret",
            SECRET,
            "--quota",
            "3",
            "--rate-limit",
            "AllocateEipAddress=60/min",
            "--latency",
            "1ms-2ms",
            "--fault",
            "ReleaseEipAddress:InternalError",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[4]
        assert url.startswith("http://127.0.0.1:")
        status, eips = _http(url + "/_sim/eips")
        assert (status, eips) == (200, [])
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
