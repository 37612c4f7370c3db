"""We test these aspects: the Go-duration parser and printer against a table produced by Go's
own ``time`` package, round trips of every int64 duration through print and parse, durations
generated from Go's grammar, arbitrary text raising only the typed error, and the release-TTL
rules (positive, within the cap)."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podeip.api.durations import (
    UNITS,
    DurationError,
    format_go_duration,
    parse_go_duration,
    parse_release_after,
    to_nanoseconds,
    to_timedelta,
)

GO_TABLE = json.loads((Path(__file__).parent / "data" / "go_durations.json").read_text(encoding="utf-8"))
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


@pytest.mark.parametrize(("text", "nanos", "printed"), GO_TABLE["cases"], ids=repr)
def test_parser_and_printer_agree_with_go(text: str, nanos: int | None, printed: str | None) -> None:
    if nanos is None:
        with pytest.raises(DurationError):
            parse_go_duration(text)
    else:
        assert parse_go_duration(text) == nanos
        assert format_go_duration(nanos) == printed


def test_go_table_covers_both_outcomes_and_every_unit() -> None:
    valid = [text for text, nanos, _ in GO_TABLE["cases"] if nanos is not None]
    invalid = [text for text, nanos, _ in GO_TABLE["cases"] if nanos is None]
    assert len(valid) > 100 and len(invalid) > 100
    for unit in UNITS:
        assert any(unit in text for text in valid), unit


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("-0", 0),
        ("300ms", 300_000_000),
        ("1.5h", 5_400_000_000_000),
        ("5m30s", 330_000_000_000),
        ("2h45m", 9_900_000_000_000),
        ("-1.5h", -5_400_000_000_000),
        ("+5s", 5_000_000_000),
        (".5s", 500_000_000),
        ("1.s", 1_000_000_000),
        ("1\u00b5s", 1000),
        ("1\u03bcs", 1000),
        ("1us", 1000),
        ("-9223372036854775808ns", INT64_MIN),
    ],
)
def test_documented_examples_parse_to_their_nanoseconds(text: str, nanos: int) -> None:
    assert parse_go_duration(text) == nanos


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid duration"),
        ("5", "missing unit"),
        ("5d", "unknown unit"),
        (".s", "invalid duration"),
        ("1h 2m", "unknown unit"),
        ("9223372036854775808ns", "invalid duration"),
        ("2562048h", "invalid duration"),
    ],
)
def test_invalid_durations_name_the_problem_as_go_does(text: str, message: str) -> None:
    with pytest.raises(DurationError, match=message):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("nanos", "printed"),
    [
        (0, "0s"),
        (330 * 10**9, "5m30s"),
        (3600 * 10**9, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (300 * 10**6, "300ms"),
    ],
)
def test_printer_matches_go_string(nanos: int, printed: str) -> None:
    assert format_go_duration(nanos) == printed
    assert format_go_duration(to_timedelta(nanos)) == printed


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_every_int64_duration_round_trips_through_print_and_parse(nanos: int) -> None:
    assert parse_go_duration(format_go_duration(nanos)) == nanos


whole_elements = st.tuples(st.integers(min_value=0, max_value=10**20), st.sampled_from(sorted(UNITS)))


@given(st.sampled_from(["", "+", "-"]), st.lists(whole_elements, min_size=1, max_size=5))
def test_grammar_durations_of_whole_numbers_sum_exactly_or_overflow(
    sign: str, elements: list[tuple[int, str]]
) -> None:
    text = sign + "".join(f"{number}{unit}" for number, unit in elements)
    magnitude = 0
    overflow = False
    for number, unit in elements:
        magnitude += number * UNITS[unit]
        overflow = overflow or number * UNITS[unit] > 1 << 63 or magnitude > 1 << 63
    expected = -magnitude if sign == "-" else magnitude
    if overflow or not INT64_MIN <= expected <= INT64_MAX:
        with pytest.raises(DurationError):
            parse_go_duration(text)
    else:
        assert parse_go_duration(text) == expected


fraction_elements = st.tuples(
    st.integers(min_value=0, max_value=10**5),
    st.text(alphabet="0123456789", max_size=12),
    st.sampled_from(sorted(UNITS)),
)


@given(st.lists(fraction_elements, min_size=1, max_size=4))
def test_grammar_durations_with_fractions_are_within_a_nanosecond_per_element(
    elements: list[tuple[int, str, str]],
) -> None:
    text = "".join(f"{whole}.{digits}{unit}" for whole, digits, unit in elements)
    exact = sum(Fraction(f"{whole}.{digits}0") * UNITS[unit] for whole, digits, unit in elements)
    assert abs(parse_go_duration(text) - exact) <= len(elements)


@given(st.one_of(st.text(max_size=40), st.text(alphabet="0123456789.+-nsumhµμ", max_size=30)))
def test_arbitrary_text_raises_nothing_but_duration_error(text: str) -> None:
    try:
        nanos = parse_go_duration(text)
    except DurationError:
        return
    assert INT64_MIN <= nanos <= INT64_MAX


def test_release_after_accepts_every_positive_duration() -> None:
    assert parse_release_after("10m") == timedelta(minutes=10)
    assert parse_release_after("5m30s") == timedelta(minutes=5, seconds=30)
    assert parse_release_after("720h") == timedelta(days=30)
    assert parse_release_after("2562047h47m16.854775807s") == to_timedelta(INT64_MAX)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "must be positive"),
        ("0s", "must be positive"),
        ("-5m", "must be positive"),
        ("9999999999h", "invalid duration"),
        ("Forever", "invalid duration"),
        ("1h\n", "unknown unit"),
        (" 1h", "invalid duration"),
        ("1h ", "unknown unit"),
    ],
)
def test_release_after_rejects_zero_negative_and_what_go_rejects(text: str, message: str) -> None:
    with pytest.raises(DurationError, match=message):
        parse_release_after(text)


def test_release_durations_longer_than_1024_characters_are_refused_unread() -> None:
    valid_go = "1ns" + "0s" * 600  # 1203 characters that Go reads as 1ns
    assert parse_go_duration(valid_go) == 1
    with pytest.raises(DurationError, match="longer than 1024 characters"):
        parse_release_after(valid_go)
    assert parse_release_after("1ns" + "0s" * 510) == to_timedelta(1)


def test_huge_values_parse_in_linear_time_and_errors_stay_short() -> None:
    # 128 Ki elements: a parser that copies the rest per element would take minutes here.
    assert parse_go_duration("0s" * 131_072) == 0
    with pytest.raises(DurationError) as caught:
        parse_go_duration("1s" * 131_071 + "x")
    assert len(str(caught.value)) < 200


def test_timedelta_conversion_truncates_to_microseconds_towards_zero() -> None:
    assert to_timedelta(1_999) == timedelta(microseconds=1)
    assert to_timedelta(-1_999) == timedelta(microseconds=-1)
    assert to_nanoseconds(timedelta(days=1, microseconds=3)) == 86_400 * 10**9 + 3_000
