"""Reading account numbers, invoice numbers and RF references out of free payment text.

Direct transfers carry only what the payer typed into the bank's "details" field, in Romanian
or Russian, e.g. "Plata pentru cont personal 1234567-4 noiembrie" or "л/с 1234567 4 за ноябрь".
This module only *reads*: it reports every account-like number with the evidence around it
(keyword-anchored or bare, its layout, whether letters were read as digits, whether the Damm
check digit passes). Deciding whether that is enough to place money is ``match``'s job.

The steps, each over a normalised copy of the text of the same length (so positions agree):

1. fold case and strip diacritics (ș/ş, ț/ţ, ă, â, î; Cyrillic й/ё fold too);
2. inside number-like tokens only, read look-alike letters as digits (o/O/Cyrillic о -> 0,
   l/I/i/| -> 1), so "l234567-4" is read but the word "lol" is left alone;
3. mask what must never be taken for an account: RF references and IBANs (reported
   separately), phone numbers (+373..., 0 6x xxx xxx, 022 ...; anything after "tel"), dates
   (12.11.2026, 2026-11, 11/2026), amounts (150.00, 150,00, 150 lei) and invoice numbers
   after an invoice keyword (reported as invoice mentions);
4. collect digit runs whose groups are joined by single spaces, dashes or slashes, and take
   every window of whole groups with exactly eight digits ("1 234 567-4" included). A run of
   exactly seven digits is reported as a base missing its check digit, nine as one extra digit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from reconciliation.references import is_valid_account_no, normalize_rf

MentionKind = Literal["account", "base", "extra"]
Layout = Literal["plain", "printed", "spaced"]

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212\u2015"), "-")
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\t\r\n"), " ")


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each character (texts repeat a lot)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        folded = base.casefold()
        if len(folded) != 1:  # ligatures, "№", "ß": one character out, to keep offsets aligned
            folded = "#" if ch == "№" else ch.casefold()[:1] or " "
        self[code] = folded
        return folded


_FOLD = _FoldTable({**_DASHES, **_SPACES})


def normalize(text: str) -> str:
    """Case-folded text without diacritics; one character in, one character out.

    Characters whose decomposition is longer than one base letter (ligatures, "№") are folded
    to a single character so that offsets stay aligned with the original text.
    """
    if text.isascii():
        return text.translate(_SPACES).lower()
    return text.translate(_FOLD)


_LOOKALIKE = str.maketrans({"o": "0", "о": "0", "l": "1", "i": "1", "і": "1", "|": "1"})
_TOKEN_RE = re.compile(r"[0-9a-zа-я|і]+")
# A token that changes mixes digits and look-alikes only, so somewhere one touches the other.
_LOOKALIKE_BY_DIGIT = re.compile(r"[oоliі|][0-9]|[0-9][oоliі|]")


def read_lookalikes(norm: str) -> str:
    """Read o/l/i/| as digits inside tokens that are mostly digits (at least four, two swaps).

    Most texts have no look-alike letter touching a digit; one C-level search skips the
    per-token Python callback for them.
    """
    if _LOOKALIKE_BY_DIGIT.search(norm) is None:
        return norm

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        digits = sum(ch.isdigit() for ch in tok)
        swaps = tok.translate(_LOOKALIKE)
        if digits >= 4 and swaps.isdigit() and len(tok) - digits <= 2:
            return swaps
        return tok

    return _TOKEN_RE.sub(fix, norm)


def _alts(*words: str) -> str:
    """Alternation of keywords (normalised), longest first so "cont personal" beats "cont".

    It starts with a lookahead for the keywords' first letters: the regex engine then drops
    most positions of a text with one test instead of trying every keyword there.
    """
    folded = sorted({normalize(w) for w in words}, key=len, reverse=True)
    first = "".join(sorted({re.escape(w[0]) for w in folded}))
    return f"(?=[{first}])(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s*") for w in folded) + ")"


_LETTER = r"a-zа-я"
_ACCOUNT_KW = re.compile(
    rf"(?<![{_LETTER}])(?:"
    + _alts(
        "cont personal", "contul personal", "cont pers", "cont. pers.", "cont.pers.",
        "c/personal", "c/p", "c.p.", "c/p.", "cp", "cont", "contul", "nr cont", "cod personal",
        "cod abonat", "abonat", "acc", "account",
        "лицевой счет", "лицевому счету", "лицевого счета", "лиц. счет", "лиц.счет", "лиц.сч.",
        "лиц сч", "л/с", "л/сч", "л.с.", "л/c", "лс", "l/s", "абонент", "счет", "сч",
    )
    + rf")(?![{_LETTER}])"
)  # fmt: skip
_INVOICE_WORDS = (
    "factura", "facturii", "facturile", "fact", "aviz de plata", "avizul", "aviz",
    "invoice", "inv", "счет-фактура", "счет фактура", "фактура", "квитанция", "квит",
)  # fmt: skip
_INVOICE_KW = re.compile(rf"(?<![{_LETTER}])(?:" + _alts(*_INVOICE_WORDS) + rf")(?![{_LETTER}])")
_PHONE_WORDS = ("tel", "telefon", "mob", "тел", "моб", "phone")
_PHONE_KW = re.compile(rf"(?<![{_LETTER}])(?=[tmpтм])(?:{'|'.join(_PHONE_WORDS)})(?![{_LETTER}])")
# Every invoice (phone) keyword contains one of these, so a text with none of them needs no
# regex scan for that keyword (tests/unit/test_text_refs_fast.py keeps the lists in step).
_INVOICE_HINTS = ("fact", "aviz", "inv", "фактур", "квит")
_PHONE_HINTS = ("tel", "mob", "тел", "моб", "phone")
_FILLER = r"[\s:.#,;=-]*(?:(?:nr|no|n|номер|#)[\s:.#,;=-]*)?"
_FILLER_RE = re.compile(rf"^{_FILLER}$")
_RUN = r"\d+(?:(?:\s?[-/]\s?|\s)\d+)*"

_RF_RE = re.compile(r"(?<![a-z0-9])rf\s?\d{2}(?:\s?[0-9a-z]){1,21}")
_IBAN_RE = re.compile(r"(?<![a-z0-9])md\d{2}(?:\s?[0-9a-z]){20}(?![0-9a-z])")
_MASKS = [
    ("phone", re.compile(r"(?:\+|(?<!\d)00)373[\s-]?\(?\d{2,3}\)?(?:[\s-]?\d){5,6}(?!\d)")),
    ("phone", re.compile(r"(?<!\d)0[\s-]?\(?(?:22|[67]\d)\)?(?:[\s-]?\d){6}(?!\d)")),
    ("date", re.compile(r"(?<![\d.])\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})(?![\d.])")),
    ("date", re.compile(r"(?<![\d.-])(?:19|20)\d{2}[./-]\d{1,2}(?:[./-]\d{1,2})?(?![\d-])")),
    ("date", re.compile(r"(?<![\d.-])\d{1,2}[./]20\d{2}(?![\d.])")),
    ("amount", re.compile(r"(?<![\d.,])\d{1,9}[.,]\d{2}(?![\d.,]\d)")),
    ("amount", re.compile(r"(?<![\d.,-])\d{1,9}\s?(?:lei|mdl|лей|леи|руб)(?![a-zа-я])")),
]
_MASK_RE = re.compile(
    "|".join(f"(?P<{kind}{i}>{rx.pattern})" for i, (kind, rx) in enumerate(_MASKS))
)
# Every mask starts at "+" or at the first digit of a run (each one that starts at a digit
# refuses a digit before it), so only these places need a match attempt: r"\+|(?<!\d)\d",
# spelt to start with a character set so the regex engine skips to them.
_MASK_START = re.compile(r"[+\d](?<!\d\d)")
_DIGIT_RE = re.compile(r"\d")
# The usual text: its only digits are one account, "12345674", "1234567-4" or "1234567 4".
_SOLE_ACCOUNT_RE = re.compile(r"\D*(?P<run>\d{7}[- ]?\d)\D*")
_INVOICE_RE = re.compile(rf"(?:{_INVOICE_KW.pattern}){_FILLER}(?P<no>[0-9a-z]*\d[0-9a-z/-]*)")
_PHONE_AFTER_KW = re.compile(rf"(?:{_PHONE_KW.pattern}){_FILLER}\+?(?P<no>{_RUN})")
# (?<!\d){_RUN}(?!\d), spelt to start with \d so the regex engine skips to the next digit.
_DIGIT_RUN_RE = re.compile(r"\d(?<!\d\d)\d*(?:(?:\s?[-/]\s?|\s)\d+)*(?!\d)")
_GROUP_RE = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class AccountMention:
    """An account-like number in the text and the evidence around it."""

    digits: str  # eight digits for "account", seven for "base", nine for "extra"
    kind: MentionKind
    valid: bool  # Damm check digit passes (always False unless kind == "account")
    anchored: bool  # right after an account keyword ("cont personal", "л/с", ...)
    layout: Layout  # "12345674" plain, "1234567-4" printed, anything else spaced
    lookalike: bool  # letters were read as digits to get here
    raw: str
    start: int


@dataclass(frozen=True, slots=True)
class RfMention:
    ref: str  # compact upper case
    valid: bool  # ISO 11649 mod 97 check passes
    raw: str


@dataclass(frozen=True, slots=True)
class InvoiceMention:
    invoice_no: str  # upper case as typed, separators kept except spaces
    anchored: bool  # after an invoice keyword; bare long digit runs are not anchored
    raw: str


@dataclass(frozen=True, slots=True)
class TextRefs:
    """Everything reference-like found in one text."""

    normalized: str
    accounts: tuple[AccountMention, ...] = ()
    rf_refs: tuple[RfMention, ...] = ()
    invoices: tuple[InvoiceMention, ...] = ()
    masked: tuple[tuple[str, str], ...] = ()  # (kind, raw) of what was excluded, for evidence
    long_numbers: int = 0  # digit runs of six or more digits left after masking

    def of_kind(self, kind: MentionKind) -> tuple[AccountMention, ...]:
        return tuple(m for m in self.accounts if m.kind == kind)


def extract(text: str | None) -> TextRefs:
    """All reference-like mentions in a payment text (see the module doc for the steps).

    Each step is skipped when it provably finds nothing (no digit at all, no "rf", no invoice
    or phone keyword), and masking rebuilds the working string once per step, not per
    character: ingesting a statement calls this once per free-text payment.
    """
    if not text:
        return TextRefs(normalized="")
    norm = normalize(text)
    work = read_lookalikes(norm)
    sole = _SOLE_ACCOUNT_RE.fullmatch(work)
    if sole is not None and _nothing_to_mask(norm, work):
        return TextRefs(norm, (_sole_account(norm, work, sole),), long_numbers=1)
    if _DIGIT_RE.search(work) is None:  # names and addresses only: nothing can be found
        return TextRefs(normalized=norm)
    return _extract(norm, work)


def _nothing_to_mask(norm: str, work: str) -> bool:
    """Whether steps 3 (RF, IBAN, invoice, phone, date, amount) would leave ``work`` as is."""
    return (
        "rf" not in norm
        and "md" not in norm
        and not any(map(work.__contains__, _INVOICE_HINTS))
        and not any(map(work.__contains__, _PHONE_HINTS))
        and not _masks(work)
    )


def _sole_account(norm: str, work: str, sole: re.Match[str]) -> AccountMention:
    """The one mention of a text whose only digits are one account, plain or printed.

    What ``_account_mentions`` reports for it, without its loops: one run of one or two groups.
    """
    at, end = sole.span("run")
    spans = [(0, 8)] if end - at == 8 else [(0, 7), (8, 9)]
    anchored = _anchored(work, _anchors(work, at), at)
    return _mention(norm, at, work[at:end], spans, "account", anchored)


def _extract(norm: str, work: str) -> TextRefs:
    """Steps 3 and 4 of the module doc, for a text that holds digits."""
    masked: list[tuple[str, str]] = []
    rf_refs: tuple[RfMention, ...] = ()
    if "rf" in norm:
        rf_refs, work = _take_rf(norm, work, masked)
    if "md" in norm:
        work = _mask_re(_IBAN_RE, "iban", work, masked)
    invoices: tuple[InvoiceMention, ...] = ()
    if any(map(work.__contains__, _INVOICE_HINTS)):
        invoices, work = _take_invoices(work, masked)
    if any(map(work.__contains__, _PHONE_HINTS)):
        work = _mask_re(_PHONE_AFTER_KW, "phone", work, masked, group="no")
    work = _mask_spans(work, _masks(work), masked)
    accounts, long_numbers, bare_invoices = _account_mentions(norm, work)
    return TextRefs(
        normalized=norm,
        accounts=accounts,
        rf_refs=rf_refs,
        invoices=invoices + bare_invoices,
        masked=tuple(masked),
        long_numbers=long_numbers,
    )


def _blank(work: str, spans: list[tuple[int, int]]) -> str:
    """``work`` with each (start, end) span, in order and apart, blanked out by NULs."""
    if not spans:
        return work
    parts: list[str] = []
    at = 0
    for start, end in spans:
        parts += (work[at:start], "\x00" * (end - start))
        at = end
    parts.append(work[at:])
    return "".join(parts)


def _mask_re(
    rx: re.Pattern[str],
    kind: str,
    work: str,
    masked: list[tuple[str, str]],
    group: str | int = 0,
) -> str:
    return _mask_spans(work, [(kind, m, group) for m in rx.finditer(work)], masked)


def _mask_spans(
    work: str, found: list[tuple[str, re.Match[str], str | int]], masked: list[tuple[str, str]]
) -> str:
    """Record each (kind, match, group) as masked evidence and blank its group in ``work``."""
    spans = []
    for kind, m, group in found:
        masked.append((kind or (m.lastgroup or "").rstrip("0123456789"), m.group(group)))
        spans.append((m.start(group), m.end(group)))
    return _blank(work, spans)


def _masks(work: str) -> list[tuple[str, re.Match[str], str | int]]:
    """What ``_MASK_RE.finditer(work)`` finds, trying a match only where a mask can start."""
    found: list[tuple[str, re.Match[str], str | int]] = []
    at = 0
    for start in _MASK_START.finditer(work):
        if start.start() < at:
            continue
        m = _MASK_RE.match(work, start.start())
        if m is not None:
            found.append(("", m, 0))
            at = m.end()
    return found


def _take_rf(
    norm: str, work: str, masked: list[tuple[str, str]]
) -> tuple[tuple[RfMention, ...], str]:
    """RF references, tried longest first at each space so trailing words are not swallowed."""
    found, spans = [], []
    for m in _RF_RE.finditer(norm):
        raw = m.group(0)
        cuts = [raw] + [raw[:i] for i in range(len(raw) - 1, 4, -1) if raw[i] == " "]
        best = next((c for c in cuts if normalize_rf(c)), None)
        # An invalid one still hides its digits: mask every following group holding a digit.
        digitish = [c for c in cuts if all(any(ch.isdigit() for ch in g) for g in c.split())]
        chosen = best or (digitish[0] if digitish else cuts[-1])
        found.append(RfMention(re.sub(r"\s", "", chosen).upper(), best is not None, chosen))
        masked.append(("rf", chosen))
        spans.append((m.start(), m.start() + len(chosen)))
    return tuple(found), _blank(work, spans)


def _take_invoices(
    work: str, masked: list[tuple[str, str]]
) -> tuple[tuple[InvoiceMention, ...], str]:
    found, spans = [], []
    for m in _INVOICE_RE.finditer(work):
        no = m.group("no").strip("-/").upper()
        found.append(InvoiceMention(no, True, m.group(0)))
        masked.append(("invoice", m.group(0)))
        spans.append((m.start("no"), m.end("no")))
    return tuple(found), _blank(work, spans)


def _account_mentions(
    norm: str, worked: str
) -> tuple[tuple[AccountMention, ...], int, tuple[InvoiceMention, ...]]:
    """Account-like windows of digit groups, the count of long runs, bare long numbers.

    Runs shorter than six characters hold fewer than six digits and report nothing, so they
    are dropped first. Keywords are looked for only up to the last run left: no keyword holds
    a digit, so the ones before it are the same as in the whole text, and later ones anchor
    nothing.
    """
    runs = [r for r in _DIGIT_RUN_RE.finditer(worked) if r.end() - r.start() >= 6]
    if not runs:
        return (), 0, ()
    anchors = _anchors(worked, runs[-1].start())
    mentions: list[AccountMention] = []
    invoices: list[InvoiceMention] = []
    long_numbers = 0
    for run in runs:
        text, at = run.group(), run.start()
        if text.isdecimal():  # one group, the usual case
            spans = [(0, len(text))]
        else:
            spans = [g.span() for g in _GROUP_RE.finditer(text)]
        sizes = [end - start for start, end in spans]
        total = sum(sizes)
        if total < 6:
            continue
        long_numbers += 1
        anchored = _anchored(worked, anchors, at)
        if total in (7, 9):
            kind: MentionKind = "base" if total == 7 else "extra"
            mentions.append(_mention(norm, at, text, spans, kind, anchored))
        for i, j in _windows_of_eight(sizes):
            mentions.append(
                _mention(norm, at, text, spans[i : j + 1], "account", anchored and i == 0)
            )
        if total >= 10 and len(spans) == 1:
            invoices.append(InvoiceMention(text, False, text))
    return tuple(mentions), long_numbers, tuple(invoices)


def _anchors(worked: str, end: int) -> list[int]:
    """Where the account keywords before ``end`` end (no keyword holds a digit, so any end
    before the digit at ``end`` is the same as when searching the whole text)."""
    return [m.end() for m in _ACCOUNT_KW.finditer(worked, 0, end)]


def _anchored(worked: str, anchors: list[int], at: int) -> bool:
    """Whether only filler ("nr.", ":", "№") stands between a keyword and position ``at``."""
    return any(_FILLER_RE.match(worked[a:at]) for a in anchors if a <= at)


def _windows_of_eight(sizes: list[int]) -> list[tuple[int, int]]:
    """(first, last) index of every window of whole groups holding exactly eight digits."""
    if sizes == [8]:
        return [(0, 0)]
    found = []
    for i in range(len(sizes)):
        size = 0
        for j in range(i, len(sizes)):
            size += sizes[j]
            if size == 8:
                found.append((i, j))
            if size >= 8:
                break
    return found


def _mention(
    norm: str,
    at: int,
    text: str,
    spans: list[tuple[int, int]],
    kind: MentionKind,
    anchored: bool,
) -> AccountMention:
    """The mention of the groups ``spans`` (offsets in the run ``text`` found at ``at``)."""
    first, last, count = spans[0][0], spans[-1][1], len(spans)
    digits = text[first:last] if count == 1 else "".join(text[s:e] for s, e in spans)
    if count == 1 and last - first == 8:
        layout: Layout = "plain"
    elif count == 2 and spans[0][1] - first == 7 and last - spans[1][0] == 1:
        layout = "printed"
    else:
        layout = "spaced"
    start = at + first
    raw = norm[start : at + last]
    return AccountMention(
        digits=digits,
        kind=kind,
        valid=kind == "account" and is_valid_account_no(digits),
        anchored=anchored,
        layout=layout,
        lookalike=not raw.replace(" ", "").replace("-", "").replace("/", "").isdigit(),
        raw=raw,
        start=start,
    )
