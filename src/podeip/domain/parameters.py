"""Parsers for the values of the EIP creation parameters, strict and bounded.

Pod annotations are untrusted input (docs/reliability.md §6.3): anyone who can create a pod can write
them. Each parser here accepts only what ``AllocateEipAddress`` can accept for an EIP we are
willing to create and release, and raises :class:`InvalidValue` (nothing else) whose
``allowed`` text tells the user what to write instead. Limits follow the EIP API
(docs/alibaba-api.md §3.1) and the tag rules (§2); the operator's own caps are parameters.

Decisions where the sources are silent:

- Enumerations (charge types, ISP, protection types) match without regard to case and are
  normalized to the API's spelling, so ``paybytraffic`` is sent as ``PayByTraffic``.
- Nothing is trimmed: a value is read exactly as written, as AENC (a Go program comparing
  strings) reads it, so ``"BGP "`` or ``"5\\n"`` is invalid, and the error message shows the
  blank. The one exception is the separator of a list: ``AntiDDoS_Enhanced, AntiDDoS_Enhanced``
  is a list of two items around ``", "``.
- Every text that reaches the request is printable Unicode that UTF-8 can encode: no control
  characters, no NUL, no lone surrogate (which ``json.loads`` makes of ``"\\ud800"``, and
  which neither the PodEIP nor the cloud can store).
- ISP and charge type are not cross-checked. The single-line ISPs (``ChinaTelecom`` …) and
  ``BGP_FinanceCloud`` need a whitelisted account; whether they also need a particular metering
  is not documented in a form we can verify, so the API decides and its error surfaces as an
  Event. The one documented coupling is enforced: ``PrePaid`` needs ``PayByBandwidth``.
- Resource IDs are the prefix followed by lower-case letters and digits (``eip-bp14q…``,
  ``cbwp-…``, ``rg-acfm…``, ``pippool-…``), at most 64 characters.
- Tag keys starting with ``aliyun`` or ``acs:`` are refused in any letter case, and so is our
  private prefix: a user tag must never be able to forge or mask an ownership tag.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import TypeVar


class InvalidValue(ValueError):
    """A value outside what is allowed; ``allowed`` says what is."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


class InternetChargeType(StrEnum):
    PAY_BY_TRAFFIC = "PayByTraffic"
    PAY_BY_BANDWIDTH = "PayByBandwidth"


class InstanceChargeType(StrEnum):
    POST_PAID = "PostPaid"
    PRE_PAID = "PrePaid"


class Isp(StrEnum):
    BGP = "BGP"
    BGP_PRO = "BGP_PRO"
    CHINA_TELECOM = "ChinaTelecom"
    CHINA_UNICOM = "ChinaUnicom"
    CHINA_MOBILE = "ChinaMobile"
    CHINA_TELECOM_L2 = "ChinaTelecom_L2"
    CHINA_UNICOM_L2 = "ChinaUnicom_L2"
    CHINA_MOBILE_L2 = "ChinaMobile_L2"
    BGP_FINANCE_CLOUD = "BGP_FinanceCloud"


class SecurityProtectionType(StrEnum):
    ANTI_DDOS_ENHANCED = "AntiDDoS_Enhanced"


#: (instance charge type, internet charge type) → the API's highest bandwidth, Mbit/s.
BANDWIDTH_LIMITS: dict[tuple[InstanceChargeType, InternetChargeType], int] = {
    (InstanceChargeType.POST_PAID, InternetChargeType.PAY_BY_TRAFFIC): 200,
    (InstanceChargeType.POST_PAID, InternetChargeType.PAY_BY_BANDWIDTH): 500,
    (InstanceChargeType.PRE_PAID, InternetChargeType.PAY_BY_BANDWIDTH): 1000,
}
DEFAULT_BANDWIDTH = 5
MAX_NAME = 128
MAX_DESCRIPTION = 256
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 128
#: A tags annotation longer than this cannot hold 15 tags of legal size; refuse before parsing.
MAX_TAGS_JSON = 16 * 1024
RESERVED_TAG_PREFIXES = ("aliyun", "acs:")

E = TypeVar("E", bound=StrEnum)

_BANDWIDTH = re.compile(r"([0-9]{1,9})[Mm]?")
_ID_BODY = re.compile(r"[a-z0-9]+")


#: Longest value any parser here looks at; longer ones are refused before any work is done.
MAX_VALUE = 1024


