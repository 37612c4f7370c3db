"""Go durations, parsed and printed exactly as Go's ``time`` package does.

``pod-eip-release-strategy`` takes a Go duration (``10m``, ``5m30s``) and the PodEIP stores it
verbatim in ``spec.allocationType.releaseAfter``. AENC and Terway are Go programs and parse the
string with ``time.ParseDuration``; a value they accept must mean the same here, and a value
they reject must be rejected here, or a manifest that works with AENC would behave differently
after the switch. So this module follows Go's grammar to the letter rather than a "close
enough" regular expression:

    [-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+     with units ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h

- a lone ``0`` (optionally signed) is zero and needs no unit; any other number needs a unit;
- each element needs a digit before or after the dot (``.5s`` and ``1.s`` are valid, ``.s`` is
  not); elements may repeat units in any order (``1s1h``);
- the total must fit a signed 64-bit count of nanoseconds; ``-9223372036854775808ns`` fits,
  its positive twin does not; fractions are computed in float64 as Go does.

Durations are integers of nanoseconds (Go's ``time.Duration``). ``timedelta`` has only
microseconds, so converting is a separate, lossy step (:func:`to_timedelta`).

What a duration *means* for the release strategy is decided by :func:`parse_release_after`:
zero and negative values are invalid (a TTL that has already expired when the pod goes is
Follow in disguise, and a user who wrote ``0s`` or ``-5m`` has made a mistake we should name,
not guess at). Every positive duration is accepted, up to Go's own limit of about 292 years;
an administrator who wants a maximum sets one, and longer values are clamped to it
(:func:`podeip.domain.stateful.parse_release_strategy`).
"""

from __future__ import annotations

from datetime import timedelta

NANOSECOND = 1
MICROSECOND = 1000 * NANOSECOND
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

#: Go's ``unitMap``: both micro signs are accepted; ``String()`` prints U+00B5.
UNITS: dict[str, int] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,
    "\u03bcs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}

_LIMIT = 1 << 63  # magnitude of the most negative int64
_DIGITS = frozenset("0123456789")


class DurationError(ValueError):
    """A string that Go's ``time.ParseDuration`` would reject, or a release TTL out of range."""


#: Longest piece of the user's text an error message quotes.
_QUOTED = 40


def _quoted(text: str) -> str:
    # Go quotes the whole input; ours is shortened, so that a 256 KiB value stays a short message.
    return repr(text) if len(text) <= _QUOTED else repr(text[:_QUOTED]) + "…"


def _invalid(original: str) -> DurationError:
    return DurationError(f"time: invalid duration {_quoted(original)}")


def _leading_int(text: str, i: int, original: str) -> tuple[int, int]:
    # Digits from ``i``; the value and the index after them. Indices, never slices: a value of
    # 256 KiB must cost one pass over it, not a copy per element.
    value = 0
    while i < len(text) and text[i] in _DIGITS:
        if value > _LIMIT // 10:
            raise _invalid(original)
        value = value * 10 + ord(text[i]) - 48
        if value > _LIMIT:
            raise _invalid(original)
        i += 1
    return value, i


def _leading_fraction(text: str, i: int) -> tuple[int, float, int]:
    # Like Go: digits beyond int64 precision are consumed but no longer accumulated.
    value, scale, overflow = 0, 1.0, False
    while i < len(text) and text[i] in _DIGITS:
        if not overflow:
            candidate = value * 10 + ord(text[i]) - 48
            if value > (_LIMIT - 1) // 10 or candidate > _LIMIT:
                overflow = True
            else:
                value, scale = candidate, scale * 10
        i += 1
    return value, scale, i


