"""Verifying the signatures of OpenAPI requests, as Alibaba's gateway does.

The simulator checks every request against its AccessKey table so that tests exercise the
real SDK's signing and our credential plumbing, and so that a wrong key fails with the codes
Alibaba uses (``InvalidAccessKeyId.NotFound``, ``SignatureDoesNotMatch``). ACS3-HMAC-SHA256
(signature V3, the SDK's default) follows docs/alibaba-api.md §7.3; the legacy V2 query signature
(HMAC-SHA1, ``Config(signature_algorithm='v2')``) follows §7.4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes

ACS3: Final = "ACS3-HMAC-SHA256"
#: Query parameters of a V2-signed request that are not business parameters.
V2_AUTH_PARAMS: Final = frozenset(
    {
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "AccessKeyId",
        "Timestamp",
        "Format",
        "Version",
        "Action",
        "SecurityToken",
    }
)


def _refuse(code: str, message: str) -> errors.CloudError:
    return codes.error_for(code, message=message, http_status=codes.http_status(code))


def _rfc3986(text: str) -> str:
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted ``key=value`` pairs, values RFC 3986 encoded (keys as they are, like the SDK)."""
    return "&".join(f"{key}={_rfc3986(params[key])}" for key in sorted(params))


def acs3_signature(
    *,
    secret: str,
    method: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    """The hex signature of a request; ``headers`` lower-cased, ``signed`` the header names."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        [
            method,
            "/",
            canonical_query(params),
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def verify_acs3(
    *,
    method: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
) -> str:
    """Check an ``Authorization: ACS3-HMAC-SHA256 …`` request; return its AccessKey ID."""
    authorization = headers.get("authorization", "")
    algorithm, _, fields_text = authorization.partition(" ")
    fields = dict(part.strip().partition("=")[::2] for part in fields_text.split(",") if "=" in part)
    if algorithm != ACS3 or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise _refuse(codes.INCOMPLETE_SIGNATURE, "the request carries no ACS3-HMAC-SHA256 signature")
    access_key_id = fields["Credential"]
    if access_key_id not in secrets:
        raise _refuse(codes.ACCESS_KEY_NOT_FOUND, "Specified access key is not found.")
    if (
        headers.get("x-acs-content-sha256", hashlib.sha256(body).hexdigest())
        != hashlib.sha256(body).hexdigest()
    ):
        raise _refuse(codes.SIGNATURE_MISMATCH, "x-acs-content-sha256 does not match the body")
    signed = fields["SignedHeaders"].split(";")
    expected = acs3_signature(
        secret=secrets[access_key_id], method=method, params=params, headers=headers, signed=signed, body=body
    )
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise _refuse(codes.SIGNATURE_MISMATCH, "The request signature does not conform to Aliyun standards.")
    return access_key_id


def v2_signature(*, secret: str, method: str, params: Mapping[str, str]) -> str:
    query = "&".join(
        f"{_rfc3986(key)}={_rfc3986(params[key])}" for key in sorted(params) if key != "Signature"
    )
    to_sign = f"{method}&{_rfc3986('/')}&{_rfc3986(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_v2(*, method: str, params: Mapping[str, str], secrets: Mapping[str, str]) -> str:
    """Check a legacy query-signed request; return its AccessKey ID."""
    access_key_id = params.get("AccessKeyId", "")
    if access_key_id not in secrets:
        raise _refuse(codes.ACCESS_KEY_NOT_FOUND, "Specified access key is not found.")
    expected = v2_signature(secret=secrets[access_key_id], method=method, params=params)
    if not hmac.compare_digest(expected, params.get("Signature", "")):
        raise _refuse(codes.SIGNATURE_MISMATCH, "The request signature does not conform to Aliyun standards.")
    return access_key_id


def is_v2(params: Mapping[str, str]) -> bool:
    return "Signature" in params and "SignatureMethod" in params


def business_params(params: Mapping[str, str]) -> dict[str, str]:
    """The query without V2 authentication parameters."""
    return {key: value for key, value in params.items() if key not in V2_AUTH_PARAMS}
