"""We test these aspects: how the Alibaba provider is put together from Settings.

Endpoints (default, host, simulator URL), the credential mode chosen for each complete
option, mounted AccessKey files re-read on rotation, no secret in any repr, and SDK
exceptions classified by code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from Tea.exceptions import TeaException

from podeip.cloud import errors
from podeip.cloud.alibaba.sdk import translate
from podeip.cloud.alibaba.sdk.clients import Endpoint, make_clients, parse_endpoint
from podeip.cloud.alibaba.sdk.credentials import build_credentials
from podeip.settings import CloudSettings, CredentialSettings


def test_endpoints_parse_into_host_and_protocol() -> None:
    assert parse_endpoint("") == Endpoint(host=None)
    assert parse_endpoint("vpc.cn-beijing.aliyuncs.com") == Endpoint(host="vpc.cn-beijing.aliyuncs.com")
    assert parse_endpoint("http://127.0.0.1:18080") == Endpoint(host="127.0.0.1:18080", protocol="http")
    with pytest.raises(ValueError):
        parse_endpoint("ftp://x")


def test_clients_default_to_the_regions_endpoints() -> None:
    settings = CloudSettings(
        region_id="cn-beijing",
        credentials=CredentialSettings(access_key_id=SecretStr("AK"), access_key_secret=SecretStr("S")),
    )
    clients = make_clients(
        settings, credential=build_credentials(settings.credentials, region_id="cn-beijing").client
    )
    assert clients.vpc._endpoint == "vpc.cn-beijing.aliyuncs.com"
    assert clients.ecs._endpoint == "ecs.cn-beijing.aliyuncs.com"
    assert clients.vpc._protocol == "https"


def test_an_access_key_from_settings_wins_and_stays_hidden() -> None:
    handle = build_credentials(
        CredentialSettings(
            access_key_id=SecretStr("AKID"),
            access_key_secret=SecretStr("TOPSECRET"),
            oidc_role_arn="acs:ram::1:role/r",
            oidc_provider_arn="p",
            oidc_token_file=Path("/t"),
        ),
        region_id="cn-hangzhou",
    )
    assert handle.mode == "access-key"
    assert handle.client.get_credential().access_key_secret == "TOPSECRET"
    assert "TOPSECRET" not in repr(handle)


def test_mounted_access_key_files_are_reread_after_rotation(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("AKID1\n")
    (tmp_path / "secret").write_text("OLD\n")
    handle = build_credentials(
        CredentialSettings(access_key_id_file=tmp_path / "id", access_key_secret_file=tmp_path / "secret"),
        region_id="cn-hangzhou",
    )
    assert handle.mode == "access-key-files" and handle.client.get_credential().access_key_secret == "OLD"
    assert handle.reload() is False
    (tmp_path / "secret").write_text("NEW")
    assert handle.reload() is True and handle.client.get_credential().access_key_secret == "NEW"
    assert "NEW" not in repr(handle.provider)


def test_rrsa_builds_an_oidc_provider_from_the_injected_files(tmp_path: Path) -> None:
    handle = build_credentials(
        CredentialSettings(
            oidc_role_arn="acs:ram::1:role/podeip",
            oidc_provider_arn="acs:ram::1:oidc-provider/ack",
            oidc_token_file=tmp_path / "token",
            use_ecs_ram_role=False,
        ),
        region_id="cn-hangzhou",
    )
    assert handle.mode == "rrsa"
    assert (handle.provider._role_arn, handle.provider._oidc_token_file_path) == (
        "acs:ram::1:role/podeip",
        str(tmp_path / "token"),
    )


def test_no_credentials_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no cloud credentials"):
        build_credentials(CredentialSettings(use_ecs_ram_role=False), region_id="cn-hangzhou")


def test_sdk_errors_are_classified_by_code_not_by_class() -> None:
    exc = TeaException(
        {
            "code": "IncorrectEipStatus",
            "message": "rewritten",
            "data": {"Message": "raw text", "RequestId": "R-9", "statusCode": 400},
        }
    )
    error = translate.error_from(exc, operation="ReleaseEipAddress")
    assert isinstance(error, errors.InvalidState)
    assert (error.message, error.request_id, error.http_status) == ("raw text", "R-9", 400)
    assert isinstance(translate.error_from(AttributeError("x"), operation="X"), errors.Transport)
    assert isinstance(
        translate.error_from(TeaException({"message": "timeout"}), operation="X"), errors.Transport
    )
