"""Money: MDL held as integer bani everywhere inside the gateway.

This is the one module that turns text into bani and back. Floats are refused outright: a
float has already lost the exact value by the time it reaches us, so accepting one would hide
the bug upstream instead of surfacing it. Text may carry more than two decimals only when they
are zeros, exact to the ban ("8.850", "5442.09000": ISO 20022 amounts have up to five fraction
digits); we never round a non-zero third one away, because a bank that sends "10.005" has a
problem we must not paper over.

Splitting uses the largest-remainder method so that the parts always add up to the whole,
which is what lets every allocation balance to the ban.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

BANI_PER_LEU = 100
#: Ten billion lei: far above any utility payment, low enough to catch garbage and overflow.
MAX_BANI = 10**12
CURRENCY = "MDL"

#: ASCII digits only (``re.ASCII``): "١٠.٠٠" or "１０.００" is no amount a bank meant to send.
_AMOUNT_RE = re.compile(
    r"(?P<sign>[+-]?)(?P<int>\d{1,13})(?:(?P<sep>[.,])(?P<frac>\d{1,2})(?P<rest>\d{0,8}))?",
    re.ASCII,
)
_TWO_PLACES = Decimal("0.01")


class MoneyError(ValueError):
    """An amount that cannot be taken as exact MDL bani; the message says why."""


def parse_amount(
    value: str | Decimal | int, *, allow_comma: bool = False, allow_negative: bool = False
) -> int:
    """Parse an amount in lei ("1234.50", Decimal("1.5")) into integer bani.

    Accepts two decimals, or more when the rest are zeros ("8.850"; "8.855" is refused as not
    exact to the ban), no exponent, no thousands separators. ``allow_comma`` admits
    a decimal comma for registries written by Romanian- or Russian-locale software. An ``int``
    is taken as whole lei (never as bani): ambiguity here would cost a factor of a hundred.
    """
    if isinstance(value, bool | float):
        raise MoneyError(f"amount must be text or Decimal, not {type(value).__name__}")
    if isinstance(value, int):
        bani = value * BANI_PER_LEU
    elif isinstance(value, Decimal):
        bani = _decimal_to_bani(value)
    elif isinstance(value, str):
        bani = _text_to_bani(value, allow_comma=allow_comma)
    else:
        raise MoneyError(f"amount must be text or Decimal, not {type(value).__name__}")
    if bani < 0 and not allow_negative:
        raise MoneyError(f"negative amount {value!r}")
    if abs(bani) > MAX_BANI:
        raise MoneyError(f"amount {value!r} is out of range")
    return bani


def _text_to_bani(text: str, *, allow_comma: bool) -> int:
    m = _AMOUNT_RE.fullmatch(text.strip())
    if not m or (m.group("sep") == "," and not allow_comma):
        raise MoneyError(f"malformed amount {text!r} (expected digits with at most two decimals)")
    if m.group("rest") and m.group("rest").strip("0"):
        raise MoneyError(
            f"amount {text.strip()!r} is not exact to the ban (more than two decimals)"
        )
    frac = (m.group("frac") or "").ljust(2, "0")
    bani = int(m.group("int")) * BANI_PER_LEU + int(frac or 0)
    return -bani if m.group("sign") == "-" else bani


def _decimal_to_bani(value: Decimal) -> int:
    if not value.is_finite():
        raise MoneyError(f"amount {value!r} is not a finite number")
    try:
        scaled = value * BANI_PER_LEU
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"amount {value} is not exact to the ban (more than two decimals)")
        return int(scaled)
    except InvalidOperation as exc:  # pragma: no cover - only with exotic contexts
        raise MoneyError(f"amount {value!r} is not a number") from exc


def to_decimal(bani: int) -> Decimal:
    """Bani to a Decimal with exactly two places, for the edges (JSON, CSV, templates)."""
    _require_int(bani)
    return (Decimal(bani) / BANI_PER_LEU).quantize(_TWO_PLACES)


def format_amount(bani: int) -> str:
    """Bani to "1234.50": two decimals, no separators; the wire and CSV format."""
    _require_int(bani)
    sign = "-" if bani < 0 else ""
    lei, rest = divmod(abs(bani), BANI_PER_LEU)
    return f"{sign}{lei}.{rest:02d}"


def split(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` bani in proportion to non-negative integer ``weights``, exact sum.

    Largest remainder: each part gets the floor of its exact share, and the bani left over go
    one each to the largest fractional remainders, ties to the earlier part, so the result is
    deterministic. All-zero weights are refused: there is no proportion to follow.
    """
    _require_int(total)
    if total < 0:
        return [-p for p in split(-total, weights)]
    if weights and min(weights) < 0:
        raise MoneyError("split weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise MoneyError("cannot split by all-zero weights")
    # Comprehensions, not a loop of divmod: the allocator splits every partial payment.
    shares = [total * w for w in weights]
    parts = [share // weight_sum for share in shares]
    left = total - sum(parts)
    if left:
        by_remainder = sorted(range(len(shares)), key=lambda i: -(shares[i] % weight_sum))
        for i in by_remainder[:left]:  # a stable sort: ties keep the earlier part first
            parts[i] += 1
    return parts


def _require_int(bani: int) -> None:
    if not isinstance(bani, int) or isinstance(bani, bool):
        raise MoneyError(f"bani must be an int, not {type(bani).__name__}")
