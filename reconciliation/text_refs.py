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


def read_lookalikes(norm: str) -> str:
    """Read o/l/i/| as digits inside tokens that are mostly digits (at least four, two swaps)."""

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        digits = sum(ch.isdigit() for ch in tok)
        swaps = tok.translate(_LOOKALIKE)
        if digits >= 4 and swaps.isdigit() and len(tok) - digits <= 2:
            return swaps
        return tok

    return _TOKEN_RE.sub(fix, norm)


def _alts(*words: str) -> str:
    """Alternation of keywords (normalised), longest first so "cont personal" beats "cont"."""
    folded = sorted({normalize(w) for w in words}, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s*") for w in folded)


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
_INVOICE_KW = re.compile(
    rf"(?<![{_LETTER}])(?:"
    + _alts(
        "factura", "facturii", "facturile", "fact", "aviz de plata", "avizul", "aviz",
        "invoice", "inv", "счет-фактура", "счет фактура", "фактура", "квитанция", "квит",
    )
    + rf")(?![{_LETTER}])"
)  # fmt: skip
_PHONE_KW = re.compile(rf"(?<![{_LETTER}])(?:tel|telefon|mob|тел|моб|phone)(?![{_LETTER}])")
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
_INVOICE_RE = re.compile(rf"(?:{_INVOICE_KW.pattern}){_FILLER}(?P<no>[0-9a-z]*\d[0-9a-z/-]*)")
_PHONE_AFTER_KW = re.compile(rf"(?:{_PHONE_KW.pattern}){_FILLER}\+?(?P<no>{_RUN})")
_DIGIT_RUN_RE = re.compile(rf"(?<!\d){_RUN}(?!\d)")
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
    """All reference-like mentions in a payment text (see the module doc for the steps)."""
    if not text:
        return TextRefs(normalized="")
    norm = normalize(text)
    work = list(read_lookalikes(norm))
    masked: list[tuple[str, str]] = []
    rf_refs = _take_rf(norm, work, masked) if "rf" in norm else ()
    if "md" in norm:
        _mask_re(_IBAN_RE, "iban", work, masked)
    invoices = _take_invoices(work, masked)
    _mask_re(_PHONE_AFTER_KW, "phone", work, masked, group="no")
    _mask_re(_MASK_RE, "", work, masked)
    worked = "".join(work)
    accounts, long_numbers, bare_invoices = _account_mentions(norm, worked)
    return TextRefs(
        normalized=norm,
        accounts=accounts,
        rf_refs=rf_refs,
        invoices=invoices + bare_invoices,
        masked=tuple(masked),
        long_numbers=long_numbers,
    )


def _mask(work: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        work[i] = "\x00"


def _mask_re(
    rx: re.Pattern[str],
    kind: str,
    work: list[str],
    masked: list[tuple[str, str]],
    group: str | int = 0,
) -> None:
    text = "".join(work)
    for m in rx.finditer(text):
        what = kind or (m.lastgroup or "").rstrip("0123456789")
        masked.append((what, m.group(group)))
        _mask(work, m.start(group), m.end(group))


def _take_rf(norm: str, work: list[str], masked: list[tuple[str, str]]) -> tuple[RfMention, ...]:
    """RF references, tried longest first at each space so trailing words are not swallowed."""
    found = []
    for m in _RF_RE.finditer(norm):
        raw = m.group(0)
        cuts = [raw] + [raw[:i] for i in range(len(raw) - 1, 4, -1) if raw[i] == " "]
        best = next((c for c in cuts if normalize_rf(c)), None)
        # An invalid one still hides its digits: mask every following group holding a digit.
        digitish = [c for c in cuts if all(any(ch.isdigit() for ch in g) for g in c.split())]
        chosen = best or (digitish[0] if digitish else cuts[-1])
        found.append(RfMention(re.sub(r"\s", "", chosen).upper(), best is not None, chosen))
        masked.append(("rf", chosen))
        _mask(work, m.start(), m.start() + len(chosen))
    return tuple(found)


def _take_invoices(work: list[str], masked: list[tuple[str, str]]) -> tuple[InvoiceMention, ...]:
    text = "".join(work)
    found = []
    for m in _INVOICE_RE.finditer(text):
        no = m.group("no").strip("-/").upper()
        found.append(InvoiceMention(no, True, m.group(0)))
        masked.append(("invoice", m.group(0)))
        _mask(work, m.start("no"), m.end("no"))
    return tuple(found)


def _account_mentions(
    norm: str, worked: str
) -> tuple[tuple[AccountMention, ...], int, tuple[InvoiceMention, ...]]:
    """Account-like windows of digit groups, the count of long runs, bare long numbers."""
    anchors = [m.end() for m in _ACCOUNT_KW.finditer(worked)]
    mentions: list[AccountMention] = []
    invoices: list[InvoiceMention] = []
    long_numbers = 0
    for run in _DIGIT_RUN_RE.finditer(worked):
        groups = list(_GROUP_RE.finditer(run.group(0)))
        total = sum(len(g.group(0)) for g in groups)
        if total >= 6:
            long_numbers += 1
        anchored = any(
            _FILLER_RE.match(worked[a : run.start()]) for a in anchors if a <= run.start()
        )
        if total in (7, 9):
            mentions.append(
                _mention(norm, run, groups, "base" if total == 7 else "extra", anchored)
            )
        for i in range(len(groups)):
            size = 0
            for j in range(i, len(groups)):
                size += len(groups[j].group(0))
                if size == 8:
                    mentions.append(
                        _mention(norm, run, groups[i : j + 1], "account", anchored and i == 0)
                    )
                if size >= 8:
                    break
        if total >= 10 and len(groups) == 1:
            invoices.append(InvoiceMention(run.group(0), False, run.group(0)))
    return tuple(mentions), long_numbers, tuple(invoices)


def _mention(
    norm: str,
    run: re.Match[str],
    groups: list[re.Match[str]],
    kind: MentionKind,
    anchored: bool,
) -> AccountMention:
    start, end = run.start() + groups[0].start(), run.start() + groups[-1].end()
    digits = "".join(g.group(0) for g in groups)
    sizes = [len(g.group(0)) for g in groups]
    layout: Layout = "plain" if sizes == [8] else "printed" if sizes == [7, 1] else "spaced"
    raw = norm[start:end]
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
