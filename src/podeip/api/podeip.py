"""The PodEIP custom resource as typed models with AENC's exact wire names.

Other programs read these objects by field name (OpenKruiseGame reads ``status.eipAddress``;
Terway's migration writes ``spec``), and the names mix casings (``allocationID`` next to
``publicIpAddressPoolID``). An automatic camel-case alias would produce ``allocationId`` and
silently break them, so every wire name is an explicit ``Field(alias=...)``, and a test checks
the models against ``crds/podeips.alibabacloud.com.yaml`` field by field.

Models are frozen; build changed copies with ``model_copy(update=...)``. Serialize with
:meth:`WireModel.to_wire` (aliases, no ``None`` fields, RFC 3339 times), which is what the
API server expects and what the CRD keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from podeip import constants


def _as_utc(value: datetime) -> datetime:
    # Kubernetes times are UTC; a naive datetime from our own clock is taken as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_kube_time(value: datetime) -> str:
    """RFC 3339 in UTC with whole seconds, as Kubernetes prints ``metav1.Time``."""
    return _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


#: A ``date-time`` field: parsed from RFC 3339, always UTC, printed with whole seconds.
KubeTime = Annotated[datetime, AfterValidator(_as_utc), PlainSerializer(format_kube_time, when_used="json")]


class AllocationType(StrEnum):
    AUTO = "Auto"
    STATIC = "Static"


class ReleaseStrategy(StrEnum):
    FOLLOW = "Follow"
    TTL = "TTL"
    NEVER = "Never"


#: The sets of field names that ``WireModel._share_fields_set`` shares, one per combination.
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


class WireModel(BaseModel):
    """Frozen, accepts wire names and field names, ignores fields it does not know."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @model_validator(mode="after")
    def _share_fields_set(self) -> Self:
        """pydantic keeps a set of the names given, per instance: 728 bytes from five names on,
        half of a bound PodEIP's 7 KB in the view. Frozen instances never change theirs
        (``model_copy`` copies it first), so one set per combination serves them all."""
        names = self.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(names), names)
        if shared is not names:
            object.__setattr__(self, "__pydantic_fields_set__", shared)
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body: wire names, ``None`` fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class AllocationTypeSpec(WireModel):
    type: AllocationType = Field(default=AllocationType.AUTO, alias="type")
    release_strategy: ReleaseStrategy = Field(alias="releaseStrategy")
    #: The user's Go duration, verbatim; only with ``TTL``.
    release_after: str | None = Field(default=None, alias="releaseAfter")


class PodEIPSpec(WireModel):
    #: ``""`` until the EIP exists (the old CRD requires the field; docs/compatibility.md §4.3).
    allocation_id: str = Field(default="", alias="allocationID")
    allocation_type: AllocationTypeSpec = Field(alias="allocationType")
    bandwidth_package_id: str | None = Field(default=None, alias="bandwidthPackageID")


class Condition(WireModel):
    """A ``metav1.Condition``; the only addition our CRD makes to AENC's status."""

    type: str = Field(alias="type")
    status: Literal["True", "False", "Unknown"] = Field(alias="status")
    reason: str | None = Field(default=None, alias="reason")
    message: str | None = Field(default=None, alias="message")
    last_transition_time: KubeTime | None = Field(default=None, alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, ge=0, alias="observedGeneration")


class PodEIPStatus(WireModel):
    network_interface_id: str | None = Field(default=None, alias="networkInterfaceID")
    private_ip_address: str | None = Field(default=None, alias="privateIPAddress")
    eip_address: str | None = Field(default=None, alias="eipAddress")
    isp: str | None = Field(default=None, alias="isp")
    internet_charge_type: str | None = Field(default=None, alias="internetChargeType")
    resource_group_id: str | None = Field(default=None, alias="resourceGroupID")
    name: str | None = Field(default=None, alias="name")
    public_ip_address_pool_id: str | None = Field(default=None, alias="publicIpAddressPoolID")
    status: str | None = Field(default=None, alias="status")
    bandwidth_package_id: str | None = Field(default=None, alias="bandwidthPackageID")
    #: A string on the wire (AENC's schema), e.g. ``"5"``.
    bandwidth: str | None = Field(default=None, alias="bandwidth")
    period: int | None = Field(default=None, alias="period")
    pod_last_seen: KubeTime | None = Field(default=None, alias="podLastSeen")
    conditions: tuple[Condition, ...] | None = Field(default=None, alias="conditions")

    def condition(self, condition_type: str) -> Condition | None:
        return next((c for c in self.conditions or () if c.type == condition_type), None)


class ObjectMeta(WireModel):
    """The metadata fields the operator reads or writes; the rest is ignored."""

    name: str | None = Field(default=None, alias="name")
    namespace: str | None = Field(default=None, alias="namespace")
    uid: str | None = Field(default=None, alias="uid")
    resource_version: str | None = Field(default=None, alias="resourceVersion")
    generation: int | None = Field(default=None, alias="generation")
    creation_timestamp: KubeTime | None = Field(default=None, alias="creationTimestamp")
    deletion_timestamp: KubeTime | None = Field(default=None, alias="deletionTimestamp")
    annotations: dict[str, str] | None = Field(default=None, alias="annotations")
    labels: dict[str, str] | None = Field(default=None, alias="labels")
    finalizers: tuple[str, ...] | None = Field(default=None, alias="finalizers")


class PodEIP(WireModel):
    api_version: str = Field(default=f"{constants.GROUP}/{constants.VERSION}", alias="apiVersion")
    kind: str = Field(default=constants.KIND, alias="kind")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, alias="metadata")
    spec: PodEIPSpec = Field(alias="spec")
    status: PodEIPStatus | None = Field(default=None, alias="status")

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.annotations or {})
