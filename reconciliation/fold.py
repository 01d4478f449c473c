"""Folding text for people's searches: one spelling for "Șevciuc", "Sevciuc" and "Шевчук".

Residents and bank clerks write the same name in Romanian with or without diacritics, in
Russian, or in an English transliteration. The accountants' search (queue and accounts)
compares *skeletons*: ``text_refs.normalize`` (case and diacritics), Cyrillic transliterated
the Romanian way (ч -> c before e/i, ci elsewhere; ш -> s; ж -> j; ц -> t; я -> ia), then a few
Latin spellings merged on both sides (ch/gh/sh/k/y/w, doubled letters once). Lossy on
purpose: it only ever narrows a list a person reads, it never places money.
"""

from __future__ import annotations

import re

from reconciliation.text_refs import normalize

_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "j", "з": "z",
    "и": "i", "к": "c", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "t", "ш": "s", "щ": "sc",
    "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i",
    "є": "e", "ґ": "g",
}  # fmt: skip
_SOFT_NEXT = set("еиэіяюєeiі")
_LATIN = [(re.compile(p), r) for p, r in (
    (r"[ckg]h", lambda m: "g" if m.group()[0] == "g" else "c"),
    (r"sh", "s"), (r"zh", "j"), (r"k", "c"), (r"y", "i"), (r"w", "v"), (r"q", "c"),
    (r"([a-z])\1+", r"\1"),
)]  # fmt: skip
_SPACE = re.compile(r"[^\w]+|_")


def _translit(text: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == "ч":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            out.append("c" if nxt in _SOFT_NEXT else "ci")
        else:
            out.append(_CYR.get(ch, ch))
    return "".join(out)


def fold(text: str | None) -> str:
    """The search skeleton of ``text``: lower-case Latin letters and digits, single spaces."""
    if not text:
        return ""
    t = normalize(text)
    if not t.isascii():
        t = _translit(t)
    for pattern, repl in _LATIN:
        t = pattern.sub(repl, t)
    return _SPACE.sub(" ", t).strip()


def fold_terms(query: str | None) -> list[str]:
    """The words of a search, folded; every one must occur in the folded text."""
    return [w for w in fold(query).split(" ") if w]


#: The search text is part of the queue's index; PostgreSQL caps an index entry at ~2.7 kB.
SEARCH_MAX = 600


def search_text(*parts: str | None) -> str:
    """What a review item is searched by: payer name, IBAN (without spaces), remittance."""
    return " ".join(fold(p) for p in parts if p)[:SEARCH_MAX]
