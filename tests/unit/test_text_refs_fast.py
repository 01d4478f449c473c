"""The shortcuts in ``text_refs`` give what the plain steps give, on generated texts.

``extract`` takes a fast path for a text whose only digits are one account and skips steps
that cannot match; these properties compare each shortcut with the plain version it stands
for, on texts built from the pieces residents really type (keywords, account layouts, phone
numbers, dates, amounts, look-alike letters, RF references, invoice numbers).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation import text_refs as tr
from reconciliation.match import _words
from reconciliation.references import make_account_no

PIECES = [
    "cont personal ", "contul personal nr. ", "c/p", "c/p ", "cp", "л/с ", "лицевой счёт № ",
    "cont pers. ", "acc ", "plata ", "pentru ", "noiembrie", "за ноябрь", "Popescu Ion ",
    "tel ", "тел. ", "+373 ", "00373", "0 69 ", "069", "022 ", "factura ", "квитанция № ",
    "aviz de plata ", "AV2611", "inv", "rf", "RF18 ", "md24", " lei", "лей", "руб", "mdl",
    "12.11.2026", "2026-11", "11/2026", "150,00", "150.00", " - ", "-", "/", " ", ", ", ": ",
    "nr ", "№", "#", "o", "O", "о", "l", "I", "i", "|", "і", "ș", "Ț", "й", "ё", "\u2013",
    "\u00a0", "\t", "ﬁ", "²", "١",
]  # fmt: skip
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=10)


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Free text mixing the pieces above with digit runs and account numbers."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(PIECES),
                DIGITS,
                st.integers(0, 9_999_999).map(make_account_no),
            ),
            max_size=10,
        )
    )
    return "".join(parts)


@st.composite
def sole_account_texts(draw: st.DrawFn) -> str:
    """Texts shaped like the fast path's: words around one account, sometimes a near miss."""
    no = make_account_no(draw(st.integers(0, 9_999_999)))
    sep = draw(st.sampled_from(["", "-", " ", "/", "--", "  "]))
    words = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
    return f"{draw(words)}{no[:7]}{sep}{no[7]}{draw(words)}"


def plain_extract(text: str) -> tr.TextRefs:
    """``extract`` without its early exits: every step of the module doc, always."""
    norm = tr.normalize(text)
    return tr._extract(norm, tr.read_lookalikes(norm))


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts(), sole_account_texts()))
def test_extract_equals_the_plain_steps(text):
    if text:
        assert tr.extract(text) == plain_extract(text)


@pytest.mark.parametrize(
    "text",
    [
        "md12345674abcdefghijklmn",  # an IBAN around the only number
        "rf12345674 apa",
        "cont 12345674 lei",
        "c/p 1234567 4 lei",  # "4 lei" is an amount
        "cont no1234567-4",  # look-alike letters glued to the number
        "tel 1234567-4",
        "factura 1234567-4",
        "cont 1234567-4.50",
        "+1234567-4",
        "cont 1234567/4",
    ],
)
def test_near_misses_of_the_fast_path_equal_the_plain_steps(text):
    assert tr.extract(text) == plain_extract(text)


@settings(max_examples=200, deadline=None)
@given(texts())
def test_masks_tried_at_starts_only_equal_a_full_scan(text):
    work = tr.read_lookalikes(tr.normalize(text))
    assert [m.group() for _, m, _ in tr._masks(work)] == [
        m.group() for m in tr._MASK_RE.finditer(work)
    ]


@settings(max_examples=200, deadline=None)
@given(texts())
def test_respelt_regexes_find_what_the_plain_ones_find(text):
    norm = tr.normalize(text)
    runs = re.compile(rf"(?<!\d){tr._RUN}(?!\d)")
    assert [m.span() for m in tr._DIGIT_RUN_RE.finditer(norm)] == [
        m.span() for m in runs.finditer(norm)
    ]
    starts = re.compile(r"\+|(?<!\d)\d")
    assert [m.span() for m in tr._MASK_START.finditer(norm)] == [
        m.span() for m in starts.finditer(norm)
    ]


@settings(max_examples=200, deadline=None)
@given(texts())
def test_lookalikes_shortcut_equals_reading_every_token(text):
    norm = tr.normalize(text)

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        digits = sum(ch.isdigit() for ch in tok)
        swaps = tok.translate(tr._LOOKALIKE)
        return swaps if digits >= 4 and swaps.isdigit() and len(tok) - digits <= 2 else tok

    assert tr.read_lookalikes(norm) == tr._TOKEN_RE.sub(fix, norm)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_words_are_alphanumeric_runs_of_three(text):
    plain = "".join(c if c.isalnum() else " " for c in text).split()
    assert _words(text) == [w for w in plain if len(w) >= 3]


def test_every_keyword_holds_a_hint():
    """Texts without a hint skip the invoice and phone scans, so no keyword may lack one."""
    for words, hints in (
        (tr._INVOICE_WORDS, tr._INVOICE_HINTS),
        (tr._PHONE_WORDS, tr._PHONE_HINTS),
    ):
        for word in words:
            assert any(h in tr.normalize(word) for h in hints), word


def test_the_usual_text_takes_the_fast_path_and_a_near_miss_does_not(monkeypatch):
    calls = []
    monkeypatch.setattr(tr, "_extract", lambda *a: calls.append(a))
    tr.extract("Plata cont personal 1234567-4 pentru noiembrie")
    assert calls == []
    tr.extract("Plata cont personal 1234567-4 150 lei")
    assert len(calls) == 1
