"""We test these aspects: the simulator's signature checks against requests the real SDK made.

ACS3-HMAC-SHA256 requests from the official VPC client verify; a tampered parameter, header
or body, a wrong secret and an unknown AccessKey are refused with Alibaba's codes; the legacy
V2 query signature verifies too; and the SDK's query flattening equals ``wire.flatten``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.runtime import RuntimeOptions

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.models import AllocateRequest
from podeip.simulator import signing

AK, SECRET = "AKIDEXAMPLE", "SECRETEXAMPLE"
SECRETS = {AK: SECRET}


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    port: int
    requests: list[Captured] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """An HTTP server on 127.0.0.1 that records every request and answers ``{"RequestId": …}``."""
    captured: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            captured.append(
                Captured(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            payload = json.dumps({"RequestId": "REQ-1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield Recorder(port=server.server_address[1], requests=captured)
    server.shutdown()
    server.server_close()


def _send(
    recorder: Recorder, *, algorithm: str | None = None, params: dict[str, object] | None = None
) -> Captured:
    config = Config(
        access_key_id=AK,
        access_key_secret=SECRET,
        region_id="cn-hangzhou",
        endpoint=recorder.endpoint,
        protocol="http",
        signature_algorithm=algorithm,
    )
    request = vpc_models.AllocateEipAddressRequest().from_map(
        params
        or wire.allocate(
            region_id="cn-hangzhou",
            request=AllocateRequest(bandwidth=5, name="a b+c/d", tags={"k8s/ns": "default", "empty": ""}),
            tags={"podeip-controller.alibabacloud.com/podeip-uid": "u-1"},
            client_token="tok-ns/pod 1",
        )
    )
    VpcClient(config).allocate_eip_address_with_options(request, RuntimeOptions())
    return recorder.requests[-1]


def _params(request: Captured) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))


def _verify(
    request: Captured,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    secrets: dict[str, str] = SECRETS,
) -> str:
    return signing.verify_acs3(
        method=request.method,
        params=_params(request) if params is None else params,
        headers=request.headers if headers is None else headers,
        body=request.body if body is None else body,
        secrets=secrets,
    )


def test_a_request_signed_by_the_sdk_verifies(recorder: Recorder) -> None:
    request = _send(recorder)
    assert request.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,")
    assert _verify(request) == AK


def test_a_tampered_parameter_fails_with_signature_does_not_match(recorder: Recorder) -> None:
    request = _send(recorder)
    with pytest.raises(errors.Forbidden) as caught:
        _verify(request, params={**_params(request), "Bandwidth": "200"})
    assert caught.value.code == "SignatureDoesNotMatch"


def test_a_tampered_signed_header_fails(recorder: Recorder) -> None:
    request = _send(recorder)
    with pytest.raises(errors.Forbidden):
        _verify(request, headers={**request.headers, "x-acs-action": "ReleaseEipAddress"})


def test_a_body_that_does_not_match_its_hash_fails(recorder: Recorder) -> None:
    request = _send(recorder)
    with pytest.raises(errors.Forbidden):
        _verify(request, body=b"smuggled")


def test_a_wrong_secret_fails_and_an_unknown_key_is_not_found(recorder: Recorder) -> None:
    request = _send(recorder)
    with pytest.raises(errors.Forbidden) as wrong:
        _verify(request, secrets={AK: "other"})
    with pytest.raises(errors.Forbidden) as unknown:
        _verify(request, secrets={"AKIDOTHER": SECRET})
    assert (wrong.value.code, unknown.value.code) == ("SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound")


def test_a_request_without_signature_is_incomplete() -> None:
    with pytest.raises(errors.Forbidden) as caught:
        signing.verify_acs3(method="POST", params={}, headers={}, body=b"", secrets=SECRETS)
    assert caught.value.code == "IncompleteSignature"


def test_a_legacy_v2_signed_request_verifies_and_tampering_fails(recorder: Recorder) -> None:
    request = _send(recorder, algorithm="v2")
    params = _params(request)
    assert params["SignatureMethod"] == "HMAC-SHA1" and signing.is_v2(params)
    assert signing.verify_v2(method=request.method, params=params, secrets=SECRETS) == AK
    with pytest.raises(errors.Forbidden):
        signing.verify_v2(method=request.method, params={**params, "Bandwidth": "9"}, secrets=SECRETS)
    assert "Signature" not in signing.business_params(params) and "Bandwidth" in signing.business_params(
        params
    )


def test_flatten_puts_parameters_on_the_query_exactly_as_the_sdk_does(recorder: Recorder) -> None:
    nested = wire.allocate(
        region_id="cn-hangzhou",
        request=AllocateRequest(bandwidth=5, security_protection_types=("AntiDDoS_Enhanced",)),
        tags={"k8s/ns": "default", "e": ""},
        client_token="tok",
    )
    request = _send(recorder, params=nested)
    assert _params(request) == wire.flatten(nested)
    assert _params(request)["Tag.2.Key"] == "e" and _params(request)["Tag.2.Value"] == ""
