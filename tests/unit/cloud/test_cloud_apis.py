"""We test these aspects of the cloud API registry (``podeip.cloud_apis``), the one row per API
that everything per API reads: every row has a simulator handler, an SDK request model and an
SDK client method, and the simulator answers exactly the registered APIs under their version;
the default client limits, the ClientToken letters, the published limits and the set of
mutating calls all come from the rows; token letters are unique and client limits stay below
the published ones; an unknown name is a clear error."""

from __future__ import annotations

import pytest
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_vpc20160428.client import Client as VpcClient

from podeip import cloud_apis
from podeip.cloud.alibaba.sdk import translate
from podeip.domain.tokens import TOKEN_PREFIXES
from podeip.settings import default_rate_limits
from podeip.simulator import actions, engine

CLIENTS = {"vpc": VpcClient, "ecs": EcsClient}


@pytest.mark.parametrize("api", cloud_apis.APIS, ids=lambda api: api.name)
def test_every_api_has_a_simulator_handler_and_an_sdk_model_and_method(api: cloud_apis.Api) -> None:
    assert api.name in actions.HANDLERS
    service, model, method = translate.ACTIONS[api.name]
    assert (service, model.__name__, method) == (api.service, f"{api.name}Request", api.sdk_method)
    assert callable(getattr(CLIENTS[api.service], method))
    assert api.name in engine.ACTIONS[api.version]


def test_the_simulator_answers_exactly_the_registered_apis() -> None:
    assert set(actions.HANDLERS) == set(cloud_apis.BY_NAME)
    assert set().union(*engine.ACTIONS.values()) == set(cloud_apis.BY_NAME)
    assert {api.name for api in cloud_apis.APIS if api.mutation} == engine.MUTATIONS
    assert "DescribeEipAddresses" not in engine.MUTATIONS


def test_limits_and_token_letters_come_from_the_rows() -> None:
    limits = default_rate_limits()
    for api in cloud_apis.APIS:
        assert (limits[api.name].per_minute, limits[api.name].burst) == (api.client_limit, api.client_burst)
        if api.published_limit is not None:
            assert api.client_limit < api.published_limit
            assert engine.PUBLISHED_LIMITS[api.name] == api.published_limit
    assert {api.name: api.token_prefix for api in cloud_apis.APIS if api.token_prefix} == TOKEN_PREFIXES
    assert len(set(TOKEN_PREFIXES.values())) == len(TOKEN_PREFIXES)
    assert TOKEN_PREFIXES["AllocateEipAddress"] == "a"


def test_an_unknown_api_is_a_clear_error() -> None:
    assert cloud_apis.api("ReleaseEipAddress").sdk_method == "release_eip_address_with_options_async"
    with pytest.raises(KeyError, match="no cloud API 'DescribeEipAddress'"):
        cloud_apis.api("DescribeEipAddress")
