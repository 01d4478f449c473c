"""Learning from accountants' decisions: a payer seen with an account places their next payment.

Pure: the service loads the rules once per ingest (``LearnedRules``) and ``apply_rules``
turns the matcher's review decisions into allocations where a rule holds. Nothing here reads
a database.

Who is "the same payer" (``payer_keys``):

- ``iban:<IBAN>``: the payer's account, when the statement gives a valid one;
- ``text:<name>|<text>``: without an IBAN, the payer's name with the text they wrote,
  case- and diacritic-folded, months, dates, amounts and years removed. People repeat the
  details they saved in their web-banking template, address included, so the same name
  with the same words is the same habit; a name alone is never a key (namesakes abound),
  and a text without a name only when it has three words or more and a number (a house,
  a flat, an account as typed), never a generic "servicii comunale".

When a rule places a payment (all must hold):

- the matcher sent it to review for lack of evidence (``LEARNABLE``: no reference, a name
  only, a number that fails or lacks its check digit, an unknown or unconfirmed number),
  never when the text points elsewhere (several accounts, conflicting references, a closed
  account, a likely duplicate);
- an ``iban`` rule only when the text names no number at all (``NO_REFERENCE``/``NAME_ONLY``);
  a ``text`` rule also for numbers, because the text, number included, is what was decided;
- the rule has at least ``learn_after`` consistent decisions and is active (the service
  retires a rule that another decision contradicts or whose account was closed);
- the rule's account exists and is open now.

A candidate a person declined for a payer (the item was resolved another way) is never
proposed again for that payer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciliation.match import CityIndex
from reconciliation.model import Decision, PaymentRecord
from reconciliation.references import normalize_iban
from reconciliation.review import ReasonCode
from reconciliation.text_refs import normalize

LEARNED_REASON = "LEARNED"
DEFAULT_LEARN_AFTER = 2
LEARNABLE = frozenset(
    {
        ReasonCode.NO_REFERENCE.value,
        ReasonCode.NAME_ONLY.value,
        ReasonCode.CHECK_DIGIT_FAILED.value,
        ReasonCode.CHECK_DIGIT_MISSING.value,
        ReasonCode.ACCOUNT_NOT_FOUND.value,
        ReasonCode.UNCONFIRMED_NUMBER.value,
    }
)
_NO_NUMBER = frozenset({ReasonCode.NO_REFERENCE.value, ReasonCode.NAME_ONLY.value})

_MONTHS = (
    *("ianuarie", "februarie", "martie", "aprilie", "mai", "iunie", "iulie", "august"),
    *("septembrie", "octombrie", "noiembrie", "decembrie"),
    *("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "сентябрь", "октябрь"),
    *("ноябрь", "декабрь", "января", "февраля", "марта", "апреля", "мая", "июня", "июля"),
    *("августа", "сентября", "октября", "ноября", "декабря"),
)
_NOISE = re.compile(
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"  # dates
    r"|\b\d+[.,]\d{2}\b"  # amounts
    r"|\b(?:19|20)\d{2}\b"  # years
    r"|\b(?:" + "|".join(normalize(m) for m in _MONTHS) + r")\b"
)
_WORDS = re.compile(r"[0-9a-zа-яё]+")


def _habit(name: str | None, text: str | None) -> str | None:
    folded_name = " ".join(_WORDS.findall(normalize(name or "")))
    words = _WORDS.findall(_NOISE.sub(" ", normalize(text or "")))
    if not words:
        return None  # a name alone: namesakes abound
    if not folded_name and (len(words) < 3 or not any(w.isdigit() for w in words)):
        return None  # no name, and a text too generic to tell one payer from another
    return f"{folded_name}|{' '.join(words)}"[:290]


def payer_keys(
    debtor_iban: str | None, debtor_name: str | None, remittance: str | None
) -> tuple[str, ...]:
    """The keys a payment's payer is known by, the most specific first."""
    keys = []
    habit = _habit(debtor_name, remittance)
    if habit:
        keys.append(f"text:{habit}")
    iban = normalize_iban(debtor_iban)
    if iban:
        keys.append(f"iban:{iban}")
    return tuple(keys)


def record_keys(record: PaymentRecord) -> tuple[str, ...]:
    return payer_keys(record.debtor_iban, record.debtor_name, record.remittance)


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: int
    account_no: str
    decisions: int


@dataclass
class LearnedRules:
    """Active rules by payer key and declined accounts by payer key, as loaded for a batch."""

    place: dict[str, Rule] = field(default_factory=dict)
    declined: dict[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.place or self.declined)


def apply_rules(
    records: Sequence[PaymentRecord],
    decisions: Sequence[Decision],
    rules: LearnedRules,
    index: CityIndex,
) -> tuple[list[Decision], list[int | None]]:
    """Decisions with learned placements and without declined candidates, and per record the
    id of the rule that placed it (or None)."""
    out: list[Decision] = []
    used: list[int | None] = []
    for record, decision in zip(records, decisions, strict=True):
        if decision.status != "review" or not rules:
            out.append(decision)
            used.append(None)
            continue
        keys = record_keys(record)
        rule = _rule_for(keys, decision.reason, rules.place, index)
        if rule is not None:
            out.append(
                Decision(
                    "allocate",
                    {rule.account_no: record.amount},
                    reason=LEARNED_REASON,
                    evidence=f"learned from {rule.decisions} decisions (rule {rule.rule_id})",
                )
            )
            used.append(rule.rule_id)
            continue
        out.append(_without_declined(decision, keys, rules.declined))
        used.append(None)
    return out, used


def _rule_for(
    keys: Sequence[str], reason: str, place: Mapping[str, Rule], index: CityIndex
) -> Rule | None:
    if reason not in LEARNABLE:
        return None
    for key in keys:
        rule = place.get(key)
        if rule is None or (key.startswith("iban:") and reason not in _NO_NUMBER):
            continue
        if index.is_open_account(rule.account_no):
            return rule
    return None


def _without_declined(
    decision: Decision, keys: Sequence[str], declined: Mapping[str, frozenset[str]]
) -> Decision:
    no = frozenset().union(*(declined.get(k, frozenset()) for k in keys)) if keys else frozenset()
    if not no or not any(c.account_no in no for c in decision.candidates):
        return decision
    return replace(
        decision, candidates=tuple(c for c in decision.candidates if c.account_no not in no)
    )


# --- what a decision teaches (the service persists it) --------------------------------------


@dataclass(frozen=True, slots=True)
class Lesson:
    """A resolution's evidence: these payer keys were placed on ``account_no`` (None when
    the payment went back or was no utility payment) and the candidates were declined."""

    keys: tuple[str, ...]
    account_no: str | None
    declined: tuple[str, ...]


def lesson(keys: Sequence[str], account_no: str | None, candidates: Sequence[str]) -> Lesson | None:
    """What resolving a payment of ``keys`` onto ``account_no`` teaches; None without keys."""
    if not keys:
        return None
    declined = tuple(dict.fromkeys(c for c in candidates if c != account_no))
    return Lesson(tuple(keys), account_no, declined)
