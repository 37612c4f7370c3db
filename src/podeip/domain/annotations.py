"""Pod annotations → one frozen :class:`EipRequest`, or errors that name key, value and remedy.

Users switch from Alibaba's controller without editing manifests, so every key AENC documents
is read under both prefixes and the compat aliases (docs/compatibility.md §2). Precedence, when several
spellings of one key are present: ``network.alibabacloud.com/`` over ``k8s.aliyun.com/`` over
the alias; the winner is used and each disagreeing loser becomes a warning. An empty value
counts as absent (Terway read ``""`` as "not set").

**Whitespace: nothing is trimmed, anywhere.** AENC is a Go program: it compares ``== "true"``
and hands durations to ``time.ParseDuration``, neither of which trims. So a value means here
exactly what it means there: ``"true "`` does not enable, ``"1h\\n"`` (a YAML block scalar
keeps its newline) is no duration, ``" eip-123"`` is no ID, and each is an ``InvalidAnnotation``
whose message shows the blank, escaped. A value of blanks only is a value, not an absence.
Inside JSON (``eip-tags``) JSON's own grammar applies, which allows blanks between tokens.

What the pod asks for:

- any ``pod-eip-instanceid`` (or ``eci-eip-instanceid``) makes the EIP *Static*, and enables
  the feature by itself; ``pod-with-eip`` next to it is redundant and reported;
  the Auto-only parameters (bandwidth, charge types, ISP, pool, group, name, description,
  protection, tags, shared bandwidth) are ignored on a Static pod, with a notice, unvalidated;
- ACS's ``network.alibabacloud.com/allocated-eip-id`` (seed 001 tells ACS users to pin an EIP
  with it) is the last spelling of ``pod-eip-instanceid``: without an instance-ID key it makes
  the pod Static with that EIP, and a Normal Event says so; the operator never writes it;
- otherwise ``pod-with-eip`` enables *Auto* on the exact string ``true`` (Terway compares
  ``== "true"``); ``false`` and the empty string disable it quietly; anything else is invalid
  (the user asked for something, and we cannot tell what);
- with ``eci_aliases=False`` (a pod on a virtual node with ``enableVirtualNode`` on) the
  ``eci-with-eip`` and ``eci-eip-instanceid`` aliases are not read: ECI serves them itself, and
  reading them too would bind two EIPs;
- a pod that asks for nothing gets ``request=None``; EIP parameters on it are reported as
  ignored, never validated.

An invalid value is an error and means no allocation at all (docs/compatibility.md §2.3): nothing is
allocated that the user did not ask for. Whatever the input (control characters, NUL, lone
surrogates, 256 KiB values, deeply nested JSON), the result is either a request that
serialises (its canonical JSON is computed here, so that no later step can fail on it) or
errors; this function raises nothing. This includes a malformed release strategy on a
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
from podeip.api.durations import DurationError, format_go_duration
from podeip.api.podeip import AllocationType
from podeip.domain import parameters as p
from podeip.domain import pools, tke
from podeip.domain.request import AnnotationError, AnnotationWarning, EipRequest, ParseResult, show
from podeip.domain.stateful import effective_policy, is_stateful, parse_release_strategy
from podeip.domain.tke import TkeSpellings

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


#: Aliases that ECI reads itself on virtual nodes (docs/compatibility.md §2.5).
ECI_ALIASES = frozenset({"eci-with-eip", "eci-eip-instanceid"})


def candidate_keys(suffix: str, *, eci_aliases: bool = True) -> tuple[str, ...]:
    """Every annotation key that spells ``suffix``, in precedence order."""
    aliases = tuple(
        c.PREFIX_K8S + alias
        for alias, target in c.ALIASES.items()
        if target == suffix and (eci_aliases or alias not in ECI_ALIASES)
    )
    acs = (c.ACS_ALLOCATED_EIP_ID,) if suffix == c.POD_EIP_INSTANCE_ID else ()
    return (c.PREFIX_NETWORK + suffix, c.PREFIX_K8S + suffix, *aliases, *acs)


@dataclass(frozen=True)
class _Found:
    key: str
    value: str


@dataclass
class _Reader:
    """Resolves keys by precedence and collects what goes wrong along the way."""

    annotations: Mapping[str, str]
    eci_aliases: bool = True
    #: TKE's spellings (None: not read); always the last candidate (:mod:`podeip.domain.tke`).
    tke: TkeSpellings | None = None
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
            for key in candidate_keys(suffix, eci_aliases=self.eci_aliases)
            if (value := self.annotations.get(key)) is not None and value != ""
        ]
        if self.tke is not None and (spelled := self.tke.values.get(suffix)):
            present.append(_Found(*spelled))
        if not present:
            return None
        winner = present[0]
        for loser in present[1:]:
            if loser.value != winner.value:
                self.warn(
                    c.EV_CONFLICTING_ANNOTATIONS,
                    f"{winner.key}={show(winner.value)} is used, {loser.key}={show(loser.value)} ignored: "
                    f"{c.PREFIX_NETWORK} wins over {c.PREFIX_K8S}, which wins over the compat alias "
                    f"and the {c.TKE_PREFIX} spelling",
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
    max_release_after: timedelta | None = None,
    max_bandwidth: int = 500,
    allow_prepaid: bool = False,
    eci_aliases: bool = True,
    tke_annotations: bool = True,
    pod_name: str | None = None,
    resources: Collection[str] = (),
) -> ParseResult:
    """Read a pod's EIP annotations. ``owner_kind`` is the controller owner's kind (None: bare pod);
    ``max_release_after`` clamps longer TTLs (None: no maximum); ``tke_annotations`` reads TKE's
    spellings; ``pod_name`` gives the ordinal for EIP lists (None: a template, as in lint);
    ``resources`` are the resource names the containers request or limit."""
    spelled = tke.read(annotations) if tke_annotations else None
    reader = _Reader(annotations, eci_aliases=eci_aliases, tke=spelled)
    reader.warnings.extend(tke.unsupported_on_ack(annotations, resources))
    instance_id = reader.find(c.POD_EIP_INSTANCE_ID)
    id_list = reader.find(c.POD_EIP_INSTANCE_ID_LIST)
    with_eip = reader.find(c.POD_WITH_EIP)
    if instance_id is not None and id_list is not None:
        reader.warn(
            c.EV_CONFLICTING_ANNOTATIONS,
            f"{id_list.key} is ignored: {instance_id.key} names the pod's EIP outright",
            key=id_list.key,
        )
        id_list = None
    if instance_id is not None and instance_id.key == c.ACS_ALLOCATED_EIP_ID:
        reader.warn(
            c.EV_EXISTING_EIP_REQUESTED,
            f"{instance_id.key}={show(instance_id.value)} is read as a request for that existing EIP "
            f"(Static), as {c.PREFIX_NETWORK}{c.POD_EIP_INSTANCE_ID} would be; it is never released",
            key=instance_id.key,
            event_type="Normal",
        )
    if not eci_aliases:
        _note_eci_aliases(reader, ours=instance_id or with_eip)
    bad_switch = with_eip is not None and with_eip.value not in ("true", "false")
    if bad_switch and with_eip is not None and instance_id is None and id_list is None:
        reader.error(with_eip, '"true" allocates an EIP for the pod, "false" (or no value) does not')
        return ParseResult(
            request=None, requested=True, errors=tuple(reader.errors), warnings=tuple(reader.warnings)
        )
    static_key = instance_id or id_list
    if static_key is not None:
        allocation_type = AllocationType.STATIC
        if with_eip is not None:
            reader.warn(
                c.EV_ANNOTATION_IGNORED,
                f"{with_eip.key} is ignored: {static_key.key} attaches an existing EIP (Static)",
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

    if spelled is not None:
        reader.errors.extend(spelled.errors)
        reader.warnings.extend(spelled.warnings)
    fields: dict[str, object] = {"allocation_type": allocation_type}
    eip_list: pools.EipList | None = None
    if instance_id is not None:
        try:
            fields["allocation_id"] = p.parse_resource_id(instance_id.value, prefix="eip-")
        except p.InvalidValue as exc:
            reader.error(instance_id, exc.allowed)
    elif id_list is not None:
        eip_list = _eip_list(reader, id_list, pod_name, owner_kind, custom_stateful_kinds)
        if eip_list is not None:
            fields["allocation_id"] = eip_list.wanted or eip_list.entries[0]
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
        tke_default = spelled is not None and spelled.attributes
        fields |= _auto_fields(
            reader, max_bandwidth=max_bandwidth, allow_prepaid=allow_prepaid, tke_default=tke_default
        )
    request = None if reader.errors else _build(reader, fields, static_key or with_eip)
    if request is not None and spelled is not None and spelled.values:
        _note_tke(reader, spelled, request, owner_kind, custom_stateful_kinds)
    if eip_list is not None and eip_list.beyond:
        request = None  # the pod waits: no entry is its own
    return ParseResult(
        request=request,
        requested=True,
        errors=tuple(reader.errors),
        warnings=tuple(reader.warnings),
        eip_list=eip_list if not reader.errors else None,
    )


def _eip_list(
    reader: _Reader,
    found: _Found,
    pod_name: str | None,
    owner_kind: str | None,
    custom_kinds: Collection[str],
) -> pools.EipList | None:
    try:
        entries = pools.parse_entries(found.value)
    except p.InvalidValue as exc:
        reader.error(found, exc.allowed)
        return None
    eip_list = pools.EipList(
        found.key, entries, pools.ordinal_of(pod_name, owner_kind=owner_kind, custom_kinds=custom_kinds)
    )
    if pod_name is None:  # a template (lint): say how its pods will take the entries
        if is_stateful(owner_kind, custom_kinds=custom_kinds):
            shown = ", ".join(f"{n} → {entry}" for n, entry in enumerate(entries[:4]))
            more = ", …" if len(entries) > 4 else ""
            how = (
                f"replica N takes entry N ({shown}{more}); replicas beyond {len(entries) - 1} wait "
                "with an EipListExhausted Warning"
            )
        else:
            how = "each pod takes the first entry no other pod holds; when all are held, pods wait"
        reader.warn(
            c.EV_EXISTING_EIP_REQUESTED,
            f"{found.key}: {len(entries)} existing EIPs (Static, never released): {how}",
            key=found.key,
            event_type="Normal",
        )
    return eip_list


def _note_tke(
    reader: _Reader,
    spelled: TkeSpellings,
    request: EipRequest,
    owner_kind: str | None,
    custom_kinds: Collection[str],
) -> None:
    """Say how TKE's keys were read where TKE and AENC differ (README "Coming from TKE")."""
    read_as = [
        f"{key} as {c.PREFIX_NETWORK}{suffix}={show(value)}"
        for suffix, (key, value) in spelled.values.items()
        if (winner := reader.find(suffix)) is not None and winner.key == key
    ]
    if not read_as:
        return
    notes = ["read as on TKE: " + "; ".join(read_as)]
    if spelled.attributes and request.bandwidth is not None and reader.find(c.EIP_BANDWIDTH) is None:
        notes.append(
            f"no Bandwidth: TKE's default of {request.bandwidth} Mbit/s is used (Alibaba's default is "
            f"{p.DEFAULT_BANDWIDTH})"
        )
    policy = reader.find(c.RELEASE_STRATEGY)
    if policy is not None and policy.key == c.TKE_EIP_CLAIM_DELETE_POLICY:
        if is_stateful(owner_kind, custom_kinds=custom_kinds):
            notes.append(
                "Never keeps the EIP after the pod is gone until its PodEIP is deleted "
                "(kubectl delete podeip <pod>, TKE's kubectl delete eipc)"
            )
        else:
            notes.append(
                "unlike TKE, Never applies only to StatefulSets, custom stateful kinds and bare pods "
                "(AENC's rule): this pod's EIP follows it"
            )
    reader.warn(c.EV_TKE_ANNOTATIONS_READ, "; ".join(notes), key=None, event_type="Normal")


