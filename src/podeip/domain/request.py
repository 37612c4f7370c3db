"""The resolved EIP request and the findings of reading a pod's annotations.

:class:`EipRequest` is the one description of "what this pod asked for" that the rest of the
operator uses: the reconciler freezes it into the PodEIP's private ``request`` annotation when
the PodEIP is created, retries read it back instead of the live pod (docs/reliability.md R2), and its
hash goes into the ClientToken. So its JSON must be deterministic (fields in declaration order,
tags sorted, defaults written out) and must parse back with ``EipRequest.model_validate_json``.

The model also refuses inconsistent shapes (a Static request with allocation parameters, an
Auto one without charge types, a TTL without its duration), so that a request read back from
an edited annotation cannot smuggle in what the annotation parser would have refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podeip import constants as c
from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.domain import parameters as p
from podeip.domain.pools import EipList

_SHOWN = 80


def show(value: str) -> str:
    """A value for a one-line message, quoted: at most ``_SHOWN`` characters of output, every
    unprintable character (line breaks, NUL, controls, lone surrogates) escaped as ``\\n``,
    ``\\x00``, ``\\ud800``, and cut only between whole characters (never inside an escape).

    Only the first ``_SHOWN`` characters are looked at, so a 256 KiB value costs nothing; the
    result is printable and encodable in UTF-8 whatever the input. A value with surrounding
    blanks shows them inside the quotes.
    """
    pieces: list[str] = []
    used = 2  # the quotes
    for char in value[:_SHOWN]:
        piece = char if char.isprintable() and char not in '"\\' else _escape(char)
        if used + len(piece) > _SHOWN - 1:
            break
        pieces.append(piece)
        used += len(piece)
    else:
        if len(value) <= _SHOWN:
            return '"' + "".join(pieces) + '"'
    return '"' + "".join(pieces) + '"…'


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


@dataclass(frozen=True)
class AnnotationError:
    """An invalid annotation: the key as written, its value, and what would be accepted."""

    key: str
    value: str
    allowed: str

    @property
    def message(self) -> str:
        return f"{self.key}={show(self.value)}: {self.allowed}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class AnnotationWarning:
    """Something the operator will not do as written; ``reason`` is an Event reason."""

    reason: str
    message: str
    key: str | None = None
    event_type: Literal["Normal", "Warning"] = "Warning"

    def __str__(self) -> str:
        return self.message


_IDENTITY_FIELDS = frozenset(
    {"allocation_type", "allocation_id", "release_strategy", "release_after", "release_ttl"}
)


class EipRequest(BaseModel):
    """What the pod asks for, resolved, validated and with defaults made explicit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allocation_type: AllocationType
    #: The user's EIP (Static only).
    allocation_id: str | None = None
    release_strategy: ReleaseStrategy = ReleaseStrategy.FOLLOW
    #: The user's Go duration, verbatim (TTL only), and its value.
    release_after: str | None = None
    release_ttl: timedelta | None = None
    # Auto only, from here on.
    bandwidth: int | None = None
    internet_charge_type: p.InternetChargeType | None = None
    instance_charge_type: p.InstanceChargeType | None = None
    isp: p.Isp | None = None
    bandwidth_package_id: str | None = None
    public_ip_address_pool_id: str | None = None
    resource_group_id: str | None = None
    name: str | None = None
    description: str | None = None
    security_protection_types: tuple[p.SecurityProtectionType, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _sorted(cls, tags: dict[str, str]) -> dict[str, str]:
        return dict(sorted(tags.items()))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        is_ttl = self.release_strategy is ReleaseStrategy.TTL
        if is_ttl != (self.release_after is not None) or is_ttl != (self.release_ttl is not None):
            raise ValueError("release_after and release_ttl go with TTL, and only with TTL")
        charges = (self.bandwidth, self.internet_charge_type, self.instance_charge_type)
        if self.allocation_type is AllocationType.STATIC:
            auto_set = any(getattr(self, name) not in (None, (), {}) for name in _AUTO_FIELDS)
            if not self.allocation_id or auto_set:
                raise ValueError("a Static request has an allocation_id and no allocation parameters")
        elif self.allocation_id is not None or None in charges:
            raise ValueError("an Auto request has bandwidth and charge types, and no allocation_id")
        return self

    @model_validator(mode="after")
    def _storable(self) -> Self:
        # Every text must survive JSON, the API server and the cloud unchanged: the frozen
        # request is compared byte for byte, and a lone surrogate cannot be serialised at all.
        texts = [v for v in self.model_dump(mode="python").values() if isinstance(v, str)]
        texts += [t for pair in self.tags.items() for t in pair]
        if not all(p.printable(text) or text == "" for text in texts):
            raise ValueError("request texts must be printable and encodable in UTF-8")
        return self

    def canonical_json(self) -> str:
        """The deterministic JSON frozen into the PodEIP; ``model_validate_json`` reads it back."""
        return self.model_dump_json()


#: Request fields that only an Auto request may set.
_AUTO_FIELDS = tuple(name for name in EipRequest.model_fields if name not in _IDENTITY_FIELDS)


@dataclass(frozen=True)
class ParseResult:
    #: None when the pod asks for no EIP, or when any annotation is invalid.
    request: EipRequest | None
    #: Whether the pod asks for an EIP at all (even if its annotations are invalid).
    requested: bool = False
    errors: tuple[AnnotationError, ...] = ()
    warnings: tuple[AnnotationWarning, ...] = ()
    #: The EIP list the pod reads (None: it names no list); with ``request=None`` and the list
    #: set, the pod is beyond the list and waits.
    eip_list: EipList | None = None

    @property
    def picks_from_list(self) -> bool:
        """Whether the pod takes the first free entry of a list (it has no ordinal)."""
        return self.eip_list is not None and self.eip_list.ordinal is None

    def names(self, allocation_id: str) -> bool:
        """Whether this pod asks for that existing EIP: its own, or (no ordinal) any list entry."""
        if self.request is None or self.request.allocation_type is not AllocationType.STATIC:
            return False
        if self.picks_from_list and self.eip_list is not None:
            return allocation_id in self.eip_list.entries
        return self.request.allocation_id == allocation_id


#: The annotation (suffix) each request field comes from, to name what a user edited.
FIELD_KEYS: dict[str, str] = {
    "allocation_type": c.POD_WITH_EIP,
    "allocation_id": c.POD_EIP_INSTANCE_ID,
    "release_strategy": c.RELEASE_STRATEGY,
    "release_after": c.RELEASE_STRATEGY,
    "release_ttl": c.RELEASE_STRATEGY,
    "bandwidth": c.EIP_BANDWIDTH,
    "internet_charge_type": c.EIP_INTERNET_CHARGE_TYPE,
    "instance_charge_type": c.EIP_INSTANCE_CHARGE_TYPE,
    "isp": c.EIP_ISP,
    "bandwidth_package_id": c.EIP_COMMON_BANDWIDTH_PACKAGE_ID,
    "public_ip_address_pool_id": c.EIP_PUBLIC_IP_ADDRESS_POOL_ID,
    "resource_group_id": c.EIP_RESOURCE_GROUP_ID,
    "name": c.EIP_NAME,
    "description": c.EIP_DESCRIPTION,
    "security_protection_types": c.EIP_SECURITY_PROTECTION_TYPES,
    "tags": c.EIP_TAGS,
}


def changed_suffixes(frozen: EipRequest, current: EipRequest) -> list[str]:
    """The annotation suffixes whose resolved values differ, in annotation order."""
    fields = [name for name in FIELD_KEYS if getattr(frozen, name) != getattr(current, name)]
    return sorted({FIELD_KEYS[name] for name in fields}, key=list(FIELD_KEYS.values()).index)
