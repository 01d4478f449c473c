"""Finding the account a payment belongs to, or saying clearly why we cannot.

A payment placed on the wrong account is worse than one left for review: it takes a resident's
money and marks someone else's debt paid. So ``match`` places automatically only what is
certain, and answers everything else with a reason code and ranked candidates.

What counts as certain (the decisions, in the order they are tried):

* **Structured references** (the record's own fields): an account number given by the bank API
  or a registry that exists and is open; an invoice number or an ISO 11649 RF reference known
  to the register; an end-to-end id naming an earlier registry line. Several that disagree are
  ``CONFLICTING_REFERENCES``. Named services must all be billed on the account.
* **Free text**, only when the record has no structured reference:
  - a valid, known RF reference (its mod-97 check guards against typos);
  - one valid (Damm), existing, open account right after an account keyword ("cont personal",
    "c/p", "л/с", ...), with no *other* keyword-anchored number in the text;
  - one bare valid existing open account, only if something else confirms it: the payer name
    resembles the account holder, or it is written in the printed form "1234567-4" without
    look-alike letters and is the only long number in the text. One random 8-digit number in
    ten passes the check digit, and phone numbers without their leading 0 are eight digits too,
    so a bare "12345674" alone is not enough (``UNCONFIRMED_NUMBER``);
  - several valid existing accounts only when their open totals add up to the amount exactly;
    each then receives its open total;
  - an invoice number from the text only when the amount equals what is open on that invoice
    or the payer name resembles (invoice numbers have no check digit, a typo hits a neighbour);
  - a check-digit typo only when exactly one correction exists, is open, its open total equals
    the amount exactly and the payer name (when given) resembles.

Everything else goes to review with up to ``MAX_CANDIDATES`` candidates, each with its reason:
typo corrections that pass the check digit and exist, and accounts whose holder name and
address resemble the text (rapidfuzz over a token-blocked shortlist, built only when needed).

Reversals are not matched here: the service looks up the original payment by its references
and posts ``allocate.reverse`` of its rows; only a reversal it cannot pair reaches ``match``.

Longer than our ~450-line modules on purpose: every certainty rule above is here, each beside
the others it must not contradict (what a rule accepts another must not send to review).

Longer than the ~450-line modules on purpose: the rules above and the code that applies
them are read together, and every rule is one function below.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from rapidfuzz import fuzz

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy, allocate
from reconciliation.model import (
    AccountInfo,
    AllocationRow,
    Candidate,
    Decision,
    OpenLine,
    PaymentRecord,
)
from reconciliation.names import NameIndex
from reconciliation.references import (
    damm_digit,
    display_account_no,
    is_valid_account_no,
    normalize_account_no,
    normalize_rf,
    single_digit_fixes,
)
from reconciliation.review import ReasonCode
from reconciliation.text_refs import TextRefs, extract, normalize

MAX_CANDIDATES = 5
#: Why a name suggestion is a candidate; such candidates never need the account's lines.
NAME_CANDIDATE = "holder name and address resemble the payment"
#: rapidfuzz token-sort score from which a payer name "resembles" the account holder.
NAME_RESEMBLES = 85


class CityIndex:
    """Everything the matcher needs about the city for one batch, built once.

    Plain dicts keyed by account, invoice and reference; the name/address index for fuzzy
    suggestions is built lazily on the first review item that needs it.
    """

    def __init__(
        self,
        accounts: Mapping[str, AccountInfo],
        lines_by_account: dict[str, list[OpenLine]],
        invoice_account: dict[str, str],
        ref_invoice: dict[str, str],
        registry_refs: dict[str, str],
    ) -> None:
        self.accounts = accounts
        self.lines_by_account = lines_by_account
        self.invoice_account = invoice_account
        self.ref_invoice = ref_invoice
        self.registry_refs = registry_refs
        self._open_total: dict[str, int] = {}
        self._names: NameIndex | None = None
        self._names_from: Callable[[], NameIndex] | None = None

    @classmethod
    def build(
        cls,
        accounts: Iterable[AccountInfo],
        lines: Iterable[OpenLine],
        *,
        invoice_refs: Mapping[str, str] | None = None,
        registry_refs: Mapping[str, str] | None = None,
    ) -> CityIndex:
        """Index a batch's snapshot.

        ``invoice_refs`` maps RF payment references (as printed on invoices) to invoice numbers;
        ``registry_refs`` maps end-to-end ids of earlier registry lines to account numbers.
        """
        by_account: dict[str, list[OpenLine]] = defaultdict(list)
        invoice_account: dict[str, str] = {}
        for ln in lines:
            by_account[ln.account_no].append(ln)
            invoice_account[ln.invoice_no] = ln.account_no
        refs = {normalize_rf(k) or k.upper(): v for k, v in (invoice_refs or {}).items()}
        return cls(
            {a.account_no: a for a in accounts},
            dict(by_account),
            invoice_account,
            refs,
            dict(registry_refs or {}),
        )

    def lines(self, account_no: str) -> Sequence[OpenLine]:
        return self.lines_by_account.get(account_no, ())

    def set_lines(self, account_no: str, lines: Sequence[OpenLine]) -> None:
        """Replace an account's lines (newly loaded, or after a payment in the same batch),
        forgetting its cached open total."""
        self.lines_by_account[account_no] = list(lines)
        self._open_total.pop(account_no, None)

    def open_total(self, account_no: str) -> int:
        """What is open on the account (positive lines only; credits are not netted)."""
        total = self._open_total.get(account_no)
        if total is None:
            total = sum(ln.open_amount for ln in self.lines(account_no) if ln.open_amount > 0)
            self._open_total[account_no] = total
        return total

    def invoice_open(self, invoice_no: str) -> int:
        account = self.invoice_account.get(invoice_no)
        lines = self.lines(account) if account else ()
        return sum(ln.open_amount for ln in lines if ln.invoice_no == invoice_no)

    def is_open_account(self, account_no: str) -> bool:
        info = self.accounts.get(account_no)
        return info is not None and info.status == "open"

    def names(self) -> NameIndex:
        """The holder-name index: the one ``use_names`` gives, else built from ``accounts``."""
        if self._names is None and self._names_from is not None:
            self._names = self._names_from()
        if self._names is None:
            self._names = NameIndex(
                (a.account_no, a.payer_name, a.address)
                for a in self.accounts.values()
                if a.status == "open"
            )
        return self._names

    def use_names(self, names: Callable[[], NameIndex]) -> None:
        """Take the name index from ``names()`` when first needed: one built once for the
        city and shared (the service keeps one per process and database)."""
        self._names_from = names


# Runs of alphanumerics (str.isalnum: \w without "_") of three or more.
_WORD_RE = re.compile(r"[^\W_]{3,}")


def _words(text: str) -> list[str]:
    """Words of three or more letters or digits; anything else separates them."""
    return _WORD_RE.findall(text)


@lru_cache(maxsize=1 << 16)
def _normalized_name(name: str) -> str:
    """``normalize`` for holder and payer names, which recur across a batch's payments."""
    return normalize(name)