def _note_eci_aliases(reader: _Reader, *, ours: _Found | None) -> None:
    """On a virtual node the ``eci-*`` aliases are ECI's: say so, and warn when our own key asks
    too, since ECI and this operator would then bind one EIP each."""
    for alias in sorted(ECI_ALIASES):
        key = c.PREFIX_K8S + alias
        if not reader.annotations.get(key):
            continue
        message = f"{key} is left to ECI on this virtual node, which serves it itself"
        if ours is not None:
            message += f"; with {ours.key} set too, the pod may get two EIPs: keep only one of them"
        reader.warn(c.EV_ANNOTATION_IGNORED, message, key=key, event_type="Warning" if ours else "Normal")


def _build(reader: _Reader, fields: dict[str, object], enabling: _Found | None) -> EipRequest | None:
    """The request, and its canonical JSON computed once, so that storing it cannot fail later.

    Every parser above already refuses what cannot be stored; this is the safety net that keeps
    a gap in one of them an ``InvalidAnnotation`` rather than a pod retried forever.
    """
    try:
        request = EipRequest.model_validate(fields)
        request.canonical_json().encode("utf-8")
    except ValueError as exc:  # pydantic's errors and UnicodeError are ValueErrors
        found = enabling or _Found(c.PREFIX_NETWORK + c.POD_WITH_EIP, "")
        reader.error(found, f"annotation values the EIP API accepts ({type(exc).__name__})")
        return None
    return request


