"""Money: exact bani, strict parsing, splits that always add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.money import (
    MAX_BANI,
    MoneyError,
    format_amount,
    parse_amount,
    split,
    to_decimal,
)


@pytest.mark.parametrize(
    ("text", "bani"),
    [("0.01", 1), ("12", 1200), ("12.3", 1230), ("1234.50", 123450), (" 7.05 ", 705)],
)
def test_parse_accepts_up_to_two_decimals(text: str, bani: int) -> None:
    assert parse_amount(text) == bani


@pytest.mark.parametrize(
    ("text", "bani"), [("8.850", 885), ("18.150", 1815), ("5442.09000", 544209), ("1.0", 100)]
)
def test_parse_accepts_more_decimals_when_exact_to_the_ban(text: str, bani: int) -> None:
    assert parse_amount(text) == bani


@pytest.mark.parametrize("text", ["8.855", "5442.09001", "0.001"])
def test_parse_refuses_decimals_beyond_the_ban_clearly(text: str) -> None:
    with pytest.raises(MoneyError, match=f"amount '{text}' is not exact to the ban"):
        parse_amount(text)


@pytest.mark.parametrize(
    "text",
    ["1.00000000000", "1e3", "1,50", "abc", "", "1 000.00", "--1", "0x10", "1.", ".5", "NaN"],
)
def test_parse_refuses_malformed_text(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_parse_refuses_float_negative_and_absurd() -> None:
    with pytest.raises(MoneyError, match="float"):
        parse_amount(1.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="negative"):
        parse_amount("-1.00")
    with pytest.raises(MoneyError, match="range"):
        parse_amount("99999999999.00")
    assert parse_amount("-1.00", allow_negative=True) == -100


def test_decimal_comma_only_when_asked() -> None:
    assert parse_amount("1,50", allow_comma=True) == 150


def test_decimal_input_must_be_exact() -> None:
    assert parse_amount(Decimal("10.10")) == 1010
    with pytest.raises(MoneyError):
        parse_amount(Decimal("10.101"))
    with pytest.raises(MoneyError):
        parse_amount(Decimal("Infinity"))


def test_format_and_to_decimal() -> None:
    assert format_amount(123450) == "1234.50"
    assert format_amount(-5) == "-0.05"
    assert to_decimal(705) == Decimal("7.05")
    assert str(to_decimal(700)) == "7.00"


@given(st.integers(min_value=-MAX_BANI, max_value=MAX_BANI))
def test_format_parse_round_trip(bani: int) -> None:
    assert parse_amount(format_amount(bani), allow_negative=True) == bani


@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30).filter(any),
)
def test_split_sums_exactly_and_stays_within_one_ban(total: int, weights: list[int]) -> None:
    parts = split(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    wsum = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        exact = Decimal(total) * w / wsum
        assert abs(Decimal(part) - exact) < 1


def test_split_is_deterministic_ties_to_earlier_part() -> None:
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(1, [0, 5]) == [0, 1]
    with pytest.raises(MoneyError):
        split(10, [0, 0])


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """The textbook method, spelt out: floor shares, then one ban each to the largest
    remainders, ties to the earlier part."""
    wsum = sum(weights)
    parts = [total * w // wsum for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % wsum), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30).filter(any),
)
def test_split_is_the_largest_remainder_method(total: int, weights: list[int]) -> None:
    assert split(total, weights) == _largest_remainder(total, weights)
