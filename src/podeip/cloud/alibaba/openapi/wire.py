"""The OpenAPI wire shapes of the calls we make, written once for every party.

Request parameters are built here as the nested dictionaries the SDK models read
(``Request().from_map``), flattened exactly as the SDK puts them on the query string
(``Tag.1.Key``), and answers are read back from the JSON shapes Alibaba returns
(``EipAddresses.EipAddress[]``). The Alibaba provider, the in-process simulated provider and
the simulator's HTTP front all use these functions, so a wire name exists in one place only
(docs/alibaba-api.md §3, §7.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podeip.cloud.models import NETWORK_INTERFACE, AllocateRequest, Eip, EipStatus, Eni

Params = dict[str, Any]
#: The query string as the server receives it: flat names, string values.
FlatParams = Mapping[str, str]


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _drop_none(params: Params) -> Params:
    return {key: value for key, value in params.items() if value is not None and value != []}


# --- requests -------------------------------------------------------------------------------
def allocate(
    *, region_id: str, request: AllocateRequest, tags: Mapping[str, str], client_token: str
) -> Params:
    return _drop_none(
        {
            "RegionId": region_id,
            "Bandwidth": None if request.bandwidth is None else str(request.bandwidth),
            "InternetChargeType": request.internet_charge_type,
            "InstanceChargeType": request.instance_charge_type,
            "ISP": request.isp,
            "ResourceGroupId": request.resource_group_id,
            "PublicIpAddressPoolId": request.public_ip_address_pool_id,
            "Name": request.name,
            "Description": request.description,
            "SecurityProtectionTypes": list(request.security_protection_types),
            "Tag": _tag_list(tags),
            "ClientToken": client_token,
        }
    )


def describe_eips(
    *,
    region_id: str,
    page: int,
    page_size: int,
    allocation_ids: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    instance_id: str | None = None,
    instance_type: str | None = None,
    status: EipStatus | None = None,
) -> Params:
    return _drop_none(
        {
            "RegionId": region_id,
            "AllocationId": ",".join(allocation_ids) or None,
            "EipAddress": ",".join(ip_addresses) or None,
            "AssociatedInstanceId": instance_id,
            "AssociatedInstanceType": instance_type or (NETWORK_INTERFACE if instance_id else None),
            "Status": None if status is None else str(status),
            "Tag": _tag_list(tags or {}),
            "PageNumber": page,
            "PageSize": page_size,
        }
    )


def binding(*, region_id: str, allocation_id: str, eni_id: str, private_ip: str, client_token: str) -> Params:
    """Parameters of Associate and Unassociate for a pod IP on an ENI."""
    return {
        "RegionId": region_id,
        "AllocationId": allocation_id,
        "InstanceId": eni_id,
        "InstanceType": NETWORK_INTERFACE,
        "PrivateIpAddress": private_ip,
        "ClientToken": client_token,
    }


def release(*, region_id: str, allocation_id: str) -> Params:
    return {"RegionId": region_id, "AllocationId": allocation_id}


def tag_resources(*, region_id: str, allocation_ids: Sequence[str], tags: Mapping[str, str]) -> Params:
    return {
        "RegionId": region_id,
        "ResourceType": "EIP",
        "ResourceId": list(allocation_ids),
        "Tag": _tag_list(tags),
    }


def bandwidth_package_ip(
    *, region_id: str, allocation_id: str, bandwidth_package_id: str, client_token: str
) -> Params:
    """Parameters of Add- and RemoveCommonBandwidthPackageIp."""
    return {
        "RegionId": region_id,
        "BandwidthPackageId": bandwidth_package_id,
        "IpInstanceId": allocation_id,
        "ClientToken": client_token,
    }


def describe_enis(
    *, region_id: str, vpc_id: str, private_ips: Sequence[str] = (), primary_ip: str | None = None
) -> Params:
    return _drop_none(
        {
            "RegionId": region_id,
            "VpcId": vpc_id or None,
            "PrivateIpAddress": list(private_ips) or None,
            "PrimaryIpAddress": primary_ip,
            "MaxResults": 100,
        }
    )


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The query string the SDK sends for ``params`` (lists 1-based, None dropped)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value, start=1):
                if isinstance(item, Mapping):
                    flat.update(flatten(item, f"{name}.{index}."))
                elif item is not None:
                    flat[f"{name}.{index}"] = str(item)
        else:
            flat[name] = str(value)
    return flat


def flat_list(params: FlatParams, prefix: str) -> list[str]:
    """``ResourceId.1``, ``ResourceId.2``, … back into a list, in index order."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)$")
    found = sorted((int(m.group(1)), value) for key, value in params.items() if (m := pattern.match(key)))
    return [value for _, value in found]