def _release_fields(
    reader: _Reader,
    owner_kind: str | None,
    custom_kinds: Collection[str],
    max_release_after: timedelta | None,
) -> dict[str, object]:
    found = reader.find(c.RELEASE_STRATEGY)
    if found is None:
        return {}
    try:
        requested = parse_release_strategy(found.value, max_release_after=max_release_after)
    except DurationError as exc:
        reader.error(
            found,
            "Follow, Never, or a positive Go duration such as 10m, 5m30s or 720h, "
            f"without surrounding blanks ({exc})",
        )
        return {}
    if requested.clamped_from is not None and max_release_after is not None:
        reader.warn(
            c.EV_RELEASE_STRATEGY_CLAMPED,
            f"{found.key}={show(found.value)} is longer than the maximum this cluster allows "
            f"(maxReleaseAfter {format_go_duration(max_release_after)}): the EIP is kept for "
            f"{requested.release_after} after the pod is gone",
            key=found.key,
        )
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


def _auto_fields(
    reader: _Reader, *, max_bandwidth: int, allow_prepaid: bool, tke_default: bool = False
) -> dict[str, object]:
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
    default = min(tke.TKE_DEFAULT_BANDWIDTH, limit) if tke_default else p.DEFAULT_BANDWIDTH
    return {
        "bandwidth": bandwidth or default,
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
