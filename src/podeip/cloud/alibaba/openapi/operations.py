"""The behaviour shared by every EipProvider, on top of one raw ``_call(action, params)``.

Rate limiting, retries, paging, batching, "already done means success" and bounded waits are
the same whether the answer comes from Alibaba through the SDK or from the simulated engine
in process, so they live here once. A provider only says how to send one OpenAPI action and
get its JSON answer back (or a classified ``CloudError``).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from podeip.cloud import errors, retry
from podeip.cloud.alibaba.openapi import codes, wire
from podeip.cloud.clock import Clock, Sleep
from podeip.cloud.models import AllocateRequest, Allocation, Eip, EipStatus, Eni
from podeip.cloud.provider import single_eni
from podeip.cloud.ratelimit import RateLimiter
from podeip.settings import RateLimit

logger = logging.getLogger(__name__)

#: API maxima, as Alibaba documents them:
#: - DescribeEipAddresses ``AllocationId`` (and ``EipAddress``): "up to 50 EIP IDs, separated
#:   by commas" (VPC API reference, DescribeEipAddresses; ../shared/reference/alibaba-openapi.md
#:   §3.3); ``PageSize`` at most 100 (same page). TagResources ``ResourceId.N``: at most 50.
#: - DescribeNetworkInterfaces ``PrivateIpAddress.N``: "Valid values of N: 1 to 100" (ECS API
#:   reference, and the docstring of the SDK's ``DescribeNetworkInterfacesRequest``, §3.10);
#:   ``MaxResults`` 10 to 500.
IDS_PER_DESCRIBE: Final = 50
PAGE_SIZE: Final = 100
IPS_PER_ENI_DESCRIBE: Final = 100


class CallObserver(Protocol):
    """Told about every single call (retries included): metrics hang here."""

    def called(self, action: str, *, error_code: str, seconds: float) -> None: ...

    def retried(self, action: str) -> None: ...


class EipOperations(abc.ABC):
    """Implements ``EipProvider`` given ``_call``; subclasses add only the transport."""

    #: Set by the composition root; ``None`` records nothing.
    observer: CallObserver | None = None

    def __init__(
        self,
        *,
        region_id: str,
        vpc_id: str,
        rate_limits: Mapping[str, RateLimit],
        policies: Mapping[str, retry.BackoffPolicy] | None = None,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.region_id = region_id
        self.vpc_id = vpc_id
        self._limiter = RateLimiter(rate_limits, clock=clock, sleep=sleep)
        self._policies = dict(policies or retry.POLICIES)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    #: The port's mutating methods, by the API name their rate limit is kept under.
    _APIS: Final = {"associate_eip": "AssociateEipAddress", "unassociate_eip": "UnassociateEipAddress"}

    def ensure_slot(self, method: str) -> None:
        """``RateLimited`` (the slot reserved for this pass) if ``method`` would wait for its
        rate limit beyond what this task may: see ``RateLimiter.ensure``."""
        self._limiter.ensure(self._APIS[method])

    @abc.abstractmethod
    async def _call(self, action: str, params: wire.Params) -> Mapping[str, Any]:
        """Send one OpenAPI action once; return the answer or raise a classified CloudError."""

    async def _invoke(self, action: str, params: wire.Params) -> Mapping[str, Any]:
        async def once() -> Mapping[str, Any]:
            await self._limiter.acquire(action)
            started = time.perf_counter()
            try:
                answer = await self._call(action, params)
            except errors.CloudError as error:
                if self.observer is not None:
                    code = error.code or type(error).__name__
                    self.observer.called(action, error_code=code, seconds=time.perf_counter() - started)
                raise
            if self.observer is not None:
                self.observer.called(action, error_code="", seconds=time.perf_counter() - started)
            return answer

        def note(error: errors.CloudError, pause: float) -> None:
            if self.observer is not None:
                self.observer.retried(action)
            logger.warning(
                "cloud call will be retried",
                extra={
                    "operation": action,
                    "error_code": error.code,
                    "request_id": error.request_id,
                    "retry_in_seconds": round(pause, 3),
                },
            )

        answer = await retry.retrying(
            once, policy=self._policies[retry.API], sleep=self._sleep, rng=self._rng, on_retry=note
        )
        logger.debug("cloud call done", extra={"operation": action, "request_id": answer.get("RequestId")})
        return answer

    # --- EipProvider ------------------------------------------------------------------------
    async def allocate_eip(
        self, request: AllocateRequest, *, owner_tags: Mapping[str, str], client_token: str
    ) -> Allocation:
        params = wire.allocate(
            region_id=self.region_id,
            request=request,
            tags={**request.tags, **owner_tags},
            client_token=client_token,
        )
        answer = await self._invoke("AllocateEipAddress", params)
        return Allocation(
            allocation_id=answer["AllocationId"],
            ip_address=answer.get("EipAddress") or "",
            resource_group_id=answer.get("ResourceGroupId") or None,
            request_id=answer.get("RequestId"),
        )

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
        # Batches are needed only for ID lists; the API takes up to 50 comma-separated values.
        batches: list[tuple[list[str], list[str]]] = [
            *((batch, []) for batch in wire.chunks(allocation_ids, IDS_PER_DESCRIBE)),
            *(([], batch) for batch in wire.chunks(ip_addresses, IDS_PER_DESCRIBE)),
        ]
        found: dict[str, Eip] = {}
        for ids, addresses in batches or [([], [])]:
            for page in range(1, 10_000):
                params = wire.describe_eips(
                    region_id=self.region_id,
                    page=page,
                    page_size=PAGE_SIZE,
                    allocation_ids=ids,
                    ip_addresses=addresses,
                    tags=tags,
                    instance_id=instance_id,
                    instance_type=instance_type,
                    status=status,
                )
                eips, total = wire.eips_from_answer(await self._invoke("DescribeEipAddresses", params))
                found.update((eip.allocation_id, eip) for eip in eips)
                if not eips or page * PAGE_SIZE >= total:
                    break
        if allocation_ids and ip_addresses:
            found = {
                key: eip
                for key, eip in found.items()
                if key in allocation_ids and eip.ip_address in ip_addresses
            }
        return list(found.values())

    async def get_eip(self, allocation_id: str) -> Eip | None:
        eips = await self.describe_eips(allocation_ids=[allocation_id])
        return next((eip for eip in eips if eip.allocation_id == allocation_id), None)

    async def associate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        params = wire.binding(
            region_id=self.region_id,
            allocation_id=allocation_id,
            eni_id=eni_id,
            private_ip=private_ip,
            client_token=client_token,
        )
        params["Mode"] = "NAT"
        try:
            await self._invoke("AssociateEipAddress", params)
        except errors.InvalidState as error:
            # Already bound to exactly this target (e.g. a retry without the original token):
            # done. Anything else stays an error for the caller to decide on.
            eip = await self._reread(error, allocation_id)
            bound = eip is not None and eip.is_bound_to(eni_id=eni_id, private_ip=private_ip)
            if not bound or eip is None or eip.status not in {EipStatus.ASSOCIATING, EipStatus.IN_USE}:
                raise

    async def unassociate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        params = wire.binding(
            region_id=self.region_id,
            allocation_id=allocation_id,
            eni_id=eni_id,
            private_ip=private_ip,
            client_token=client_token,
        )
        try:
            await self._invoke("UnassociateEipAddress", params)
        except (errors.NotFound, errors.InvalidState) as error:
            # Success only when a re-read shows the EIP gone, leaving, or bound elsewhere.
            eip = await self._reread(error, allocation_id)
            if eip is None or eip.status in {EipStatus.UNASSOCIATING, EipStatus.AVAILABLE}:
                return
            if eip.is_bound_to(eni_id=eni_id, private_ip=private_ip):
                raise
            logger.info(
                "EIP is bound to another target; nothing to unassociate",
                extra={"allocation_id": allocation_id, "operation": "UnassociateEipAddress"},
            )

    async def release_eip(self, allocation_id: str) -> None:
        try:
            await self._invoke(
                "ReleaseEipAddress", wire.release(region_id=self.region_id, allocation_id=allocation_id)
            )
        except errors.NotFound:
            return
        except errors.InvalidState as error:
            eip = await self._reread(error, allocation_id)
            if eip is not None and eip.status != EipStatus.RELEASING:
                raise

    async def tag_eips(self, allocation_ids: Sequence[str], *, tags: Mapping[str, str]) -> None:
        for batch in wire.chunks(allocation_ids, IDS_PER_DESCRIBE):
            await self._invoke(
                "TagResources", wire.tag_resources(region_id=self.region_id, allocation_ids=batch, tags=tags)
            )

    async def add_to_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        params = wire.bandwidth_package_ip(
            region_id=self.region_id,
            allocation_id=allocation_id,
            bandwidth_package_id=bandwidth_package_id,
            client_token=client_token,
        )
        params["IpType"] = "EIP"
        try:
            await self._invoke("AddCommonBandwidthPackageIp", params)
        except errors.InvalidState as error:
            if error.code != codes.CBWP_ALREADY_MEMBER:
                raise
            eip = await self._reread(error, allocation_id)
            if eip is None or eip.bandwidth_package_id != bandwidth_package_id:
                raise

    async def remove_from_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        params = wire.bandwidth_package_ip(
            region_id=self.region_id,
            allocation_id=allocation_id,
            bandwidth_package_id=bandwidth_package_id,
            client_token=client_token,
        )
        try:
            await self._invoke("RemoveCommonBandwidthPackageIp", params)
        except errors.NotFound as error:
            # The EIP itself is gone, so it is in no package; a missing package stays an error.
            if error.code != codes.CBWP_IP_NOT_FOUND:
                raise
        except errors.InvalidState as error:
            if error.code not in {codes.CBWP_NOT_MEMBER, codes.CBWP_NOT_MEMBER_ALT}:
                raise

    async def find_eni(self, private_ip: str) -> Eni | None:
        return single_eni(private_ip, (await self.find_enis([private_ip]))[private_ip])

    async def find_enis(self, private_ips: Sequence[str]) -> dict[str, tuple[Eni, ...]]:
        # Secondary IPs first, up to 100 per call (pods on shared ENIs); then, one call each,
        # the primary IP of those not found (exclusive ENIs: the filter takes one value).
        wanted = list(dict.fromkeys(ip for ip in private_ips if ip))
        found: dict[str, tuple[Eni, ...]] = {ip: () for ip in wanted}
        for batch in wire.chunks(wanted, IPS_PER_ENI_DESCRIBE):
            enis = await self._enis(
                wire.describe_enis(region_id=self.region_id, vpc_id=self.vpc_id, private_ips=batch)
            )
            for ip in batch:
                found[ip] = tuple(eni for eni in enis if eni.holds(ip))
        for ip in [ip for ip in wanted if not found[ip]]:
            enis = await self._enis(
                wire.describe_enis(region_id=self.region_id, vpc_id=self.vpc_id, primary_ip=ip)
            )
            found[ip] = tuple(eni for eni in enis if eni.holds(ip))
        return found

    async def _enis(self, params: wire.Params) -> list[Eni]:
        """Every page of one DescribeNetworkInterfaces query."""
        enis: list[Eni] = []
        while True:
            answer = await self._invoke("DescribeNetworkInterfaces", params)
            enis.extend(wire.enis_from_answer(answer))
            token = answer.get("NextToken") or ""
            if not token:
                return enis
            params = {**params, "NextToken": token}

    async def wait_for_status(self, allocation_id: str, *, wanted: EipStatus, timeout: float) -> Eip:  # noqa: ASYNC109
        eip = await retry.polling(
            lambda: self.get_eip(allocation_id),
            done=lambda found: found is None or found.status == wanted,
            timeout=timeout,
            policy=self._policies[retry.ASYNC_STATE],
            clock=self._clock,
            sleep=self._sleep,
            rng=self._rng,
            what=f"{allocation_id} {wanted}",
        )
        if eip is None:
            raise errors.NotFound(
                f"{allocation_id} disappeared", code=codes.EIP_NOT_FOUND, operation="DescribeEipAddresses"
            )
        return eip

    async def _reread(self, error: errors.CloudError, allocation_id: str) -> Eip | None:
        logger.info(
            "re-reading EIP after error",
            extra={
                "allocation_id": allocation_id,
                "operation": error.operation,
                "error_code": error.code,
                "request_id": error.request_id,
            },
        )
        return await self.get_eip(allocation_id)