def flat_items(params: FlatParams, prefix: str) -> list[dict[str, str]]:
    """``Tag.1.Key``/``Tag.1.Value``, … back into a list of dicts, in index order."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(\w+)$")
    items: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if m := pattern.match(key):
            items.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [items[index] for index in sorted(items)]


# --- answers --------------------------------------------------------------------------------
def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wrapped(data: Mapping[str, Any], outer: str, inner: str) -> list[Any]:
    """Alibaba wraps lists twice: ``{"Tags": {"Tag": [...]}}``; either level may be missing."""
    return list((data.get(outer) or {}).get(inner) or [])


def eip_from_map(data: Mapping[str, Any]) -> Eip:
    bandwidth = data.get("Bandwidth")
    locks = _wrapped(data, "OperationLocks", "LockReason")
    return Eip(
        allocation_id=data["AllocationId"],
        ip_address=data.get("IpAddress") or "",
        status=EipStatus(data["Status"]),
        instance_id=data.get("InstanceId") or "",
        instance_type=data.get("InstanceType") or "",
        private_ip_address=data.get("PrivateIpAddress") or "",
        bandwidth=int(bandwidth) if bandwidth not in (None, "") else None,
        internet_charge_type=data.get("InternetChargeType") or "",
        instance_charge_type=data.get("ChargeType") or "",
        isp=data.get("ISP") or "",
        resource_group_id=data.get("ResourceGroupId") or "",
        public_ip_address_pool_id=data.get("PublicIpAddressPoolId") or "",
        bandwidth_package_id=data.get("BandwidthPackageId") or "",
        name=data.get("Name") or "",
        description=data.get("Description") or "",
        region_id=data.get("RegionId") or "",
        vpc_id=data.get("VpcId") or "",
        mode=data.get("Mode") or "",
        tags={tag["Key"]: tag.get("Value") or "" for tag in _wrapped(data, "Tags", "Tag")},
        allocation_time=_time(data.get("AllocationTime")),
        deletion_protection=bool(data.get("DeletionProtection")),
        locked=bool(locks) or data.get("BusinessStatus", "Normal") != "Normal",
        security_protection_types=tuple(_wrapped(data, "SecurityProtectionTypes", "SecurityProtectionType")),
    )


def eip_to_map(eip: Eip) -> dict[str, Any]:
    """The ``EipAddress`` item of a ``DescribeEipAddresses`` answer (the simulator sends it)."""
    return {
        "AllocationId": eip.allocation_id,
        "IpAddress": eip.ip_address,
        "Status": str(eip.status),
        "InstanceId": eip.instance_id,
        "InstanceType": eip.instance_type,
        "InstanceRegionId": eip.region_id if eip.instance_id else "",
        "PrivateIpAddress": eip.private_ip_address,
        "Bandwidth": "" if eip.bandwidth is None else str(eip.bandwidth),
        "EipBandwidth": "" if eip.bandwidth is None else str(eip.bandwidth),
        "InternetChargeType": eip.internet_charge_type,
        "ChargeType": eip.instance_charge_type,
        "ISP": eip.isp,
        "Netmode": "public",
        "ResourceGroupId": eip.resource_group_id,
        "PublicIpAddressPoolId": eip.public_ip_address_pool_id,
        "BandwidthPackageId": eip.bandwidth_package_id,
        "Name": eip.name,
        "Description": eip.description,
        "RegionId": eip.region_id,
        "VpcId": eip.vpc_id,
        "Mode": eip.mode,
        "AllocationTime": format_time(eip.allocation_time) if eip.allocation_time else "",
        "DeletionProtection": eip.deletion_protection,
        "BusinessStatus": "OperationLock" if eip.locked else "Normal",
        "OperationLocks": {"LockReason": [{"LockReason": "financial"}] if eip.locked else []},
        "Tags": {"Tag": [{"Key": key, "Value": value} for key, value in eip.tags.items()]},
        "SecurityProtectionTypes": {"SecurityProtectionType": list(eip.security_protection_types)},
    }


def eips_from_answer(data: Mapping[str, Any]) -> tuple[list[Eip], int]:
    """The EIPs of one ``DescribeEipAddresses`` page and the total count."""
    items = _wrapped(data, "EipAddresses", "EipAddress")
    return [eip_from_map(item) for item in items], int(data.get("TotalCount") or 0)


def eni_from_map(data: Mapping[str, Any]) -> Eni:
    primary = data.get("PrivateIpAddress") or ""
    ips = [item["PrivateIpAddress"] for item in _wrapped(data, "PrivateIpSets", "PrivateIpSet")]
    return Eni(
        eni_id=data["NetworkInterfaceId"],
        vpc_id=data.get("VpcId") or "",
        primary_ip=primary,
        private_ips=tuple(ip for ip in ips if ip != primary),
        type=data.get("Type") or "Secondary",
        instance_id=data.get("InstanceId") or "",
        vswitch_id=data.get("VSwitchId") or "",
        status=data.get("Status") or "",
    )


def eni_to_map(eni: Eni, *, public_ips: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """A ``NetworkInterfaceSet`` item; ``public_ips`` maps a private IP to (EIP address, ID)."""

    def ip_set(ip: str, primary: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"PrivateIpAddress": ip, "Primary": primary}
        if ip in public_ips:
            address, allocation_id = public_ips[ip]
            item["AssociatedPublicIp"] = {"PublicIpAddress": address, "AllocationId": allocation_id}
        return item

    return {
        "NetworkInterfaceId": eni.eni_id,
        "Type": eni.type,
        "Status": eni.status,
        "VpcId": eni.vpc_id,
        "VSwitchId": eni.vswitch_id,
        "InstanceId": eni.instance_id,
        "PrivateIpAddress": eni.primary_ip,
        "PrivateIpSets": {
            "PrivateIpSet": [ip_set(eni.primary_ip, True), *(ip_set(ip, False) for ip in eni.private_ips)]
        },
        "Tags": {"Tag": []},
    }


def enis_from_answer(data: Mapping[str, Any]) -> list[Eni]:
    return [eni_from_map(item) for item in _wrapped(data, "NetworkInterfaceSets", "NetworkInterfaceSet")]


def chunks(values: Iterable[str], size: int) -> list[list[str]]:
    """Split a list of IDs into batches of the API's maximum size."""
    listed = list(values)
    return [listed[start : start + size] for start in range(0, len(listed), size)]