def name_resembles(debtor: str | None, info: AccountInfo, text: str = "") -> bool:
    """Whether the payer (or the text) names the account holder, for corroboration only."""
    holder = _normalized_name(info.payer_name)
    if debtor:
        d = _normalized_name(debtor)
        if fuzz.token_sort_ratio(d, holder) >= NAME_RESEMBLES:
            return True
        shared = set(_words(d)) & set(_words(holder))
        return len(shared) >= 2 and fuzz.token_set_ratio(d, holder) == 100
    words = set(_words(normalize(text)))
    need = _words(holder)
    return len(need) >= 2 and all(w in words for w in need)


# --------------------------------------------------------------------------------------------
# Decisions


def _review(reason: ReasonCode, evidence: str, candidates: Iterable[Candidate] = ()) -> Decision:
    return Decision("review", reason=reason, candidates=_rank(candidates), evidence=evidence)


def _rank(candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    best: dict[str, Candidate] = {}
    for c in candidates:
        if c.account_no not in best or c.score > best[c.account_no].score:
            best[c.account_no] = c
    ordered = sorted(best.values(), key=lambda c: (-c.score, c.account_no))
    return tuple(ordered[:MAX_CANDIDATES])


def _place(record: PaymentRecord, index: CityIndex, account_no: str, evidence: str) -> Decision:
    """Allocate to one account, unless its state or the named services forbid it."""
    info = index.accounts.get(account_no)
    if info is None:
        return _review(ReasonCode.ACCOUNT_NOT_FOUND, f"{evidence}; account unknown")
    if info.status != "open":
        cand = Candidate(account_no, 0.5, "named account, but it is closed")
        return _review(ReasonCode.ACCOUNT_CLOSED, evidence, [cand])
    if record.services:
        billed = {ln.service_code for ln in index.lines(account_no)}
        unknown = [s.service_code for s in record.services if s.service_code not in billed]
        cand = Candidate(account_no, 0.9, "the account named by the payment")
        if unknown:
            return _review(ReasonCode.UNKNOWN_SERVICE, f"not billed: {', '.join(unknown)}", [cand])
        if sum(s.amount for s in record.services) != record.amount:
            return _review(ReasonCode.SERVICE_SUM_MISMATCH, evidence, [cand])
    return Decision("allocate", accounts={account_no: record.amount}, evidence=evidence)


def match(record: PaymentRecord, index: CityIndex) -> Decision:
    """Decide where one payment goes (see the module doc for what counts as certain)."""
    if record.direction != "credit" or record.currency != "MDL" or record.amount <= 0:
        return Decision("reject", reason=ReasonCode.NOT_A_PAYMENT, evidence="not an MDL credit")
    if record.reversal:
        return _review(ReasonCode.REVERSAL_UNMATCHED, "reversal without a known original")
    acc = record.account_no
    if acc is not None and acc in index.accounts and not (record.invoice_no or record.payment_ref):
        return _place(record, index, acc, "account number given")  # the common fast path
    found = _structured(record, index)
    if isinstance(found, Decision):
        return found
    if found:
        accounts = {a for a, _ in found}
        if len(accounts) > 1:
            cands = [Candidate(a, 0.5, f"named by {why}") for a, why in found]
            return _review(ReasonCode.CONFLICTING_REFERENCES, "; ".join(w for _, w in found), cands)
        return _place(record, index, accounts.pop(), "; ".join(w for _, w in found))
    return _from_text(record, index)


def _structured(record: PaymentRecord, index: CityIndex) -> list[tuple[str, str]] | Decision:
    """Accounts named by the record's own fields, or a review decision for a bad one."""
    found: list[tuple[str, str]] = []
    if record.account_no:
        given = record.account_no
        canon = normalize_account_no(given) or given.strip()
        if canon not in index.accounts:
            return _bad_number(record, index, canon, "given account number")
        found.append((canon, "account number given"))
    if record.invoice_no:
        inv_acc = index.invoice_account.get(record.invoice_no)
        if inv_acc is not None:
            found.append((inv_acc, f"invoice {record.invoice_no}"))
        elif not found:
            return _review(ReasonCode.UNKNOWN_INVOICE, f"invoice {record.invoice_no} not open")
    if record.payment_ref:
        rf = normalize_rf(record.payment_ref)
        inv = index.ref_invoice.get(rf) if rf else None
        if inv is not None and inv in index.invoice_account:
            found.append((index.invoice_account[inv], f"payment reference {rf}"))
        elif not found:
            why = "unknown" if rf else "fails its check"
            return _review(ReasonCode.UNKNOWN_PAYMENT_REF, f"{record.payment_ref} {why}")
    if record.end_to_end_id and record.end_to_end_id in index.registry_refs:
        found.append((index.registry_refs[record.end_to_end_id], "earlier registry line"))
    return found


def _bad_number(record: PaymentRecord, index: CityIndex, digits: str, where: str) -> Decision:
    """Review for a number that is not a usable account, with typo corrections ranked."""
    cands = typo_candidates(digits, index, record)
    shown = display_account_no(digits) if len(digits) == 8 and digits.isdigit() else digits
    if len(digits) == 7 and digits.isdigit():
        return _review(ReasonCode.CHECK_DIGIT_MISSING, f"{where} {shown}", cands)
    if len(digits) == 8 and digits.isdigit() and is_valid_account_no(digits):
        if digits in index.accounts:  # exists, so it must be closed
            return _place(record, index, digits, f"{where} {shown}")
        return _review(ReasonCode.ACCOUNT_NOT_FOUND, f"{where} {shown}", cands)
    return _review(ReasonCode.CHECK_DIGIT_FAILED, f"{where} {shown}", cands)


def typo_candidates(digits: str, index: CityIndex, record: PaymentRecord) -> list[Candidate]:
    """Existing open accounts one keystroke away that pass the check digit, best first."""
    return [
        _corroborated(acc, score, why, index, record)
        for acc, score, why in one_keystroke(digits)
        if acc != digits and is_valid_account_no(acc) and index.is_open_account(acc)
    ]


def one_keystroke(digits: str) -> list[tuple[str, float, str]]:
    """(number, score, why) for the numbers a typist may have meant by ``digits``: the
    check digit added to seven digits, two adjacent digits swapped or one digit changed
    (only the change that passes the check) in eight, one digit dropped from nine."""
    tries: list[tuple[str, float, str]] = []
    if len(digits) == 7 and digits.isdigit():
        tries.append((digits + str(damm_digit(digits)), 0.9, "check digit added"))
    elif len(digits) == 8 and digits.isdigit():
        for i in range(7):
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            tries.append((swapped, 0.85, f"digits {i + 1} and {i + 2} swapped"))
        for i, d in single_digit_fixes(digits):  # the one digit per position that passes
            fixed = digits[:i] + d + digits[i + 1 :]
            tries.append((fixed, 0.75, f"digit {i + 1} read as {d}"))
    elif len(digits) == 9 and digits.isdigit():
        for i in range(9):
            tries.append((digits[:i] + digits[i + 1 :], 0.7, f"extra digit {i + 1} dropped"))
    return tries


def _corroborated(
    acc: str, score: float, why: str, index: CityIndex, record: PaymentRecord
) -> Candidate:
    """Raise a candidate's rank when the name or the exact amount agrees, and say so."""
    reasons = [why]
    if name_resembles(record.debtor_name, index.accounts[acc], record.remittance or ""):
        score, reasons = score + 0.1, [*reasons, "payer name matches"]
    if index.open_total(acc) == record.amount:
        score, reasons = score + 0.05, [*reasons, "amount equals the open total"]
    return Candidate(acc, min(score, 1.0), "; ".join(reasons))


def _from_text(record: PaymentRecord, index: CityIndex) -> Decision:
    """Free text only: RF refs, account numbers, invoice numbers, then names."""
    refs = extract(record.remittance)
    for rf in refs.rf_refs:
        inv = index.ref_invoice.get(rf.ref) if rf.valid else None
        if inv is not None and inv in index.invoice_account:
            return _place(record, index, index.invoice_account[inv], f"payment reference {rf.ref}")
    decided = _text_accounts(record, index, refs)
    if decided is not None:
        return decided
    decided = _text_invoices(record, index, refs)
    if decided is not None:
        return decided
    return _names_only(record, index, refs)


def _text_accounts(record: PaymentRecord, index: CityIndex, refs: TextRefs) -> Decision | None:
    """Account numbers in the text: the rules of the module doc, or None if there are none."""
    mentions = [m for m in refs.accounts if m.kind == "account"]
    good = {m.digits for m in mentions if m.valid and index.is_open_account(m.digits)}
    anchored_other = {m.digits for m in mentions if m.anchored and m.digits not in good}
    if len(good) == 1 and not anchored_other:
        acc = next(iter(good))
        ms = [m for m in mentions if m.digits == acc]
        if any(m.anchored for m in ms):
            return _place(record, index, acc, f"keyword-anchored account {ms[0].raw!r}")
        if name_resembles(record.debtor_name, index.accounts[acc], refs.normalized):
            return _place(record, index, acc, f"account {ms[0].raw!r}, payer name matches")
        printed = any(m.layout == "printed" and not m.lookalike for m in ms)
        if printed and refs.long_numbers == 1:
            return _place(record, index, acc, f"only number, printed form {ms[0].raw!r}")
        cand = Candidate(acc, 0.7, "valid existing account in the text, nothing confirms it")
        return _review(ReasonCode.UNCONFIRMED_NUMBER, f"bare number {ms[0].raw!r}", [cand])
    if len(good) > 1 or (good and anchored_other):
        return _several(record, index, sorted(good), anchored_other)
    return _text_bad_numbers(record, index, refs)


def _several(
    record: PaymentRecord, index: CityIndex, good: list[str], others: set[str]
) -> Decision:
    """Several accounts: only an exact sum of their open totals is certain."""
    totals = {a: index.open_total(a) for a in good}
    exact = sum(totals.values()) == record.amount
    if exact and not others and len(good) > 1 and all(totals.values()):
        shown = ", ".join(display_account_no(a) for a in good)
        return Decision("allocate", accounts=totals, evidence=f"open totals of {shown} sum")
    cands = [Candidate(a, 0.6, "one of several accounts in the text") for a in good]
    for digits in others:
        cands += typo_candidates(digits, index, record)
    return _review(ReasonCode.MULTIPLE_ACCOUNTS, f"{len(good) + len(others)} numbers", cands)


def _text_bad_numbers(record: PaymentRecord, index: CityIndex, refs: TextRefs) -> Decision | None:
    """Numbers that fail their check, do not exist, are closed, or lack the check digit."""
    order = sorted(refs.accounts, key=lambda m: (not m.anchored, m.kind != "account", m.start))
    if not order:
        return None
    first = order[0]
    if first.kind == "extra" and not first.anchored:
        return None  # a bare nine-digit number is most likely something else
    decided = _bad_number(record, index, first.digits, "number in the text")
    if decided.status == "review":
        corrected = _unique_exact_correction(record, decided)
        if corrected is not None:
            return _place(record, index, corrected, f"{decided.evidence}; unique exact correction")
        extra = [c for m in order[1:] for c in typo_candidates(m.digits, index, record)]
        return _review(ReasonCode(decided.reason), decided.evidence, [*decided.candidates, *extra])
    return decided


def _unique_exact_correction(record: PaymentRecord, decided: Decision) -> str | None:
    """The one correction whose open total equals the amount (and name, when given, matches)."""
    if decided.reason not in (ReasonCode.CHECK_DIGIT_FAILED, ReasonCode.CHECK_DIGIT_MISSING):
        return None
    exact = [c for c in decided.candidates if "amount equals" in c.reason]
    if len(exact) != 1:
        return None
    if record.debtor_name and "payer name matches" not in exact[0].reason:
        return None
    return exact[0].account_no


def _text_invoices(record: PaymentRecord, index: CityIndex, refs: TextRefs) -> Decision | None:
    """An invoice number from the text: certain only with the exact amount or the name."""
    for inv in refs.invoices:
        acc = index.invoice_account.get(inv.invoice_no)
        if acc is None:
            continue
        if index.invoice_open(inv.invoice_no) == record.amount or name_resembles(
            record.debtor_name, index.accounts[acc], refs.normalized
        ):
            return _place(record, index, acc, f"invoice {inv.invoice_no} from the text")
        cand = Candidate(acc, 0.7, f"holder of invoice {inv.invoice_no}")
        return _review(ReasonCode.AMOUNT_MISMATCH_INVOICE, f"invoice {inv.invoice_no}", [cand])
    if refs.invoices or refs.rf_refs:
        what = ", ".join([i.invoice_no for i in refs.invoices] + [r.ref for r in refs.rf_refs])
        reason = ReasonCode.UNKNOWN_INVOICE if refs.invoices else ReasonCode.UNKNOWN_PAYMENT_REF
        return _review(reason, what, _name_candidates(record, index, refs))
    return None


def _names_only(record: PaymentRecord, index: CityIndex, refs: TextRefs) -> Decision:
    cands = _name_candidates(record, index, refs)
    if cands or record.debtor_name or any(c.isalpha() for c in refs.normalized):
        return _review(ReasonCode.NAME_ONLY, "no usable number; name and address only", cands)
    return _review(ReasonCode.NO_REFERENCE, "empty details")


def _name_candidates(record: PaymentRecord, index: CityIndex, refs: TextRefs) -> list[Candidate]:
    query = " ".join(filter(None, [record.debtor_name, refs.normalized]))
    if not _words(query):
        return []
    return [
        Candidate(acc, round(0.6 * score, 3), NAME_CANDIDATE)
        for acc, score in index.names().suggest(query)
    ]


def match_batch(records: Iterable[PaymentRecord], index: CityIndex) -> list[Decision]:
    """``match`` for every record, in order."""
    return [match(r, index) for r in records]


def allocate_decision(
    record: PaymentRecord,
    decision: Decision,
    index: CityIndex,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> list[AllocationRow]:
    """The rows for an ``allocate`` decision (empty otherwise); they sum to the amount.

    One account: named services and a known structured invoice are honoured. Several accounts
    (exact open totals): each share is placed oldest first on that account.
    """
    if decision.status != "allocate":
        return []
    if len(decision.accounts) == 1:
        (acc,) = decision.accounts
        invoice = (
            record.invoice_no if index.invoice_account.get(record.invoice_no or "") == acc else None
        )
        services = record.services
        return allocate(
            acc,
            record.amount,
            index.lines(acc),
            services=services,
            invoice_no=invoice,
            policy=policy,
        )
    rows: list[AllocationRow] = []
    for acc, share in decision.accounts.items():
        rows.extend(allocate(acc, share, index.lines(acc), policy=policy))
    return rows


# --------------------------------------------------------------------------------------------
# Duplicates

#: End-to-end ids that banks fill in when the payer gave none; they identify nothing.
_PLACEHOLDER_REFS = frozenset({"", "NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE", "-"})


@dataclass(frozen=True, slots=True)
class SeenPayment:
    """What duplicate detection needs about a payment (this batch's or a recent one)."""

    payment_id: str  # the payment's identity (source, external id), as the service keys it
    channel: str
    day: date | None
    account_no: str | None
    amount: int
    bank_refs: tuple[str, ...] = ()  # account servicer ref, end-to-end id

    @classmethod
    def of(
        cls, payment_id: str, channel: str, record: PaymentRecord, account_no: str | None
    ) -> SeenPayment:
        refs = (record.account_servicer_ref, record.end_to_end_id)
        kept = tuple(r for r in refs if r and r.strip().upper() not in _PLACEHOLDER_REFS)
        return cls(payment_id, channel, record.business_day(), account_no, record.amount, kept)


@dataclass(frozen=True, slots=True)
class DuplicateFlag:
    payment_id: str
    other_id: str
    reason: str  # human evidence for the review item; the code is LIKELY_DUPLICATE


def flag_duplicates(
    batch: Sequence[SeenPayment], recent: Iterable[SeenPayment], *, window_days: int = 3
) -> dict[str, DuplicateFlag]:
    """Batch payments that look like one already received, by payment id.

    Flagged (to review, never dropped): a bank reference already seen on another payment, or
    the same account and amount from *another channel* within ``window_days``. Two identical
    payments in one channel (distinct occurrence ids) both count and are not flagged; the same
    payment id seen again is the same payment, which the service's idempotency handles.
    """
    by_ref: dict[str, str] = {}
    by_key: dict[tuple[str, int], list[SeenPayment]] = defaultdict(list)
    seen_ids: set[str] = set()

    def remember(p: SeenPayment) -> None:
        seen_ids.add(p.payment_id)
        for ref in p.bank_refs:
            by_ref.setdefault(ref, p.payment_id)
        if p.account_no:
            by_key[(p.account_no, p.amount)].append(p)

    for p in recent:
        remember(p)
    flags: dict[str, DuplicateFlag] = {}
    for p in batch:
        if p.payment_id in seen_ids:
            continue
        flag = _duplicate_of(p, by_ref, by_key, window_days)
        if flag is not None:
            flags[p.payment_id] = flag
        remember(p)
    return flags


def _duplicate_of(
    p: SeenPayment,
    by_ref: Mapping[str, str],
    by_key: Mapping[tuple[str, int], list[SeenPayment]],
    window_days: int,
) -> DuplicateFlag | None:
    for ref in p.bank_refs:
        if ref in by_ref and by_ref[ref] != p.payment_id:
            return DuplicateFlag(p.payment_id, by_ref[ref], f"bank reference {ref} seen before")
    if not p.account_no:
        return None
    for other in by_key.get((p.account_no, p.amount), ()):
        if other.channel == p.channel:
            continue
        near = p.day is None or other.day is None or abs((p.day - other.day).days) <= window_days
        if near:
            why = f"same account and amount via {other.channel} on {other.day}"
            return DuplicateFlag(p.payment_id, other.payment_id, why)
    return None
