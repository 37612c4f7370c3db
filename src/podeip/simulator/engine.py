"""The simulated Alibaba cloud: one state engine behind both simulated fronts.

Alibaba has no local emulator, so this engine reproduces the documented behaviour of the VPC
and ECS actions the operator uses (docs/alibaba-api.md §3–§6, §12): the EIP state machine with
configurable transition delays, ClientToken idempotency, tags, quotas, per-API throttling,
shared bandwidth packages, ENIs for every private IP of the VPC, a fault plan and a call log.
It speaks the flat OpenAPI query parameters and answers the JSON objects Alibaba sends, so the
HTTP front only has to handle HTTP, and the in-process provider only has to flatten. Time
comes from an injected clock and transitions settle lazily when the engine is next touched;
there is no I/O and no waiting here. All public methods are thread-safe.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes, wire
from podeip.cloud.clock import Clock, wall_clock
from podeip.cloud.models import NETWORK_INTERFACE, Eip, EipStatus, Eni
from podeip.cloud.ratelimit import TokenBucket
from podeip.cloud_apis import APIS, VERSIONS
from podeip.simulator import actions
from podeip.simulator.faults import Fault, FaultPlan
from podeip.simulator.state import (
    AutoEniBlock,
    BandwidthPackage,
    CallRecord,
    EipRecord,
    EngineConfig,
    fail,
    required,
)

#: ``EngineConfig`` lives with the records (``state``) and is re-exported for the engine's callers.
__all__ = [
    "ACTIONS",
    "ECS_VERSION",
    "MUTATIONS",
    "PUBLISHED_LIMITS",
    "VPC_VERSION",
    "CallTicket",
    "Engine",
    "EngineConfig",
]

VPC_VERSION: Final = VERSIONS["vpc"]
ECS_VERSION: Final = VERSIONS["ecs"]
#: Actions answered, by API version (the HTTP front dispatches on ``x-acs-version``): every
#: API of the registry, each with its handler in ``actions``.
ACTIONS: Final[dict[str, frozenset[str]]] = {
    version: frozenset(api.name for api in APIS if api.version == version) for version in VERSIONS.values()
}
MUTATIONS: Final = frozenset(api.name for api in APIS if api.mutation)
#: Alibaba's published per-minute limits (docs/alibaba-api.md §11), used when throttling is on.
PUBLISHED_LIMITS: Final = {api.name: api.published_limit for api in APIS if api.published_limit}


@dataclass(frozen=True)
class CallTicket:
    """A call announced to the engine: when it started and how long the front must delay it."""

    action: str
    started: float
    latency: float
    fault: Fault | None


class Engine:
    """The simulated account in one region. See the module docstring."""

    def __init__(self, config: EngineConfig | None = None, *, clock: Clock = wall_clock) -> None:
        self.config = config or EngineConfig()
        self.clock = clock
        self.faults = FaultPlan()
        self._lock = threading.RLock()
        self._random = random.Random(self.config.seed)
        self.reset()

    # --- lifecycle and seeding (tests, demo) --------------------------------------------------
    def reset(self) -> None:
        """Forget everything: EIPs, ENIs, packages, tokens, calls, faults."""
        with self._lock:
            self.eip_records: dict[str, EipRecord] = {}
            self.enis: dict[str, Eni] = {}
            self.packages: dict[str, BandwidthPackage] = {}
            self.pools: set[str] = set()
            self.tokens: dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], dict[str, Any]]] = {}
            self.calls: list[CallRecord] = []
            self._auto_blocks: dict[str, AutoEniBlock] = {}
            self._buckets = {
                action: TokenBucket(rate=limit.per_minute / 60.0, burst=limit.burst, clock=self.clock)
                for action, limit in self.config.rate_limits.items()
            }
            self._serial = self.config.first_serial
            self._next_ip = 0
            self.faults.clear()

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}-sim{self._serial:017d}"

    def seed_eip(self, **fields: Any) -> Eip:
        """Create an EIP directly (no quota, no call log): bound elsewhere, locked, prepaid, …

        Accepts any ``EipRecord`` field; ``instance_id``/``instance_type`` bind it to something
        that is not ours (an ECS instance, a NAT gateway) for "never rob" tests.
        """
        with self._lock:
            record = EipRecord(
                allocation_id=fields.pop("allocation_id", None) or self.new_id("eip"),
                ip_address=fields.pop("ip_address", None) or self.next_address(),
                region_id=self.config.region_id,
                allocated_at=fields.pop("allocated_at", None) or self.clock(),
                resource_group_id=self.config.default_resource_group_id,
                **fields,
            )
            if record.instance_id and record.status == EipStatus.AVAILABLE:
                record.status = EipStatus.IN_USE
            record.shown_private_ip = record.shown_private_ip or record.private_ip
            self.eip_records[record.allocation_id] = record
            return record.view()

    def edit_eip(self, allocation_id: str, **changes: Any) -> Eip:
        """Change an EIP out of band (strip tags, unbind, lock, …), as another tool would."""
        with self._lock:
            record = self.eip_records[allocation_id]
            for name, value in changes.items():
                setattr(record, name, value)
            if "private_ip" in changes:
                record.shown_private_ip = changes["private_ip"]
            return record.view()

    def delete_eip(self, allocation_id: str) -> None:
        """Release an EIP out of band (someone else released it)."""
        with self._lock:
            self._forget(allocation_id)

    def add_eni(
        self,
        *,
        primary_ip: str,
        private_ips: tuple[str, ...] = (),
        eni_id: str | None = None,
        type: str = "Secondary",
        vpc_id: str | None = None,
        instance_id: str = "",
    ) -> Eni:
        """Register an ENI. An exclusive ENI has the pod IP as ``primary_ip`` and no others."""
        with self._lock:
            eni = Eni(
                eni_id=eni_id or self.new_id("eni"),
                vpc_id=vpc_id or self.config.vpc_id,
                primary_ip=primary_ip,
                private_ips=private_ips,
                type=type,
                instance_id=instance_id,
            )
            self.enis[eni.eni_id] = eni
            return eni

    def add_bandwidth_package(self, *, cbwp_id: str | None = None, isp: str = "BGP") -> str:
        with self._lock:
            package = BandwidthPackage(cbwp_id=cbwp_id or self.new_id("cbwp"), isp=isp)
            self.packages[package.cbwp_id] = package
            return package.cbwp_id

    def add_public_ip_pool(self, pool_id: str) -> None:
        with self._lock:
            self.pools.add(pool_id)

    # --- views (tests, /_sim endpoints, leak audits) -----------------------------------------
    def eips(self) -> list[Eip]:
        """Every EIP of the account, tags included (settled to the engine's clock)."""
        with self._lock:
            self._settle()
            return [record.view() for record in self.eip_records.values()]

    def call_log(self, *, action: str | None = None) -> list[CallRecord]:
        with self._lock:
            return [call for call in self.calls if action is None or call.action == action]

    def mutations(self, *, allocation_id: str | None = None) -> list[CallRecord]:
        """Successful (committed) mutating calls, optionally of one EIP: what a leak audit checks.
        A call on several EIPs (TagResources' ``ResourceId.N``) counts for each of them."""
        with self._lock:
            return [
                call
                for call in self.calls
                if call.action in MUTATIONS
                and call.committed
                and (
                    allocation_id is None
                    or call.allocation_id == allocation_id
                    or any(k.startswith("ResourceId.") and v == allocation_id for k, v in call.params.items())
                )
            ]

    def eni_views(self) -> list[Eni]:
        with self._lock:
            taken = {ip for eni in self.enis.values() for ip in (eni.primary_ip, *eni.private_ips)}
            return [*self.enis.values(), *(block.view(taken=taken) for block in self._auto_blocks.values())]

    # --- the OpenAPI entry point ---------------------------------------------------------------
    def begin(self, action: str) -> CallTicket:
        """Announce a call: the front waits ``latency`` seconds, then calls ``handle``."""
        with self._lock:
            low, high = self.config.latency
            fault = self.faults.take(action)
            latency = self._random.uniform(low, high) + (fault.latency if fault else 0.0)
            return CallTicket(action=action, started=self.clock(), latency=latency, fault=fault)

    def handle(
        self, action: str, params: Mapping[str, str], *, ticket: CallTicket | None = None
    ) -> dict[str, Any]:
        """Run one action on flat query parameters; return the JSON answer or raise CloudError.

        A fault with ``commit=True`` applies the action, then raises (``Transport`` when the
        answer is to be lost): the caller cannot tell whether anything happened.
        """
        ticket = ticket or self.begin(action)
        request_id = str(uuid.UUID(int=self._random.getrandbits(128))).upper()
        with self._lock:
            self._settle()
            answer: dict[str, Any] | None = None
            try:
                fault = ticket.fault
                if fault is not None and fault.code and not fault.commit:
                    raise fail(fault.code, "injected fault")
                bucket = self._buckets.get(action)
                if bucket is not None and not bucket.try_take():
                    raise fail(codes.THROTTLING_USER, "Request was denied due to user flow control.")
                answer = self._dispatch(action, params)
                if fault is not None and fault.commit:
                    raise fail(fault.code or codes.TRANSPORT, "injected fault after commit")
                answer["RequestId"] = request_id
                self._log(ticket, params, request_id, "OK", answer=answer)
                return answer
            except errors.CloudError as error:
                error.request_id, error.operation = request_id, action
                # A committed call whose answer is lost still names the EIP it made (leak audits).
                self._log(
                    ticket,
                    params,
                    request_id,
                    error.code or codes.TRANSPORT,
                    answer=answer,
                    committed=answer is not None,
                )
                raise

    def _dispatch(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        handler = actions.HANDLERS.get(action)
        if handler is None:
            raise fail(codes.ACTION_NOT_FOUND, f"the action {action} is not supported by the simulator")
        region = required(params, "RegionId")
        if region != self.config.region_id:
            raise fail(codes.REGION_NOT_FOUND, f"unknown region {region}")
        if action in MUTATIONS and (token := params.get("ClientToken")):
            return self._idempotent(action, token, params, lambda checked: handler(self, checked))
        return handler(self, params)

    def _idempotent(
        self,
        action: str,
        token: str,
        params: Mapping[str, str],
        handler: Callable[[Mapping[str, str]], dict[str, Any]],
    ) -> dict[str, Any]:
        # Same token and parameters: replay the first answer; other parameters: refuse.
        fingerprint = tuple(sorted((k, v) for k, v in params.items() if k != "ClientToken"))
        if len(token) > 64 or not token.isascii():
            raise fail(codes.INVALID_PARAMETER, "ClientToken must be ASCII, at most 64 characters")
        known = self.tokens.get((action, token))
        if known is not None:
            if known[0] != fingerprint:
                raise fail(codes.IDEMPOTENT_MISMATCH, "the same ClientToken was used with other parameters")
            return dict(known[1])
        answer = handler(params)
        self.tokens[(action, token)] = (fingerprint, dict(answer))
        return answer

    def _log(
        self,
        ticket: CallTicket,
        params: Mapping[str, str],
        request_id: str,
        result: str,
        *,
        answer: Mapping[str, Any] | None = None,
        committed: bool = True,
    ) -> None:
        allocation_id = params.get("AllocationId") or params.get("IpInstanceId") or ""
        if answer is not None and not allocation_id:
            allocation_id = str(answer.get("AllocationId") or "")
        self.calls.append(
            CallRecord(
                action=ticket.action,
                params=dict(params),
                started=ticket.started,
                ended=self.clock(),
                latency=ticket.latency,
                request_id=request_id,
                result=result,
                allocation_id=allocation_id,
                client_token=params.get("ClientToken", ""),
                committed=result == "OK" or committed,
            )
        )

    # --- time --------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Finish every transition whose time has come."""
        now = self.clock()
        for record in list(self.eip_records.values()):
            if record.due is None or record.due > now:
                continue
            if record.pending is None:
                self._forget(record.allocation_id)
                continue
            if record.pending == EipStatus.AVAILABLE:
                record.unbind()
            record.status, record.pending, record.due = record.pending, None, None

    def start_transition(self, record: EipRecord, *, now_status: EipStatus, then: EipStatus | None) -> None:
        record.status, record.pending = now_status, then
        record.due = self.clock() + self.config.transition_delay

    def _forget(self, allocation_id: str) -> None:
        record = self.eip_records.pop(allocation_id, None)
        if record is not None and record.bandwidth_package_id in self.packages:
            self.packages[record.bandwidth_package_id].members.pop(allocation_id, None)

    def next_address(self) -> str:
        network = ipaddress.ip_network(self.config.eip_cidr)
        used = {record.ip_address for record in self.eip_records.values()}
        hosts = list(network.hosts())
        for step in range(len(hosts)):
            candidate = str(hosts[(self._next_ip + step) % len(hosts)])
            if candidate not in used:
                self._next_ip = (self._next_ip + step + 1) % len(hosts)
                return candidate
        raise fail("OperationFailed.InsufficientEIP", "no public address left in the simulator's pool")

    # --- ENI lookup ----------------------------------------------------------------------------
    def eni_by_id(self, eni_id: str) -> Eni | None:
        if eni_id in self.enis:
            return self.enis[eni_id]
        return next((eni for eni in self.eni_views() if eni.eni_id == eni_id), None)

    def materialize_block(self, ip: str) -> None:
        """Make sure the auto ENI of ``ip``'s block exists if ``ip`` is in the VPC and unowned."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise fail(codes.INVALID_PARAMETER, f"{ip} is not an IP address") from None
        if any(eni.holds(ip) for eni in self.enis.values()):
            return
        for cidr in self.config.vpc_cidrs:
            vpc = ipaddress.ip_network(cidr)
            if address in vpc:
                prefix = max(vpc.prefixlen, self.config.eni_block_prefix)
                block = AutoEniBlock(
                    network=ipaddress.IPv4Network(f"{ip}/{prefix}", strict=False), vpc_id=self.config.vpc_id
                )
                self._auto_blocks.setdefault(block.eni_id, block)

    def public_ips(self) -> dict[str, tuple[str, str]]:
        """private IP → (EIP address, allocation ID) of EIPs bound to ENIs."""
        return {
            record.private_ip: (record.ip_address, record.allocation_id)
            for record in self.eip_records.values()
            if record.instance_type == NETWORK_INTERFACE and record.private_ip
        }

    def snapshot(self, allocation_id: str) -> Eip | None:
        with self._lock:
            self._settle()
            record = self.eip_records.get(allocation_id)
            return None if record is None else record.view()

    def describe_answer(self, records: list[EipRecord], *, page: int, page_size: int) -> dict[str, Any]:
        """One page of the matching records: only that page's are built (a listing of 5,000
        EIPs, 50 pages, no longer builds 5,000 records for each page)."""
        chosen = records[(page - 1) * page_size : page * page_size]
        return {
            "TotalCount": len(records),
            "PageNumber": page,
            "PageSize": page_size,
            "EipAddresses": {"EipAddress": [wire.eip_to_map(record.view()) for record in chosen]},
        }

    def with_config(self, **changes: Any) -> None:
        """Change the configuration of a running engine (quota, delays, limits)."""
        with self._lock:
            self.config = replace(self.config, **changes)
            if "rate_limits" in changes:
                self._buckets = {
                    action: TokenBucket(rate=limit.per_minute / 60.0, burst=limit.burst, clock=self.clock)
                    for action, limit in self.config.rate_limits.items()
                }
