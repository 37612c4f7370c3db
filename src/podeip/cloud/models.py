"""What the cloud layer hands to the rest of the operator: frozen, SDK-free models.

Controllers and reconcilers never see SDK types or wire dictionaries; the same models come
out of the Alibaba provider and the simulated one. ``AllocateRequest`` is the cloud's view of
an allocation and deliberately independent of how pod annotations spell it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

#: ``InstanceType`` of an association to a pod IP on an ENI.
NETWORK_INTERFACE: Final = "NetworkInterface"
#: The ISP, charge types and bandwidth Alibaba applies when a request leaves them out.
DEFAULT_BANDWIDTH: Final = 5
DEFAULT_INTERNET_CHARGE_TYPE: Final = "PayByBandwidth"
DEFAULT_INSTANCE_CHARGE_TYPE: Final = "PostPaid"
DEFAULT_ISP: Final = "BGP"


class EipStatus(enum.StrEnum):
    """The EIP states of the VPC API (docs/alibaba-api.md §4)."""

    AVAILABLE = "Available"
    ASSOCIATING = "Associating"
    IN_USE = "InUse"
    UNASSOCIATING = "Unassociating"
    RELEASING = "Releasing"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AllocateRequest(_Frozen):
    """Options of a new EIP; ``None`` leaves the choice to Alibaba's defaults."""

    bandwidth: int | None = Field(default=None, ge=1, le=1000)
    internet_charge_type: str | None = None
    instance_charge_type: str | None = None
    isp: str | None = None
    resource_group_id: str | None = None
    public_ip_address_pool_id: str | None = None
    name: str | None = Field(default=None, max_length=128)
    description: str | None = Field(default=None, max_length=256)
    security_protection_types: tuple[str, ...] = ()
    #: The user's tags; the provider adds the operator's ownership tags to them.
    tags: Mapping[str, str] = Field(default_factory=dict)


class Allocation(_Frozen):
    """What ``AllocateEipAddress`` answers: enough to record the EIP before anything else."""

    allocation_id: str
    ip_address: str
    resource_group_id: str | None = None
    request_id: str | None = None


class Eip(_Frozen):
    """One EIP as ``DescribeEipAddresses`` shows it."""

    allocation_id: str
    ip_address: str
    status: EipStatus
    instance_id: str = ""
    instance_type: str = ""
    #: The private IP the EIP maps to; empty when bound to an ENI's primary IP.
    private_ip_address: str = ""
    bandwidth: int | None = None
    internet_charge_type: str = ""
    instance_charge_type: str = ""
    isp: str = ""
    resource_group_id: str = ""
    public_ip_address_pool_id: str = ""
    bandwidth_package_id: str = ""
    name: str = ""
    description: str = ""
    region_id: str = ""
    vpc_id: str = ""
    mode: str = ""
    tags: Mapping[str, str] = Field(default_factory=dict)
    allocation_time: datetime | None = None
    deletion_protection: bool = False
    #: True when the EIP is locked (``BusinessStatus`` not ``Normal`` or operation locks).
    locked: bool = False
    security_protection_types: tuple[str, ...] = ()

    @property
    def associated(self) -> bool:
        return bool(self.instance_id)

    def is_bound_to(self, *, eni_id: str, private_ip: str) -> bool:
        """Bound to this ENI at this IP (Alibaba shows an empty private IP for a primary IP)."""
        return self.instance_id == eni_id and self.private_ip_address in {private_ip, ""}


class Eni(_Frozen):
    """An elastic network interface that holds private IPs in the VPC."""

    eni_id: str
    vpc_id: str
    primary_ip: str
    private_ips: tuple[str, ...] = ()
    #: ``Primary`` or ``Secondary``.
    type: str = "Secondary"
    instance_id: str = ""
    vswitch_id: str = ""
    status: str = "InUse"

    def holds(self, ip: str) -> bool:
        return ip == self.primary_ip or ip in self.private_ips
