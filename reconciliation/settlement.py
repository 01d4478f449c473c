"""Settlement: a collector's itemised registry against its lump sum on the bank statement.

Post offices, terminal networks and compensation payers send an itemised registry (each line
a resident's payment, allocated on its own) and later transfer one lump sum for the lot. The
lump sum must not be allocated again; it must *settle* the registry. Pure functions here pair
registries with lump-sum credits; the service persists the result as ``settlements`` rows, and
whatever does not agree becomes a settlement difference in the daily report.

Pairing rules, per collector (decided here, documented for finance):
- a credit names its collector by the payer IBAN (or, failing that, by a name pattern);
- a credit may arrive on the registry's day or up to ``lag_days`` later (value-date lag);
- the collector may net its fee: a credit up to ``fee_max_permille`` of the total *below* the
  total settles it with status ``fee`` (the difference is the fee); an exact one is ``settled``;
- a credit whose remittance names the registry (its batch reference or date) pairs even if the
  amounts disagree beyond the fee; the gap is a ``difference``;
- among several candidates: the one naming the registry, then the exact amount, then the
  smallest gap, then the earliest; each credit settles at most one registry;
- a registry with no credit yet stays ``unsettled``; a collector credit with no registry is
  returned as unmatched (the service sends it to review).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache


class SettlementStatus(StrEnum):
    """How a registry stands against its lump sum (``settlements.status``)."""

    SETTLED = "settled"  # the lump sum equals the registry's total
    FEE = "fee"  # short by no more than the collector's fee
    DIFFERENCE = "difference"  # any other gap: for an accountant
    UNSETTLED = "unsettled"  # no lump sum yet


@dataclass(frozen=True, slots=True)
class Collector:
    code: str  # as registries name it: "POSTA", the terminal operator's name, ...
    name: str
    ibans: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()  # lower-case, diacritics folded
    fee_max_permille: int = 20
    lag_days: int = 3
    #: regular expressions on an entry's own text (AddtlNtryInf, the entry reference), for a
    #: lump sum booked as a batch without details: no payer to recognise it by
    entry_patterns: tuple[str, ...] = ()

    def owns(self, iban: str | None, name: str | None) -> bool:
        if iban and iban.replace(" ", "").upper() in self.ibans:
            return True
        folded = fold(name or "")
        return bool(folded) and any(p in folded for p in self.name_patterns)

    def names_entry(self, texts: Iterable[str | None]) -> bool:
        """True when a pattern matches one of ``texts``, as written or folded (case and
        diacritics ignored)."""
        if not self.entry_patterns:
            return False
        for text in texts:
            if not text:
                continue
            for form in {text, fold(text)}:
                if any(re.search(p, form, re.IGNORECASE) for p in self.entry_patterns):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class RegistryBatch:
    collector: str
    batch_ref: str
    day: date
    total: int  # bani
    count: int


@dataclass(frozen=True, slots=True)
class Credit:
    payment_id: int
    collector: str
    day: date  # value date, else booking date
    amount: int
    remittance: str = ""


@dataclass(frozen=True, slots=True)
class SettlementLine:
    collector: str
    batch_ref: str
    registry_day: date
    registry_total: int
    registry_count: int
    credit_id: int | None
    credit_amount: int | None
    difference: int  # credit - registry; negative is money short (fee or shortfall)
    status: SettlementStatus


def fold(text: str) -> str:
    """Lower case without diacritics, for name patterns and remittance mentions."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed
    # str.translate drops the combining marks in C; every statement credit's payer name
    # passes here. The per-character test stays for marks outside the table.
    stripped = decomposed.translate(_combining_marks())
    if max(stripped) <= "\uffff":  # not empty: an empty text is ASCII
        return stripped
    return "".join(ch for ch in stripped if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _combining_marks() -> dict[int, None]:
    """Every combining mark of the Basic Multilingual Plane, as a deletion table."""
    return {cp: None for cp in range(0x10000) if unicodedata.combining(chr(cp))}


def identify(
    collectors: Iterable[Collector],
    iban: str | None,
    name: str | None,
    entry_texts: Sequence[str | None] = (),
) -> str | None:
    """The code of the collector that sent a credit, or None for an ordinary payer.

    ``entry_texts`` (the entry's additional information and references) are asked only of a
    credit that names no payer at all: a lump sum booked without details.
    """
    compact = iban.replace(" ", "").upper() if iban else ""
    folded = fold(name) if name else ""
    for c in collectors:
        if compact in c.ibans or (folded and any(p in folded for p in c.name_patterns)):
            return c.code
    if not iban and not name and any(entry_texts):
        for c in collectors:
            if c.names_entry(entry_texts):
                return c.code
    return None


def _names_batch(credit: Credit, batch: RegistryBatch) -> bool:
    text = fold(credit.remittance)
    if not text:
        return False
    ref = fold(batch.batch_ref)
    day_forms = (
        batch.day.strftime("%d.%m.%Y"),
        batch.day.isoformat(),
        batch.day.strftime("%Y%m%d"),
    )
    compact = re.sub(r"\s+", "", text)
    return ref in text or ref.replace(":", "") in compact or any(d in text for d in day_forms)


def _rank(credit: Credit, batch: RegistryBatch, rule: Collector) -> tuple | None:
    lag = (credit.day - batch.day).days
    if not 0 <= lag <= rule.lag_days:
        return None
    gap = batch.total - credit.amount
    named = _names_batch(credit, batch)
    fee_ok = 0 <= gap * 1000 <= batch.total * rule.fee_max_permille
    if not (fee_ok or named):
        return None
    return (not named, gap != 0, abs(gap), lag, credit.payment_id)


def settle(
    batches: Sequence[RegistryBatch], credits: Sequence[Credit], collectors: Sequence[Collector]
) -> tuple[list[SettlementLine], list[Credit]]:
    """Pair registries with lump-sum credits; returns the lines and the credits left over."""
    rules = {c.code: c for c in collectors}
    free = {c.payment_id: c for c in credits}
    lines = []
    for batch in sorted(batches, key=lambda b: (b.day, b.collector, b.batch_ref)):
        rule = rules.get(batch.collector, Collector(batch.collector, batch.collector))
        ranked = [
            (key, c)
            for c in free.values()
            if c.collector == batch.collector and (key := _rank(c, batch, rule)) is not None
        ]
        if not ranked:
            lines.append(_line(batch, None, SettlementStatus.UNSETTLED))
            continue
        credit = min(ranked, key=lambda kc: kc[0])[1]
        del free[credit.payment_id]
        gap = batch.total - credit.amount
        fee_ok = 0 <= gap * 1000 <= batch.total * rule.fee_max_permille
        status = (
            SettlementStatus.SETTLED
            if gap == 0
            else SettlementStatus.FEE
            if fee_ok
            else SettlementStatus.DIFFERENCE
        )
        lines.append(_line(batch, credit, status))
    return lines, list(free.values())


def _line(batch: RegistryBatch, credit: Credit | None, status: SettlementStatus) -> SettlementLine:
    return SettlementLine(
        batch.collector,
        batch.batch_ref,
        batch.day,
        batch.total,
        batch.count,
        credit.payment_id if credit else None,
        credit.amount if credit else None,
        (credit.amount - batch.total) if credit else -batch.total,
        status,
    )
