"""The cloud operations the operator needs, as one async Protocol.

Reconcilers depend on this Protocol only. Two implementations exist side by side: the
Alibaba provider on the official SDKs and the simulated provider on the in-process engine;
one contract suite (``tests/contract``) runs against both. Every mutating call takes the
caller's ClientToken where Alibaba accepts one, and calls that find their work already done
(releasing a missing EIP, removing a non-member from a bandwidth package) succeed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from podeip.cloud.models import AllocateRequest, Allocation, Eip, EipStatus, Eni


@runtime_checkable
class EipProvider(Protocol):
    async def allocate_eip(
        self, request: AllocateRequest, *, owner_tags: Mapping[str, str], client_token: str
    ) -> Allocation:
        """AllocateEipAddress with the request's options, its tags and ``owner_tags`` (which win)."""
        ...

    async def describe_eips(
        self,
        *,
        allocation_ids: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        instance_id: str | None = None,
        instance_type: str | None = None,
        status: EipStatus | None = None,
    ) -> list[Eip]:
        """DescribeEipAddresses with every given filter (AND), all pages, IDs in batches of 50."""
        ...

    async def get_eip(self, allocation_id: str) -> Eip | None:
        """One EIP, or ``None`` if it does not exist (any more)."""
        ...

    async def associate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        """AssociateEipAddress to ``private_ip`` on ``eni_id``; returns when accepted."""
        ...

    async def unassociate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        """UnassociateEipAddress; success if the EIP is gone or no longer bound to that target."""
        ...

    async def release_eip(self, allocation_id: str) -> None:
        """ReleaseEipAddress; success if the EIP is gone or already releasing."""
        ...

    async def tag_eips(self, allocation_ids: Sequence[str], *, tags: Mapping[str, str]) -> None:
        """TagResources (overwrites values of existing keys)."""
        ...

    async def add_to_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        """AddCommonBandwidthPackageIp; success if already a member of that package."""
        ...

    async def remove_from_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        """RemoveCommonBandwidthPackageIp; success if not a member."""
        ...

    async def find_eni(self, private_ip: str) -> Eni | None:
        """The ENI of the configured VPC that holds ``private_ip`` (secondary or primary IP)."""
        ...

    async def wait_for_status(self, allocation_id: str, *, wanted: EipStatus, timeout: float) -> Eip:  # noqa: ASYNC109
        """Poll until the EIP shows ``wanted``.

        ``NotFound`` if it vanishes, ``WaitTimeout`` after ``timeout`` seconds of the provider's
        clock (an injected clock, which is why this is a parameter and not ``asyncio.timeout``).
        """
        ...
