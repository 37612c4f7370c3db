"""Building the official SDK clients from Settings: endpoints, protocol, timeouts.

The endpoint setting takes a host (``vpc.cn-hangzhou.aliyuncs.com``, HTTPS) or a URL; an
``http://127.0.0.1:PORT`` URL points the SDK at ``podeip cloud-sim``. The SDK wants the
scheme apart (``endpoint='127.0.0.1:PORT'``, ``protocol='http'``); a scheme inside the
endpoint would end up in the Host header (docs/alibaba-api.md §8). SDK retries stay off: ours
run on asyncio in ``podeip.cloud.retry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.runtime import RuntimeOptions

from podeip import __version__
from podeip.settings import CloudSettings


@dataclass(frozen=True)
class Endpoint:
    """Where a client connects: ``host`` (with port) or None for the region's default."""

    host: str | None
    protocol: str = "https"


def parse_endpoint(value: str) -> Endpoint:
    value = value.strip()
    if not value:
        return Endpoint(host=None)
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"endpoint {value!r} must be http(s)://host[:port]")
        return Endpoint(host=parts.netloc, protocol=parts.scheme)
    return Endpoint(host=value)


@dataclass(frozen=True)
class Clients:
    vpc: Any
    ecs: Any
    runtime: Any


def _config(cloud: CloudSettings, *, credential: Any, endpoint: Endpoint) -> Config:
    return Config(
        credential=credential,
        region_id=cloud.region_id,
        endpoint=endpoint.host,
        protocol=endpoint.protocol,
        connect_timeout=int(cloud.connect_timeout_seconds * 1000),
        read_timeout=int(cloud.read_timeout_seconds * 1000),
        user_agent=f"podeip-operator/{__version__}",
    )


def make_clients(cloud: CloudSettings, *, credential: Any) -> Clients:
    """One VPC and one ECS client sharing ``credential`` (a ``CredentialClient``)."""
    return Clients(
        vpc=VpcClient(_config(cloud, credential=credential, endpoint=parse_endpoint(cloud.vpc_endpoint))),
        ecs=EcsClient(_config(cloud, credential=credential, endpoint=parse_endpoint(cloud.ecs_endpoint))),
        runtime=RuntimeOptions(
            connect_timeout=int(cloud.connect_timeout_seconds * 1000),
            read_timeout=int(cloud.read_timeout_seconds * 1000),
        ),
    )
