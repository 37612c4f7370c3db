"""The records the simulated cloud keeps, and the checks that do not depend on the action.

Records are mutable and private to the engine; the outside world sees them only as frozen
``podeip.cloud.models`` snapshots (``Eip``, ``Eni``) or ``CallRecord`` entries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes
from podeip.cloud.clock import Clock
from podeip.cloud.models import Eip, EipStatus, Eni
from podeip.settings import RateLimit

MAX_TAGS: Final = 20
RESERVED_TAG_PREFIXES: Final = ("aliyun", "acs:")
TRANSITIONAL: Final = frozenset({EipStatus.ASSOCIATING, EipStatus.UNASSOCIATING, EipStatus.RELEASING})


def fail(code: str, message: str = "") -> errors.CloudError:
    """The classified error for ``code`` (the engine raises what this returns)."""
    return codes.error_for(code, message=message or code, http_status=codes.http_status(code))


@dataclass
class EipRecord:
    allocation_id: str
    ip_address: str
    region_id: str
    allocated_at: float
    status: EipStatus = EipStatus.AVAILABLE
    bandwidth: int = 5
    internet_charge_type: str = "PayByBandwidth"
    instance_charge_type: str = "PostPaid"
    isp: str = "BGP"
    resource_group_id: str = ""
    public_ip_address_pool_id: str = ""
    name: str = ""
    description: str = ""
    security_protection_types: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    instance_id: str = ""
    instance_type: str = ""
    #: The private IP actually bound (shown as "" when it is the ENI's primary IP).
    private_ip: str = ""
    shown_private_ip: str = ""
    vpc_id: str = ""
    mode: str = ""
    bandwidth_package_id: str = ""
    deletion_protection: bool = False
    locked: bool = False
    #: An async transition in flight: the status it ends in (None: the EIP disappears) and when.
    pending: EipStatus | None = None
    due: float | None = None

    def view(self) -> Eip:
        return Eip(
            allocation_id=self.allocation_id,
            ip_address=self.ip_address,
            status=self.status,
            instance_id=self.instance_id,
            instance_type=self.instance_type,
            private_ip_address=self.shown_private_ip,
            bandwidth=self.bandwidth,
            internet_charge_type=self.internet_charge_type,
            instance_charge_type=self.instance_charge_type,
            isp=self.isp,
            resource_group_id=self.resource_group_id,
            public_ip_address_pool_id=self.public_ip_address_pool_id,
            bandwidth_package_id=self.bandwidth_package_id,
            name=self.name,
            description=self.description,
            region_id=self.region_id,
            vpc_id=self.vpc_id,
            mode=self.mode,
            tags=dict(self.tags),
            allocation_time=datetime.fromtimestamp(int(self.allocated_at), UTC),
            deletion_protection=self.deletion_protection,
            locked=self.locked,
            security_protection_types=self.security_protection_types,
        )

    def unbind(self) -> None:
        self.instance_id = self.instance_type = self.private_ip = self.shown_private_ip = ""
        self.vpc_id = self.mode = ""

    def check_mutable(self) -> None:
        """Locks and in-flight transitions forbid every mutation (docs/alibaba-api.md §4)."""
        if self.locked:
            raise fail(codes.BIZ_DISABLED, f"{self.allocation_id} is locked")
        if self.status in TRANSITIONAL:
            raise fail(codes.TASK_CONFLICT, f"{self.allocation_id} is {self.status}")


@dataclass
class BandwidthPackage:
    cbwp_id: str
    isp: str = "BGP"
    #: allocation ID → relation status (``BINDED``)
    members: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRecord:
    """One call as the engine saw it (the call log, for leak audits and call budgets)."""

    action: str
    params: dict[str, str]
    started: float
    ended: float
    latency: float
    request_id: str
    #: ``OK`` or the error code answered (``Transport`` when the answer was dropped).
    result: str
    allocation_id: str = ""
    client_token: str = ""
    committed: bool = True

    @property
    def ok(self) -> bool:
        return self.result == "OK"


@dataclass(frozen=True)
class AutoEniBlock:
    """An ENI made up on demand for a block of the VPC CIDR, so any pod IP resolves.

    Its primary IP is the block's network address (never a pod IP); every other address of
    the block is a secondary IP, except addresses held by explicitly registered ENIs.
    """

    network: ipaddress.IPv4Network
    vpc_id: str

    @property
    def eni_id(self) -> str:
        return f"eni-auto{int(self.network.network_address):012x}"

    def view(self, *, taken: set[str]) -> Eni:
        primary = str(self.network.network_address)
        ips = tuple(str(ip) for ip in self.network if str(ip) != primary and str(ip) not in taken)
        return Eni(
            eni_id=self.eni_id, vpc_id=self.vpc_id, primary_ip=primary, private_ips=ips, type="Secondary"
        )


def check_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Validate ``Tag.N`` items (docs/alibaba-api.md §2) and return them as a dict."""
    result: dict[str, str] = {}
    if len(tags) > MAX_TAGS:
        raise fail(codes.QUOTA_TAGS, f"at most {MAX_TAGS} tags")
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not key or len(key) > 128 or _reserved(key):
            raise fail(codes.INVALID_TAG_KEY, f"tag key {key!r} is not allowed")
        if len(value) > 128 or _reserved(value):
            raise fail(codes.INVALID_TAG_VALUE, f"tag value {value!r} is not allowed")
        if key in result:
            raise fail("Forbidden.TagKey.Duplicated", f"tag key {key!r} given twice")
        result[key] = value
    return result