def parse_choice(text: str, choices: type[E]) -> E:
    """One member of ``choices``, matched without regard to case (nothing trimmed)."""
    wanted = text.lower() if len(text) <= MAX_VALUE else ""
    for member in choices:
        if member.value.lower() == wanted:
            return member
    raise InvalidValue("one of " + ", ".join(member.value for member in choices))


def bandwidth_limit(*, instance: InstanceChargeType, internet: InternetChargeType, cap: int) -> int:
    """The highest bandwidth the API accepts for these charge types, lowered to our cap."""
    return min(BANDWIDTH_LIMITS.get((instance, internet), 0), cap)


def parse_bandwidth(text: str, *, maximum: int, charge_type: str) -> int:
    """Mbit/s as an integer, optionally with Terway's trailing ``M`` (``5M``), 1 to ``maximum``."""
    allowed = f"an integer number of Mbit/s from 1 to {maximum} for {charge_type}, such as 5 or 5M"
    match = _BANDWIDTH.fullmatch(text) if len(text) <= 16 else None
    if match is None or not 1 <= int(match.group(1)) <= maximum:
        raise InvalidValue(allowed)
    return int(match.group(1))


def parse_resource_id(text: str, *, prefix: str) -> str:
    """An Alibaba resource ID with this prefix: ``eip-``, ``cbwp-``, ``rg-``, ``pippool-``."""
    value = text
    body = value.removeprefix(prefix)
    if body == value or len(value) > 64 or not _ID_BODY.fullmatch(body):
        raise InvalidValue(
            f"an ID of the form {prefix}<lower-case letters and digits>, at most 64 characters"
        )
    return value


def parse_bounded_text(text: str, *, maximum: int) -> str:
    """Free text of at most ``maximum`` characters, without line breaks or control characters."""
    if len(text) > maximum or not printable(text):
        raise InvalidValue(f"printable text of at most {maximum} characters")
    return text


def parse_security_protection_types(text: str) -> tuple[SecurityProtectionType, ...]:
    """A comma-separated list; duplicates collapse; the API accepts at most one level."""
    found: list[SecurityProtectionType] = []
    if len(text) > MAX_VALUE:
        raise InvalidValue("a comma-separated list of at most one protection level: AntiDDoS_Enhanced")
    for item in text.split(","):
        if item := item.strip(" "):
            member = parse_choice(item, SecurityProtectionType)
            if member not in found:
                found.append(member)
    if not found or len(found) > 1:
        raise InvalidValue("a comma-separated list of at most one protection level: AntiDDoS_Enhanced")
    return tuple(found)


def parse_user_tags(text: str, *, max_tags: int, reserved_prefix: str) -> dict[str, str]:
    """A JSON object of string keys and values within Alibaba's tag rules, sorted by key."""
    allowed = (
        f'a JSON object of at most {max_tags} string tags, e.g. {{"team":"games"}}; '
        f"keys 1-{MAX_TAG_KEY} characters, values 0-{MAX_TAG_VALUE}"
    )
    if len(text) > MAX_TAGS_JSON:
        raise InvalidValue(allowed)
    try:
        tags = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidValue(allowed) from None
    if not isinstance(tags, dict) or len(tags) > max_tags:
        raise InvalidValue(allowed)
    for key, value in tags.items():
        if not isinstance(value, str) or not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            raise InvalidValue(allowed)
        if not printable(key) or not printable(value):
            raise InvalidValue(
                "tag keys and values must be printable text: no control characters, no lone "
                f"surrogates ({_escaped(key)})"
            )
        lowered = key.lower()
        if lowered.startswith((*RESERVED_TAG_PREFIXES, reserved_prefix)):
            reserved = ", ".join((*RESERVED_TAG_PREFIXES, reserved_prefix))
            raise InvalidValue(f"tag keys must not start with any of {reserved} ({_escaped(key)})")
        if any(scheme in f"{lowered} {value.lower()}" for scheme in ("http://", "https://")):
            raise InvalidValue(f"tag keys and values must not contain http:// or https:// ({_escaped(key)})")
    return dict(sorted(tags.items()))


def printable(text: str) -> bool:
    """Printable (no control or format characters, no NUL) and encodable in UTF-8 (no lone surrogate)."""
    # str.isprintable() is False for categories Cc, Cf, Cs (surrogates), Zl, Zp and Zs but the space.
    return text.isprintable()


def _escaped(text: str) -> str:
    # A user's key inside an ``allowed`` text: short, quoted, with everything unprintable escaped.
    return ascii(text[:40]) + ("…" if len(text) > 40 else "")
