"""The cloud operations the operator needs, as one async Protocol.

Reconcilers depend on this Protocol only. Two implementations exist side by side: the
Alibaba provider on the official SDKs and the simulated provider on the in-process engine;
one contract suite (``tests/contract``) runs against both. Every mutating call takes the
caller's ClientToken where Alibaba accepts one, and calls that find their work already done
(releasing a missing EIP, removing a non-member from a bandwidth package) succeed.

Reads come in batch forms, since Describe calls are rate-limited per account: ``describe_eips``
takes many allocation IDs (the provider sends them in as few calls as the API allows: 50 IDs
per DescribeEipAddresses), and ``find_enis`` many pod IPs (100 per DescribeNetworkInterfaces).
The operator reaches the provider through ``podeip.cloud.observed.ObservedEips``, which
remembers observations and coalesces single looks into these batch forms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from podeip.cloud.errors import InvalidState
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
        """DescribeEipAddresses with every given filter (AND), all pages, IDs in batches of 50.

        The batch form of ``get_eip``: an ID that is not in the answer does not exist (any more).
        """
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

    async def find_enis(self, private_ips: Sequence[str]) -> dict[str, tuple[Eni, ...]]:
        """The batch form of ``find_eni``: for every IP given (each a key), the ENIs of the
        configured VPC that hold it; normally exactly one, none for an IP outside the VPC.
        ``single_eni`` turns one entry into ``find_eni``'s answer."""
        ...

    async def wait_for_status(self, allocation_id: str, *, wanted: EipStatus, timeout: float) -> Eip:  # noqa: ASYNC109
        """Poll until the EIP shows ``wanted``.

        ``NotFound`` if it vanishes, ``WaitTimeout`` after ``timeout`` seconds of the provider's
        clock (an injected clock, which is why this is a parameter and not ``asyncio.timeout``).
        """
        ...


def single_eni(private_ip: str, enis: Sequence[Eni]) -> Eni | None:
    """``find_eni``'s answer from the ENIs found for one IP: a private IP is unique in a VPC,
    so more than one ENI is an inconsistency we refuse to guess through."""
    if len(enis) > 1:
        raise InvalidState(
            f"{len(enis)} ENIs hold {private_ip}",
            code="PodeipAmbiguousEni",
            operation="DescribeNetworkInterfaces",
        )
    return enis[0] if enis else None