def _reserved(text: str) -> bool:
    return text.startswith(RESERVED_TAG_PREFIXES) or "http://" in text or "https://" in text


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise fail(codes.MISSING_PARAMETER, f"{name} is mandatory for this action")
    return str(value)


@dataclass(frozen=True)
class EngineConfig:
    region_id: str = "cn-hangzhou"
    vpc_id: str = "vpc-sim000000000000001"
    #: Private ranges of the VPC; any IP in them resolves to an ENI (one per ``eni_block`` block).
    vpc_cidrs: tuple[str, ...] = ("198.51.100.0/24",)
    eni_block_prefix: int = 26
    #: Public addresses handed out (TEST-NET-3: never routed, obvious in logs).
    eip_cidr: str = "203.0.113.0/24"
    quota: int = 20
    #: Seconds that Associating, Unassociating and Releasing last.
    transition_delay: float = 0.0
    #: Seconds of latency per call, drawn uniformly from this range.
    latency: tuple[float, float] = (0.0, 0.0)
    #: Server-side limits per action (``Throttling.User`` above them); empty: no throttling.
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    default_resource_group_id: str = "rg-acfmsim0000001"
    seed: int = 0
    #: Resource IDs count up from here. The cloud never reuses an ID; a simulator that starts
    #: again (the chart's sidecar, after every upgrade) passes a start of its own so that its
    #: IDs never repeat those a client still remembers from the one before.
    first_serial: int = 0


class Account(Protocol):
    """What an action may use of the simulated account: its records and a few helpers. The
    engine is one; actions see it through this protocol, so they need not import the engine
    (which dispatches to them)."""

    config: EngineConfig
    clock: Clock
    eip_records: dict[str, EipRecord]
    packages: dict[str, BandwidthPackage]
    pools: set[str]

    def new_id(self, prefix: str) -> str: ...
    def next_address(self) -> str: ...
    def eni_by_id(self, eni_id: str) -> Eni | None: ...
    def eni_views(self) -> list[Eni]: ...
    def materialize_block(self, ip: str) -> None: ...
    def public_ips(self) -> dict[str, tuple[str, str]]: ...
    def start_transition(
        self, record: EipRecord, *, now_status: EipStatus, then: EipStatus | None
    ) -> None: ...
    def describe_answer(self, records: list[EipRecord], *, page: int, page_size: int) -> dict[str, Any]: ...
