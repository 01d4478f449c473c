"""Which accounts' holder and address resemble a payment's text: blocked, then scored.

A payment that gives only "Ion Rusu, str. Ismail 86/2, ap. 45" goes to review with the
accounts that most resemble it as candidates. Scoring every holder of the city (213,377)
per payment is what a naive matcher does; here each account is indexed once under its
*keys*, and a query scores only the block of accounts that share the most keys with it:

- keys are the words of three or more characters and every pair of adjacent words
  ("ion rusu", "ismail 86", "ap 45") of the *folded* text: case and diacritics folded
  (``text_refs.normalize``), Cyrillic transliterated to Latin and the usual spelling
  variants of a transliteration made equal on both sides (y/i, zh/j, kh/h, doubled
  letters), so "Петров Иван" and "Petrov Ivan" share their keys;
- a key held by more than ``BLOCK_MAX`` accounts ("str", a common first name) says
  nothing and is skipped; the ``SHORTLIST`` accounts sharing the most keys are the block;
- the block is scored with rapidfuzz (``token_set_ratio`` on the folded texts), best first.

The index is built once per city snapshot (the service keeps it per process and database,
``reconciliation.service``) and is read-only afterwards; answers are cached per query.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate, pairwise
from operator import itemgetter

from rapidfuzz import fuzz, process

from reconciliation.text_refs import normalize

#: Suggestions below this rapidfuzz score are noise and are not shown.
SUGGEST_MIN = 60
#: Keys shared by more accounts than this do not discriminate.
BLOCK_MAX = 3000
#: Accounts scored per query: those sharing the most keys with it.
SHORTLIST = 50
#: Block members counted per query, rarest keys first: the rare keys (a name pair, a street
#: and number) find the account; the common ones would only add noise at a cost.
BUDGET = 3000
_CACHE_MAX = 4096

_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia", "є": "e", "і": "i",
    "ї": "i",
})  # fmt: skip
#: Spellings of one sound that transliterations mix ("Natalya"/"Natalia", "Zhukov"/"Jucov").
_VARIANTS = (("shch", "sh"), ("sch", "sh"), ("zh", "j"), ("kh", "h"), ("ph", "f"), ("y", "i"),
             ("w", "v"), ("ck", "k"))  # fmt: skip
_DOUBLED = re.compile(r"([a-z])\1+")
_WORD_RE = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Text as the index compares it: folded case, diacritics and transliteration variants."""
    out = normalize(text)
    if not out.isascii():
        out = out.translate(_CYRILLIC)
    for spelling, same in _VARIANTS:
        if spelling in out:
            out = out.replace(spelling, same)
    return _DOUBLED.sub(r"\1", out)


def words(folded: str) -> list[str]:
    """Runs of letters and digits of a folded text (punctuation separates)."""
    return _WORD_RE.findall(folded)


def keys(ws: list[str]) -> set[str]:
    """The index keys of a text's words: long words and adjacent pairs in either order."""
    out = {w for w in ws if len(w) >= 3}
    out.update(f"{a} {b}" if a < b else f"{b} {a}" for a, b in pairwise(ws))
    return out


class NameIndex:
    """Open accounts' holder names and addresses, blocked by key (see the module doc).

    Stored by *segment* (the holder's name, each comma-separated part of the address):
    a city has far fewer distinct segments than accounts (a building's street and number
    is shared by all its flats), so each segment is folded and keyed once, and a key's
    block is the accounts of the segments that hold it.
    """

    def __init__(self, accounts: Iterable[tuple[str, str, str]]) -> None:
        """``accounts``: (account_no, payer_name, address) of the open accounts."""
        numbers: list[str] = []
        seg_ids: dict[str, int] = {}
        seg_text: list[str] = []  # folded words of each segment, joined by spaces
        members: list[list[int]] = []  # segment -> accounts
        texts: list[str] = []
        for i, (account_no, name, address) in enumerate(accounts):
            numbers.append(account_no)
            mine = []
            for part in (name, *address.split(",")):
                s = seg_ids.get(part)
                if s is None:
                    s = seg_ids[part] = len(seg_text)
                    seg_text.append(" ".join(words(fold(part))))
                    members.append([])
                members[s].append(i)
                mine.append(seg_text[s])
            texts.append(" ".join(mine))
        self.account_nos = _Numbers(numbers)
        del numbers
        # one string and its offsets: a fifth of the memory of 213,377 str objects
        self._text = "".join(texts)
        self._ends = array("i", accumulate(map(len, texts)))
        del texts
        self.blocks = _blocks(seg_text, members)
        self.sizes = {k: sum(len(m) for m in v) for k, v in self.blocks.items()}
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def __len__(self) -> int:
        return len(self.account_nos)

    def text(self, i: int) -> str:
        """The folded words of account ``i``'s holder and address, as scored."""
        return self._text[self._ends[i - 1] if i else 0 : self._ends[i]]

    def suggest(self, query: str, limit: int = 5) -> list[tuple[str, float]]:
        """Accounts whose holder and address resemble ``query``, best first, score 0..1."""
        found = self._cache.get(query)
        if found is None:
            found = self._suggest(words(fold(query)))
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[query] = found
        return found[:limit]

    def _suggest(self, ws: list[str], limit: int = 5) -> list[tuple[str, float]]:
        found = [(self.sizes[k], k) for k in keys(ws) if k in self.blocks]
        if not found:
            return []
        found.sort()  # the rarest keys first, and a fixed order: ties in the shortlist repeat
        hits: Counter[int] = Counter()
        budget = BUDGET
        for size, key in found:
            if size > budget and hits:
                break
            budget -= size
            for members in self.blocks[key]:
                hits.update(members)
        shortlist = [i for i, _ in sorted(hits.items(), key=itemgetter(1), reverse=True)]
        del shortlist[SHORTLIST:]
        text, ends = self._text, self._ends
        texts = [text[ends[i - 1] if i else 0 : ends[i]] for i in shortlist]
        scored = process.extract(
            " ".join(ws), texts, scorer=fuzz.token_set_ratio, limit=limit, score_cutoff=SUGGEST_MIN
        )
        return [(self.account_nos[shortlist[j]], score / 100) for _, score, j in scored]


class _Numbers:
    """Account numbers by position: eight-digit numbers as ints in an array (4 bytes each,
    not a 57-byte str), any other number as it is."""

    def __init__(self, numbers: list[str]) -> None:
        plain = all(len(n) == 8 and n.isascii() and n.isdigit() for n in numbers)
        self._ints = array("i", map(int, numbers)) if plain else None
        self._strs = None if plain else numbers

    def __len__(self) -> int:
        return len(self._ints if self._ints is not None else self._strs or ())

    def __getitem__(self, i: int) -> str:
        if self._ints is not None:
            return f"{self._ints[i]:08d}"
        assert self._strs is not None
        return self._strs[i]


def _blocks(seg_text: list[str], members: list[list[int]]) -> dict[str, list[array]]:
    """key -> the member arrays of the segments holding it, for keys of small blocks only."""
    holders: dict[str, list[int]] = {}
    for s, text in enumerate(seg_text):
        for key in keys(text.split()):
            holders.setdefault(key, []).append(s)
    shared: dict[int, array] = {}
    blocks = {}
    for key, segs in holders.items():
        if sum(len(members[s]) for s in segs) <= BLOCK_MAX:
            blocks[key] = [
                shared.get(s) or shared.setdefault(s, array("i", members[s])) for s in segs
            ]
    return blocks
