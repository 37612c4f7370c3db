"""What each simulated OpenAPI action does to the engine's state, and what it answers.

One function per action, on the flat query parameters the SDK sends; each checks what
Alibaba documents for that action (docs/alibaba-api.md §3, §4) and raises the documented codes
through ``podeip.cloud.alibaba.openapi.codes``. The engine calls these with its lock held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from podeip.cloud.alibaba.openapi import codes, wire
from podeip.cloud.models import NETWORK_INTERFACE, EipStatus
from podeip.simulator.state import Account, EipRecord, check_tags, fail, required

Answer = dict[str, Any]
INTERNET_CHARGE_TYPES: Final = {"PayByBandwidth": 500, "PayByTraffic": 200}
INSTANCE_CHARGE_TYPES: Final = frozenset({"PostPaid", "PrePaid"})
ISPS: Final = frozenset({"BGP", "BGP_PRO", "BGP_FinanceCloud", "ChinaTelecom", "ChinaUnicom", "ChinaMobile"})
INSTANCE_TYPES: Final = frozenset(
    {"EcsInstance", "SlbInstance", "Nat", "HaVip", NETWORK_INTERFACE, "IpAddress"}
)
SECURITY_PROTECTION_TYPES: Final = frozenset({"AntiDDoS_Enhanced"})


def _record(engine: Account, allocation_id: str, *, code: str = codes.EIP_NOT_FOUND) -> EipRecord:
    record = engine.eip_records.get(allocation_id)
    if record is None:
        raise fail(code, f"the EIP {allocation_id} does not exist")
    return record


def _int(params: Mapping[str, str], name: str, *, default: int, low: int, high: int, code: str) -> int:
    text = params.get(name) or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise fail(code, f"{name}={text!r} is not an integer in [{low}, {high}]")
    return int(text)


def allocate(engine: Account, params: Mapping[str, str]) -> Answer:
    charge = params.get("InternetChargeType") or "PayByBandwidth"
    if charge not in INTERNET_CHARGE_TYPES:
        raise fail(codes.INVALID_PARAMETER, f"InternetChargeType {charge!r} is not supported")
    bandwidth = _int(
        params,
        "Bandwidth",
        default=5,
        low=1,
        high=INTERNET_CHARGE_TYPES[charge],
        code="InvalidBandwidth.Malformed",
    )
    instance_charge = params.get("InstanceChargeType") or "PostPaid"
    if instance_charge not in INSTANCE_CHARGE_TYPES:
        raise fail(codes.INVALID_PARAMETER, f"InstanceChargeType {instance_charge!r} is not supported")
    isp = params.get("ISP") or "BGP"
    if isp not in ISPS:
        raise fail("IllegalParam.Isp", f"ISP {isp!r} is not supported")
    group = params.get("ResourceGroupId") or engine.config.default_resource_group_id
    if not group.startswith("rg-"):
        raise fail("InvalidResourceGroupId", f"resource group {group!r} does not exist")
    pool = params.get("PublicIpAddressPoolId") or ""
    if pool and pool not in engine.pools:
        raise fail("ResourceNotFound.PublicIpAddressPool", f"pool {pool!r} does not exist")
    protection = tuple(wire.flat_list(params, "SecurityProtectionTypes"))
    if len(protection) > 1 or not set(protection) <= SECURITY_PROTECTION_TYPES:
        raise fail(codes.INVALID_PARAMETER, f"SecurityProtectionTypes {protection} not supported")
    tags = check_tags(wire.flat_items(params, "Tag"))
    if len(engine.eip_records) >= engine.config.quota:
        raise fail(codes.QUOTA_EIP, f"the EIP quota of {engine.config.quota} is used up")
    record = EipRecord(
        allocation_id=engine.new_id("eip"),
        ip_address=engine.next_address(),
        region_id=engine.config.region_id,
        allocated_at=engine.clock(),
        bandwidth=bandwidth,
        internet_charge_type=charge,
        instance_charge_type=instance_charge,
        isp=isp,
        resource_group_id=group,
        public_ip_address_pool_id=pool,
        name=params.get("Name", ""),
        description=params.get("Description", ""),
        security_protection_types=protection,
        tags=tags,
    )
    engine.eip_records[record.allocation_id] = record
    return {"AllocationId": record.allocation_id, "EipAddress": record.ip_address, "ResourceGroupId": group}


def describe(engine: Account, params: Mapping[str, str]) -> Answer:
    page = _int(params, "PageNumber", default=1, low=1, high=10**6, code=codes.INVALID_PARAMETER)
    page_size = _int(params, "PageSize", default=10, low=1, high=100, code=codes.INVALID_PARAMETER)
    ids = [item for item in (params.get("AllocationId") or "").split(",") if item]
    addresses = [item for item in (params.get("EipAddress") or "").split(",") if item]
    if len(ids) > 50 or len(addresses) > 50:
        raise fail(codes.INVALID_PARAMETER, "at most 50 values per filter")
    status = params.get("Status")
    instance_type = params.get("AssociatedInstanceType")
    if instance_type and instance_type not in INSTANCE_TYPES:
        raise fail("InvalidIAssociatedInstanceType.ValueNotSupported", f"{instance_type!r}")
    instance_id = params.get("AssociatedInstanceId")
    tag_filter = wire.flat_items(params, "Tag")
    for tag in tag_filter:
        if not tag.get("Key"):
            raise fail(codes.INVALID_TAG_KEY, "a tag filter needs a key")

    def wanted(record: EipRecord) -> bool:
        return (
            (not ids or record.allocation_id in ids)
            and (not addresses or record.ip_address in addresses)
            and (not status or record.status == status)
            and (not instance_type or record.instance_type == instance_type)
            and (not instance_id or record.instance_id == instance_id)
            and all(
                tag["Key"] in record.tags and ("Value" not in tag or record.tags[tag["Key"]] == tag["Value"])
                for tag in tag_filter
            )
        )

    found = [record for record in engine.eip_records.values() if wanted(record)]
    return engine.describe_answer(found, page=page, page_size=page_size)


def associate(engine: Account, params: Mapping[str, str]) -> Answer:
    record = _record(engine, required(params, "AllocationId"))
    instance_id = required(params, "InstanceId")
    instance_type = params.get("InstanceType") or "EcsInstance"
    if instance_type != NETWORK_INTERFACE:
        raise fail("InvalidInstanceType.ValueNotSupported", "the simulator binds EIPs to ENIs only")
    private_ip = params.get("PrivateIpAddress") or ""
    if private_ip:
        engine.materialize_block(private_ip)
    eni = engine.eni_by_id(instance_id)
    if eni is None:
        raise fail(codes.INSTANCE_NOT_FOUND, f"the ENI {instance_id} does not exist")
    private_ip = private_ip or eni.primary_ip
    if not eni.holds(private_ip):
        raise fail(codes.PARAMS_NOT_FOUND, f"{private_ip} is not an IP of {instance_id}")
    record.check_mutable()
    if record.status != EipStatus.AVAILABLE:
        raise fail(codes.INCORRECT_EIP_STATUS, f"{record.allocation_id} is {record.status}")
    taken = [
        other
        for other in engine.eip_records.values()
        if other.instance_id == instance_id and other.private_ip == private_ip
    ]
    if taken:
        raise fail(codes.ASSOCIATION_DUPLICATED, f"{private_ip} of {instance_id} already has an EIP")
    record.instance_id, record.instance_type, record.private_ip = instance_id, instance_type, private_ip
    # Alibaba shows an empty PrivateIpAddress when the EIP is on the ENI's primary IP.
    record.shown_private_ip = "" if private_ip == eni.primary_ip else private_ip
    record.vpc_id, record.mode = eni.vpc_id, params.get("Mode") or "NAT"
    engine.start_transition(record, now_status=EipStatus.ASSOCIATING, then=EipStatus.IN_USE)
    return {}


def unassociate(engine: Account, params: Mapping[str, str]) -> Answer:
    record = _record(engine, required(params, "AllocationId"))
    record.check_mutable()
    if record.status != EipStatus.IN_USE:
        raise fail(codes.INCORRECT_EIP_STATUS, f"{record.allocation_id} is {record.status}")
    instance_id = params.get("InstanceId")
    private_ip = params.get("PrivateIpAddress")
    if (instance_id and instance_id != record.instance_id) or (
        private_ip and private_ip != record.private_ip
    ):
        raise fail(codes.BIND_INSTANCE_NOT_FOUND, f"{record.allocation_id} is not bound to that target")
    engine.start_transition(record, now_status=EipStatus.UNASSOCIATING, then=EipStatus.AVAILABLE)
    return {}


def release(engine: Account, params: Mapping[str, str]) -> Answer:
    record = _record(engine, required(params, "AllocationId"))
    if record.instance_charge_type == "PrePaid":
        raise fail(codes.PREPAID, "subscription EIPs cannot be released")
    if record.deletion_protection:
        raise fail(codes.DELETION_PROTECTION, "deletion protection is on")
    if record.status == EipStatus.RELEASING:
        raise fail(codes.INCORRECT_EIP_STATUS, f"{record.allocation_id} is {record.status}")
    record.check_mutable()
    if record.status != EipStatus.AVAILABLE:
        raise fail(codes.INCORRECT_EIP_STATUS, f"{record.allocation_id} is {record.status}")
    engine.start_transition(record, now_status=EipStatus.RELEASING, then=None)
    return {}


def tag_resources(engine: Account, params: Mapping[str, str]) -> Answer:
    if required(params, "ResourceType").upper() != "EIP":
        raise fail(codes.TAG_RESOURCE_TYPE, "the simulator tags EIPs only")
    ids = wire.flat_list(params, "ResourceId")
    tags = check_tags(wire.flat_items(params, "Tag"))
    if not ids or not tags:
        raise fail(codes.MISSING_PARAMETER, "ResourceId.N and Tag.N are mandatory")
    if len(ids) > 50:
        raise fail("SizeLimitExceeded.ResourceId", "at most 50 resources")
    records = [_record(engine, allocation_id, code=codes.TAG_RESOURCE_IDS) for allocation_id in ids]
    for record in records:
        if len({**record.tags, **tags}) > 20:
            raise fail(codes.QUOTA_TAGS, f"{record.allocation_id} would have more than 20 tags")
    for record in records:
        record.tags.update(tags)
    return {}


def add_to_package(engine: Account, params: Mapping[str, str]) -> Answer:
    package = engine.packages.get(required(params, "BandwidthPackageId"))
    if package is None:
        raise fail(codes.CBWP_NOT_FOUND, "the bandwidth package does not exist")
    record = _record(engine, required(params, "IpInstanceId"), code=codes.CBWP_IP_NOT_FOUND)
    if record.bandwidth_package_id:
        raise fail(codes.CBWP_ALREADY_MEMBER, f"{record.allocation_id} is in {record.bandwidth_package_id}")
    if record.instance_charge_type != "PostPaid":
        raise fail("IpInstanceId.ChargeType.NotSupport", "only pay-as-you-go EIPs join a package")
    if record.isp != package.isp:
        raise fail(codes.INVALID_PARAMETER, f"ISP {record.isp} differs from the package's {package.isp}")
    record.check_mutable()
    record.bandwidth_package_id = package.cbwp_id
    package.members[record.allocation_id] = "BINDED"
    return {}


def remove_from_package(engine: Account, params: Mapping[str, str]) -> Answer:
    package = engine.packages.get(required(params, "BandwidthPackageId"))
    if package is None:
        raise fail(codes.CBWP_NOT_FOUND, "the bandwidth package does not exist")
    record = _record(engine, required(params, "IpInstanceId"), code=codes.CBWP_IP_NOT_FOUND)
    if record.allocation_id not in package.members:
        raise fail(codes.CBWP_NOT_MEMBER, f"{record.allocation_id} is not in {package.cbwp_id}")
    record.check_mutable()
    record.bandwidth_package_id = ""
    del package.members[record.allocation_id]
    return {}


def describe_enis(engine: Account, params: Mapping[str, str]) -> Answer:
    private_ips = wire.flat_list(params, "PrivateIpAddress")
    if len(private_ips) > 100:
        raise fail(codes.INVALID_PARAMETER, "at most 100 PrivateIpAddress values")
    primary = params.get("PrimaryIpAddress")
    for ip in [*private_ips, *([primary] if primary else [])]:
        engine.materialize_block(ip)
    vpc_id = params.get("VpcId")
    ids = wire.flat_list(params, "NetworkInterfaceId")
    found = [
        eni
        for eni in engine.eni_views()
        if (not vpc_id or eni.vpc_id == vpc_id)
        and (not ids or eni.eni_id in ids)
        # Documented: PrivateIpAddress.N matches secondary IPs; PrimaryIpAddress the primary.
        and (not private_ips or any(ip in eni.private_ips for ip in private_ips))
        and (not primary or eni.primary_ip == primary)
    ]
    public_ips = engine.public_ips()
    return {
        "TotalCount": len(found),
        "NextToken": "",
        "NetworkInterfaceSets": {
            "NetworkInterfaceSet": [wire.eni_to_map(eni, public_ips=public_ips) for eni in found]
        },
    }


HANDLERS: Final[dict[str, Callable[[Account, Mapping[str, str]], Answer]]] = {
    "AllocateEipAddress": allocate,
    "DescribeEipAddresses": describe,
    "AssociateEipAddress": associate,
    "UnassociateEipAddress": unassociate,
    "ReleaseEipAddress": release,
    "TagResources": tag_resources,
    "AddCommonBandwidthPackageIp": add_to_package,
    "RemoveCommonBandwidthPackageIp": remove_from_package,
    "DescribeNetworkInterfaces": describe_enis,
}
