"""Identifiers residents type: personal account numbers and ISO 11649 RF payment references.

Account numbers are seven digits plus one check digit computed with the Damm algorithm. Damm
was chosen over Luhn because it catches every single-digit error *and* every adjacent
transposition (Luhn misses 09<->90), which are exactly the mistakes people make when typing an
account into a bank's "details" field. The canonical form is eight digits with no separator
("12345674"); invoices print it as "1234567-4" and both are accepted on input.
"""

from __future__ import annotations

import re

ACCOUNT_BASE_DIGITS = 7

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> int:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


#: _ROW_INVERSE[state][target] is the digit that takes ``state`` to ``target`` (each row of
#: a Damm table is a permutation); _COLUMN_INVERSE[digit][target] the state that does.
_ROW_INVERSE = tuple(tuple(row.index(t) for t in range(10)) for row in _DAMM)
_COLUMN_INVERSE = tuple(
    tuple(next(s for s in range(10) if _DAMM[s][d] == t) for t in range(10)) for d in range(10)
)


def single_digit_fixes(digits: str) -> list[tuple[int, str]]:
    """(position, digit) for every change of one digit that makes ``digits`` pass the Damm
    check, positions in order.

    Damm detects every single-digit error, so each position has exactly one digit that
    passes: found from the interim state before the position and the state the rest of
    the number must start from, without trying all ten (a typo's corrections are asked for
    every wrong check digit of a day).
    """
    before = [0]
    for ch in digits:
        before.append(_DAMM[before[-1]][ord(ch) - 48])
    out = []
    need = 0  # the state the digits after position i must start from to end at 0
    for i in range(len(digits) - 1, -1, -1):
        fix = _ROW_INVERSE[before[i]][need]
        if fix != ord(digits[i]) - 48:
            out.append((i, chr(48 + fix)))
        need = _COLUMN_INVERSE[ord(digits[i]) - 48][need]
    out.reverse()
    return out


def make_account_no(base: int) -> str:
    """Canonical account number for a 7-digit base: the base followed by its check digit."""
    digits = f"{base:0{ACCOUNT_BASE_DIGITS}d}"
    if len(digits) != ACCOUNT_BASE_DIGITS:
        raise ValueError(f"account base {base} does not fit in {ACCOUNT_BASE_DIGITS} digits")
    return digits + str(damm_digit(digits))


def is_valid_account_no(canonical: str) -> bool:
    """True for eight digits whose Damm check passes (a valid number has interim 0)."""
    return (
        len(canonical) == ACCOUNT_BASE_DIGITS + 1
        and canonical.isascii()
        and canonical.isdigit()
        and damm_digit(canonical) == 0
    )


_ACCOUNT_INPUT_RE = re.compile(r"\s*(\d{7})\s*[-/ ]?\s*(\d)\s*", re.ASCII)


def normalize_account_no(text: str) -> str | None:
    """Canonical form of a typed account number ("1234567-4", "1234567 4"), or None.

    Only the layout is normalised here; whether the check digit passes is a separate question
    (``is_valid_account_no``) so callers can tell "malformed" from "fails its check digit".
    """
    m = _ACCOUNT_INPUT_RE.fullmatch(text)
    return m.group(1) + m.group(2) if m else None


def display_account_no(canonical: str) -> str:
    """The printed form, "1234567-4"."""
    return f"{canonical[:-1]}-{canonical[-1]}"


# ISO 11649 creditor reference: "RF" + two check digits + up to 21 alphanumerics (mod 97-10).


def _rf_numeric(body: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in body))


def make_rf(reference: str) -> str:
    """Wrap an alphanumeric reference (up to 21 characters) as an RF creditor reference."""
    ref = reference.upper()
    if not (1 <= len(ref) <= 21 and ref.isascii() and ref.isalnum()):
        raise ValueError(f"RF reference body must be 1-21 alphanumerics, got {reference!r}")
    check = 98 - _rf_numeric(ref + "RF00") % 97
    return f"RF{check:02d}{ref}"


def normalize_rf(text: str) -> str | None:
    """Canonical RF reference (upper case, no spaces) if ``text`` is a valid one, else None."""
    compact = re.sub(r"\s+", "", text).upper()
    if not re.fullmatch(r"RF[0-9]{2}[0-9A-Z]{1,21}", compact):
        return None
    rearranged = compact[4:] + compact[:4]
    return compact if _rf_numeric(rearranged) % 97 == 1 else None


_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
#: ISO 13616 lengths for the countries a Chișinău payer's bank is likely in; others: 15..34.
_IBAN_LENGTH = {"MD": 24, "RO": 24, "UA": 29, "DE": 22, "IT": 27, "FR": 27, "GB": 22}


def normalize_iban(text: str | None) -> str | None:
    """An IBAN without spaces, upper-case, when its ISO 13616 mod-97 check passes; else None."""
    if not text:
        return None
    iban = re.sub(r"\s+", "", text).upper()
    if not _IBAN_RE.fullmatch(iban):
        return None
    if len(iban) != _IBAN_LENGTH.get(iban[:2], len(iban)):
        return None
    moved = iban[4:] + iban[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return iban if int(numeric) % 97 == 1 else None
