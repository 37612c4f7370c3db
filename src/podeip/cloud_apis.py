"""The Alibaba Cloud APIs the operator calls: one row each, the only place their facts live.

Everything that is per API reads its row here: the settings (the default client-side limit),
the token builder (``podeip.domain.tokens``: the ClientToken's leading letter), the SDK
transport (``cloud/alibaba/sdk/translate.py``: client, request model and method follow from the
name), and the simulator (which API version answers it, Alibaba's published limit, which calls
mutate). Adding a cloud API means a row here, a method on the provider port
(``cloud/provider.py`` and ``cloud/alibaba/openapi/operations.py``) and a handler in the
simulator (``simulator/actions.py``); CONTRIBUTING.md walks through it.

Pure data, importing nothing of the project, and outside ``podeip.cloud`` so that the bottom
layers (settings, the domain) may read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

#: The API versions of the two services (sent as ``x-acs-version``).
VERSIONS: Final = {"vpc": "2016-04-28", "ecs": "2014-05-26"}


@dataclass(frozen=True)
class Api:
    name: str
    service: Literal["vpc", "ecs"]
    #: Whether the call changes anything (reads are safe to repeat without a token).
    mutation: bool
    #: The default client-side limit per minute and burst (``Settings.cloud.rate_limits``),
    #: below Alibaba's published limit so that other tools in the account keep some room.
    client_limit: int
    client_burst: int
    #: Alibaba's published per-minute limit per account and region (docs/alibaba-api.md §11);
    #: ``None`` where none is published (the simulator then does not throttle it).
    published_limit: int | None = None
    #: The ClientToken's leading letter (docs/alibaba-api.md §5); ``None``: the API takes none.
    token_prefix: str | None = None

    @property
    def version(self) -> str:
        return VERSIONS[self.service]

    @property
    def sdk_method(self) -> str:
        """The SDK client's async method: ``AllocateEipAddress`` → ``allocate_eip_address_…``."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower() + "_with_options_async"


APIS: Final[tuple[Api, ...]] = (
    Api("AllocateEipAddress", "vpc", True, 110, 10, published_limit=120, token_prefix="a"),
    Api("AssociateEipAddress", "vpc", True, 110, 10, published_limit=120, token_prefix="s"),
    Api("UnassociateEipAddress", "vpc", True, 110, 10, published_limit=120, token_prefix="u"),
    Api("ReleaseEipAddress", "vpc", True, 500, 20, published_limit=600),
    Api("DescribeEipAddresses", "vpc", False, 500, 20, published_limit=600),
    Api("TagResources", "vpc", True, 250, 10, published_limit=300),
    Api("AddCommonBandwidthPackageIp", "vpc", True, 110, 10, token_prefix="b"),
    Api("RemoveCommonBandwidthPackageIp", "vpc", True, 110, 10, token_prefix="r"),
    Api("DescribeNetworkInterfaces", "ecs", False, 500, 20),
)
BY_NAME: Final = {api.name: api for api in APIS}


def api(name: str) -> Api:
    """The row of ``name``; a clear error for a name that has none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no cloud API {name!r} in podeip.cloud_apis") from None