def parse_go_duration(text: str) -> int:
    """Nanoseconds of ``text``, exactly as Go's ``time.ParseDuration`` returns them.

    The text is taken as it is: Go trims nothing, so ``"1h\\n"`` and ``" 1h"`` are invalid.
    Raises :class:`DurationError` (and nothing else) for every string Go rejects; the cost is
    linear in the length of ``text``.
    """
    i, negative = 0, False
    if text[:1] in ("-", "+"):
        negative, i = text[0] == "-", 1
    if text[i:] == "0":
        return 0
    if i == len(text):
        raise _invalid(text)
    total = 0
    while i < len(text):
        if not (text[i] == "." or text[i] in _DIGITS):
            raise _invalid(text)
        start = i
        whole, i = _leading_int(text, i, text)
        has_whole = i != start
        fraction, scale, has_fraction = 0, 1.0, False
        if text[i : i + 1] == ".":
            start = i + 1
            fraction, scale, i = _leading_fraction(text, start)
            has_fraction = i != start
        if not has_whole and not has_fraction:
            raise _invalid(text)
        end = i
        while end < len(text) and text[end] != "." and text[end] not in _DIGITS:
            end += 1
        if end == i:
            raise DurationError(f"time: missing unit in duration {_quoted(text)}")
        unit_name, i = text[i:end], end
        unit = UNITS.get(unit_name)
        if unit is None:
            raise DurationError(f"time: unknown unit {_quoted(unit_name)} in duration {_quoted(text)}")
        if whole > _LIMIT // unit:
            raise _invalid(text)
        whole *= unit
        if fraction > 0:
            # float64 arithmetic and truncation towards zero, as Go's uint64(float64(...)).
            whole += int(float(fraction) * (float(unit) / scale))
            if whole > _LIMIT:
                raise _invalid(text)
        total += whole
        if total > _LIMIT:
            raise _invalid(text)
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise _invalid(text)
    return total


def _fraction(value: int, precision: int) -> tuple[str, int]:
    # The fraction of value / 10**precision without trailing zeros, and the integer part.
    digits = ""
    for _ in range(precision):
        digit = value % 10
        if digits or digit:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if digits else ""), value


def format_go_duration(value: int | timedelta) -> str:
    """The text Go's ``Duration.String()`` prints: ``1h0m0s``, ``5m30s``, ``1.5s``, ``300ms``."""
    nanos = to_nanoseconds(value) if isinstance(value, timedelta) else value
    magnitude = abs(nanos)
    sign = "-" if nanos < 0 else ""
    if magnitude == 0:
        return "0s"
    if magnitude < SECOND:
        if magnitude < MICROSECOND:
            unit, precision = "ns", 0
        elif magnitude < MILLISECOND:
            unit, precision = "\u00b5s", 3
        else:
            unit, precision = "ms", 6
        fraction, whole = _fraction(magnitude, precision)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, seconds = _fraction(magnitude, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def to_timedelta(nanos: int) -> timedelta:
    """A ``timedelta`` for ``nanos``, truncated towards zero to whole microseconds."""
    micros = abs(nanos) // MICROSECOND
    return timedelta(microseconds=-micros if nanos < 0 else micros)


def to_nanoseconds(delta: timedelta) -> int:
    """Exact nanoseconds of a ``timedelta``."""
    return ((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) * MICROSECOND


#: The one limit Go does not have: a release duration longer than this is refused unread. No real
#: duration comes near it (``2562047h47m16.854775807s`` is 24 characters), while a 256 KiB
#: ``0s0s…``, valid Go, would cost the operator most of a second on every pass over its pod.
MAX_RELEASE_AFTER_TEXT = 1024


def parse_release_after(text: str) -> timedelta:
    """The TTL of a ``pod-eip-release-strategy`` duration: any positive Go duration.

    Raises :class:`DurationError` for anything Go rejects, for zero and negative values, and for
    texts longer than :data:`MAX_RELEASE_AFTER_TEXT`.
    There is no built-in maximum (seed 000: "Go-type time expressions are supported"); an
    administrator's cap clamps, it never refuses (:mod:`podeip.domain.stateful`).
    """
    if len(text) > MAX_RELEASE_AFTER_TEXT:
        raise DurationError(
            f"release duration {_quoted(text)} is longer than {MAX_RELEASE_AFTER_TEXT} characters"
        )
    nanos = parse_go_duration(text)
    if nanos <= 0:
        raise DurationError(f"release duration {_quoted(text)} must be positive")
    return to_timedelta(nanos)
