"""The holder-name index: folding, keys, blocking and ranking, without a database."""

from __future__ import annotations

import pytest

from reconciliation import names
from reconciliation.names import NameIndex, fold, keys, words

CITY = [
    ("10000013", "Ion Rusu", "str. Ismail 86/2, ap. 45, sect. Centru"),
    ("10000021", "Ion Rusu", "str. Ismail 86/2, ap. 46, sect. Centru"),
    ("10000039", "Maria Rusu", "bd. Dacia 12, ap. 3, sect. Botanica"),
    ("10000047", "Петров Иван", "str. Alba Iulia 5, ap. 45, sect. Buiucani"),
    ("10000055", "Наталья Козлова", "str. Columna 101, ap. 7, sect. Centru"),
    ("10000063", "Ștefan Țurcanu", "str. Ismail 90, ap. 1, sect. Centru"),
]


@pytest.fixture
def index() -> NameIndex:
    return NameIndex(CITY)


@pytest.mark.parametrize(
    ("typed", "holder"),
    [
        ("Petrov Ivan", "Петров Иван"),
        ("Natalya Kozlova", "Наталья Козлова"),
        ("Natalia Kozlova", "Наталья Козлова"),
        ("Stefan Turcanu", "Ștefan Țurcanu"),
        ("STEFAN TURCANU", "ștefan țurcanu"),
    ],
)
def test_fold_makes_transliterations_and_diacritics_equal(typed: str, holder: str) -> None:
    assert fold(typed) == fold(holder)


def test_keys_are_long_words_and_unordered_pairs() -> None:
    ks = keys(words(fold("Rusu Ion, str. Ismail 86/2")))
    assert {"rusu", "ion", "ismail", "ion rusu", "86 ismail", "2 86"} <= ks
    assert "86" not in ks  # a short word alone is no key; in a pair it is
    assert keys(words(fold("Ion Rusu"))) & ks == {"ion", "rusu", "ion rusu"}


def test_the_flat_the_payer_names_ranks_first(index: NameIndex) -> None:
    found = index.suggest("Ion Rusu, str. Ismail 86/2, ap. 45, servicii comunale")
    assert [acc for acc, _ in found[:2]] == ["10000013", "10000021"]
    assert found[0][1] > found[1][1]


def test_latin_query_finds_a_cyrillic_holder(index: NameIndex) -> None:
    found = index.suggest("Petrov Ivan str Alba Iulia 5 ap 45")
    assert found[0][0] == "10000047"


def test_nothing_in_common_suggests_nothing(index: NameIndex) -> None:
    assert index.suggest("restituire imprumut conform contract") == []
    assert index.suggest("") == []


def test_keys_of_big_blocks_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "BLOCK_MAX", 2)
    idx = NameIndex(CITY)
    assert "rusu" not in idx.blocks  # three holders share it
    assert "ion rusu" in idx.blocks  # two do
    assert idx.suggest("Rusu")[:1] == []  # only a key too common to block on


def test_scores_only_a_shortlist(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query never scores more accounts than the shortlist, however many share a key."""
    city = [(f"{i:08d}", "Ion Rusu", f"str. Ismail {i}, ap. 1") for i in range(500)]
    monkeypatch.setattr(names, "SHORTLIST", 7)
    scored: list[int] = []
    real = names.process.extract

    def spy(query, choices, **kw):  # type: ignore[no-untyped-def]
        scored.append(len(choices))
        return real(query, choices, **kw)

    monkeypatch.setattr(names.process, "extract", spy)
    found = NameIndex(city).suggest("Ion Rusu, str. Ismail 321, ap. 1")
    assert scored == [7]
    assert found[0][0] == f"{321:08d}"


def test_answers_repeat_and_are_cached(index: NameIndex) -> None:
    q = "Ion Rusu Ismail"
    first = index.suggest(q)
    assert index.suggest(q) == first
    assert q in index._cache


@pytest.mark.parametrize("number", ["00000018", "ACC-7"])  # a leading zero; not 8 digits
def test_suggestions_give_account_numbers_back_as_stored(number: str) -> None:
    """Numbers are kept compactly (ints for eight digits), and come back exactly."""
    idx = NameIndex([*CITY, (number, "Vasile Lupu", "str. Mitropolit Varlaam 11, ap. 2")])
    assert idx.suggest("Vasile Lupu, Mitropolit Varlaam 11")[0][0] == number
    assert len(idx) == len(CITY) + 1
