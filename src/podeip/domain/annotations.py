"""Pod annotations → one frozen :class:`EipRequest`, or errors that name key, value and remedy.

Users switch from Alibaba's controller without editing manifests, so every key AENC documents
is read under both prefixes and the compat aliases (docs/compatibility.md §2). Precedence, when several
spellings of one key are present: ``network.alibabacloud.com/`` over ``k8s.aliyun.com/`` over
the alias; the winner is used and each disagreeing loser becomes a warning. An empty or blank
value counts as absent (Terway read ``""`` as "not set").

What the pod asks for:

- any ``pod-eip-instanceid`` (or ``eci-eip-instanceid``) makes the EIP *Static*, and enables
  the feature by itself; ``pod-with-eip`` next to it is redundant and reported;
  the Auto-only parameters (bandwidth, charge types, ISP, pool, group, name, description,
  protection, tags, shared bandwidth) are ignored on a Static pod, with a notice, unvalidated;
- otherwise ``pod-with-eip`` enables *Auto* on the exact string ``true`` (Terway compares
  ``== "true"``); ``false`` and blank disable it quietly, anything else warns and disables;
- a pod that asks for nothing gets ``request=None``; EIP parameters on it are reported as
  ignored, never validated.

An invalid value is an error and means no allocation at all (docs/compatibility.md §2.3): nothing is
allocated that the user did not ask for. This includes a malformed release strategy on a
stateless pod, where the strategy would be ignored anyway: the user still wrote something we
cannot read, and saying so is cheaper than guessing. A valid TTL or Never on a stateless pod
becomes Follow with a ``ReleaseStrategyIgnored`` warning (:mod:`podeip.domain.stateful`).

Every Auto default is written into the request (:mod:`podeip.domain.request`), the internet
charge type above all: its API default (PayByBandwidth) differs from the annotation's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, TypeVar

from podeip import constants as c
from podeip.api.podeip import AllocationType
from podeip.domain import parameters as p
from podeip.domain.durations import DurationError, format_go_duration
from podeip.domain.request import AnnotationError, AnnotationWarning, EipRequest, ParseResult, show
from podeip.domain.stateful import effective_policy, parse_release_strategy

__all__ = ["EipRequest", "ParseResult", "candidate_keys", "parse_pod_annotations"]

#: Parameters read only when an EIP is allocated (Auto); ignored on Static pods.
AUTO_ONLY = (
    c.EIP_BANDWIDTH,
    c.EIP_INTERNET_CHARGE_TYPE,
    c.EIP_INSTANCE_CHARGE_TYPE,
    c.EIP_ISP,
    c.EIP_COMMON_BANDWIDTH_PACKAGE_ID,
    c.EIP_PUBLIC_IP_ADDRESS_POOL_ID,
    c.EIP_RESOURCE_GROUP_ID,
    c.EIP_NAME,
    c.EIP_DESCRIPTION,
    c.EIP_SECURITY_PROTECTION_TYPES,
    c.EIP_TAGS,
)
T = TypeVar("T")


def candidate_keys(suffix: str) -> tuple[str, ...]:
    """Every annotation key that spells ``suffix``, in precedence order."""
    aliases = tuple(c.PREFIX_K8S + alias for alias, target in c.ALIASES.items() if target == suffix)
    return (c.PREFIX_NETWORK + suffix, c.PREFIX_K8S + suffix, *aliases)


@dataclass(frozen=True)
class _Found:
    key: str
    value: str


@dataclass
class _Reader:
    """Resolves keys by precedence and collects what goes wrong along the way."""

    annotations: Mapping[str, str]
    errors: list[AnnotationError] = field(default_factory=list)
    warnings: list[AnnotationWarning] = field(default_factory=list)
    _found: dict[str, _Found | None] = field(default_factory=dict)

    def find(self, suffix: str) -> _Found | None:
        """The winning spelling of ``suffix``; conflicts are reported once per key."""
        if suffix not in self._found:
            self._found[suffix] = self._resolve(suffix)
        return self._found[suffix]

    def _resolve(self, suffix: str) -> _Found | None:
        present = [
            _Found(key, value)
            for key in candidate_keys(suffix)
            if (value := self.annotations.get(key)) is not None and value.strip()
        ]
        if not present:
            return None
        winner = present[0]
        for loser in present[1:]:
            if loser.value.strip() != winner.value.strip():
                self.warn(
                    c.EV_CONFLICTING_ANNOTATIONS,
                    f"{winner.key}={show(winner.value)} is used, {loser.key}={show(loser.value)} ignored: "
                    f"{c.PREFIX_NETWORK} wins over {c.PREFIX_K8S}, which wins over the compat alias",
                    key=loser.key,
                )
        return winner

    def warn(
        self,
        reason: str,
        message: str,
        *,
        key: str | None,
        event_type: Literal["Normal", "Warning"] = "Warning",
    ) -> None:
        self.warnings.append(
            AnnotationWarning(reason=reason, message=message, key=key, event_type=event_type)
        )

    def error(self, found: _Found, allowed: str) -> None:
        self.errors.append(AnnotationError(key=found.key, value=found.value, allowed=allowed))


def parse_pod_annotations(
    annotations: Mapping[str, str],
    *,
    owner_kind: str | None,
    custom_stateful_kinds: Collection[str] = (),
    max_release_after: timedelta = timedelta(days=7),
    max_bandwidth: int = 500,
    allow_prepaid: bool = False,
) -> ParseResult:
    """Read a pod's EIP annotations. ``owner_kind`` is the controller owner's kind (None: bare pod)."""
    reader = _Reader(annotations)
    instance_id = reader.find(c.POD_EIP_INSTANCE_ID)
    with_eip = reader.find(c.POD_WITH_EIP)
    if (acs_id := annotations.get(c.ACS_ALLOCATED_EIP_ID)) and instance_id is None:
        reader.warn(
            c.EV_ANNOTATION_IGNORED,
            f"{c.ACS_ALLOCATED_EIP_ID}={show(acs_id)} is written by the platform, never read; "
            f"to attach an existing EIP set {c.PREFIX_NETWORK}{c.POD_EIP_INSTANCE_ID} instead",
            key=c.ACS_ALLOCATED_EIP_ID,
        )
    if with_eip is not None and with_eip.value not in ("true", "false"):
        reader.warn(
            c.EV_INVALID_ANNOTATION,
            f'{with_eip.key}={show(with_eip.value)}: only "true" enables an EIP and "false" disables it; '
            "this value is read as disabled",
            key=with_eip.key,
        )
    if instance_id is not None:
        allocation_type = AllocationType.STATIC
        if with_eip is not None:
            reader.warn(
                c.EV_ANNOTATION_IGNORED,
                f"{with_eip.key} is ignored: {instance_id.key} attaches that existing EIP (Static)",
                key=with_eip.key,
                event_type="Normal",
            )
    elif with_eip is not None and with_eip.value == "true":
        allocation_type = AllocationType.AUTO
    else:
        ignored = [f.key for s in c.INPUT_SUFFIXES if s != c.POD_WITH_EIP and (f := reader.find(s))]
        if ignored:
            reader.warn(
                c.EV_ANNOTATION_IGNORED,
                f"{', '.join(ignored)} ignored: the pod asks for no EIP (set "
                f'{c.PREFIX_NETWORK}{c.POD_WITH_EIP}: "true" or {c.PREFIX_NETWORK}{c.POD_EIP_INSTANCE_ID})',
                key=ignored[0],
                event_type="Normal",
            )
        return ParseResult(request=None, warnings=tuple(reader.warnings))

    fields: dict[str, object] = {"allocation_type": allocation_type}
    if instance_id is not None:
        try:
            fields["allocation_id"] = p.parse_resource_id(instance_id.value, prefix="eip-")
        except p.InvalidValue as exc:
            reader.error(instance_id, exc.allowed)
    fields |= _release_fields(reader, owner_kind, custom_stateful_kinds, max_release_after)
    if allocation_type is AllocationType.STATIC:
        for suffix in AUTO_ONLY:
            if found := reader.find(suffix):
                reader.warn(
                    c.EV_ANNOTATION_IGNORED,
                    f"{found.key} is ignored: it applies only when the controller allocates the EIP, "
                    "and this pod names an existing one (Static)",
                    key=found.key,
                    event_type="Normal",
                )
    else:
        fields |= _auto_fields(reader, max_bandwidth=max_bandwidth, allow_prepaid=allow_prepaid)
    request = None if reader.errors else EipRequest.model_validate(fields)
    return ParseResult(
        request=request, requested=True, errors=tuple(reader.errors), warnings=tuple(reader.warnings)
    )


def _release_fields(
    reader: _Reader, owner_kind: str | None, custom_kinds: Collection[str], max_release_after: timedelta
) -> dict[str, object]:
    found = reader.find(c.RELEASE_STRATEGY)
    if found is None:
        return {}
    try:
        requested = parse_release_strategy(found.value, max_release_after=max_release_after)
    except DurationError as exc:
        cap = format_go_duration(max_release_after)
        reader.error(
            found, f"Follow, Never, or a positive Go duration up to {cap} such as 10m or 5m30s ({exc})"
        )
        return {}
    policy, overridden = effective_policy(requested, owner_kind=owner_kind, custom_kinds=custom_kinds)
    if overridden:
        reader.warn(
            c.EV_RELEASE_STRATEGY_IGNORED,
            f"{found.key}={show(found.value)} is treated as Follow: TTL and Never apply only to "
            f"StatefulSets, custom stateful kinds and bare pods; this pod's controller is a {owner_kind}",
            key=found.key,
        )
    return {
        "release_strategy": policy.strategy,
        "release_after": policy.release_after,
        "release_ttl": policy.ttl,
    }


def _take(reader: _Reader, suffix: str, parser: Callable[[str], T]) -> T | None:
    found = reader.find(suffix)
    if found is None:
        return None
    try:
        return parser(found.value)
    except p.InvalidValue as exc:
        reader.error(found, exc.allowed)
        return None


def _auto_fields(reader: _Reader, *, max_bandwidth: int, allow_prepaid: bool) -> dict[str, object]:
    internet = (
        _take(reader, c.EIP_INTERNET_CHARGE_TYPE, lambda v: p.parse_choice(v, p.InternetChargeType))
        or p.InternetChargeType.PAY_BY_TRAFFIC
    )
    instance = (
        _take(reader, c.EIP_INSTANCE_CHARGE_TYPE, lambda v: _instance_charge(v, allow_prepaid=allow_prepaid))
        or p.InstanceChargeType.POST_PAID
    )
    if instance is p.InstanceChargeType.PRE_PAID and internet is not p.InternetChargeType.PAY_BY_BANDWIDTH:
        found = reader.find(c.EIP_INTERNET_CHARGE_TYPE) or _Found(
            c.PREFIX_NETWORK + c.EIP_INTERNET_CHARGE_TYPE, ""
        )
        reader.error(found, "PayByBandwidth: a PrePaid EIP is metered by bandwidth")
    limit = p.bandwidth_limit(instance=instance, internet=internet, cap=max_bandwidth)
    bandwidth = _take(
        reader, c.EIP_BANDWIDTH, lambda v: p.parse_bandwidth(v, maximum=limit, charge_type=internet.value)
    )
    return {
        "bandwidth": bandwidth or p.DEFAULT_BANDWIDTH,
        "internet_charge_type": internet,
        "instance_charge_type": instance,
        "isp": _take(reader, c.EIP_ISP, lambda v: p.parse_choice(v, p.Isp)),
        "bandwidth_package_id": _take(
            reader, c.EIP_COMMON_BANDWIDTH_PACKAGE_ID, lambda v: p.parse_resource_id(v, prefix="cbwp-")
        ),
        "public_ip_address_pool_id": _take(
            reader, c.EIP_PUBLIC_IP_ADDRESS_POOL_ID, lambda v: p.parse_resource_id(v, prefix="pippool-")
        ),
        "resource_group_id": _take(
            reader, c.EIP_RESOURCE_GROUP_ID, lambda v: p.parse_resource_id(v, prefix="rg-")
        ),
        "name": _take(reader, c.EIP_NAME, lambda v: p.parse_bounded_text(v, maximum=p.MAX_NAME)),
        "description": _take(
            reader, c.EIP_DESCRIPTION, lambda v: p.parse_bounded_text(v, maximum=p.MAX_DESCRIPTION)
        ),
        "security_protection_types": _take(
            reader, c.EIP_SECURITY_PROTECTION_TYPES, p.parse_security_protection_types
        )
        or (),
        "tags": _take(
            reader,
            c.EIP_TAGS,
            lambda v: p.parse_user_tags(v, max_tags=c.MAX_USER_TAGS, reserved_prefix=c.PRIVATE_PREFIX),
        )
        or {},
    }


def _instance_charge(value: str, *, allow_prepaid: bool) -> p.InstanceChargeType:
    charge = p.parse_choice(value, p.InstanceChargeType)
    if charge is p.InstanceChargeType.PRE_PAID and not allow_prepaid:
        raise p.InvalidValue(
            "PostPaid; PrePaid (subscription) EIPs cannot be released through the API and are refused"
        )
    return charge
