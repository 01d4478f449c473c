"""Finding an account the matcher did not propose: by number, payer name, address or IBAN.

- **Number**: any spacing, dashes or slashes; seven digits get their check digit; a number
  that fails its check digit also finds the accounts one keystroke away that pass it.
- **IBAN**: the accounts earlier payments from that IBAN were placed on, most used first.
- **Name or address** (fuzzy): an in-process index of every account's folded holder name and
  address (``reconciliation.fold``: diacritics, case, Cyrillic/Latin), blocked by word: each
  query word picks the index words it starts or resembles (rapidfuzz over the vocabulary,
  which is small), the accounts having the most of them are scored with rapidfuzz, best
  first. The index is built once per process (213,377 accounts: a few seconds, warmed at
  start) and rebuilt when a register import or the account count says the accounts changed.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter, defaultdict
from enum import StrEnum
from functools import lru_cache

import msgspec
from rapidfuzz import fuzz, process
from sqlalchemy import Engine, func, select

from gateway.db import reading
from reconciliation.fold import fold
from reconciliation.model import PaymentStatus
from reconciliation.references import damm_digit, is_valid_account_no
from schemas.tables import accounts, payments, register_imports

LIMIT = 20
_SHORTLIST = 400
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$")


class SearchKind(StrEnum):
    AUTO = "auto"
    NUMBER = "number"
    NAME = "name"
    ADDRESS = "address"
    IBAN = "iban"


class AccountHit(msgspec.Struct, frozen=True):
    account_no: str
    payer_name: str
    address: str
    status: str
    score: int  # 0..100
    why: str


@lru_cache(maxsize=1 << 17)
def _fold_word(word: str) -> str:
    return fold(word)


def _folded(text: str) -> str:
    """``fold`` word by word with a cache: names and streets repeat across the city."""
    return " ".join(f for f in (_fold_word(w) for w in text.split()) if f)


class _Index:
    """Folded texts and word -> row postings for one field (names or addresses)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        postings: dict[str, list[int]] = defaultdict(list)
        for row, text in enumerate(texts):
            for word in set(text.split()):
                postings[word].append(row)
        self.postings = dict(postings)
        self.vocabulary = sorted(self.postings)

    def words_like(self, word: str) -> list[str]:
        """Index words starting with ``word`` (typed partly) or close to it (typos)."""
        start = bisect.bisect_left(self.vocabulary, word)
        found = []
        for w in self.vocabulary[start : start + 50]:
            if not w.startswith(word):
                break
            found.append(w)
        if len(word) >= 4:
            close = process.extract(word, self.vocabulary, scorer=fuzz.ratio, limit=5,
                                    score_cutoff=80)  # fmt: skip
            found += [w for w, _, _ in close]
        return found

    def search(self, query: str, limit: int) -> list[tuple[int, int]]:
        """(row, score) best first."""
        words = [w for w in query.split() if len(w) >= 2]
        hits: Counter[int] = Counter()
        for word in words:
            rows: set[int] = set()
            for w in self.words_like(word):
                rows.update(self.postings[w])
            hits.update(rows)
        if not hits:
            return []
        need = max(hits.values())
        short = [r for r, n in hits.items() if n == need][: _SHORTLIST * 10]
        scored = process.extract(query, {r: self.texts[r] for r in short},
                                 scorer=fuzz.token_set_ratio, limit=limit,
                                 score_cutoff=50)  # fmt: skip
        return [(row, int(score)) for _, score, row in scored]


class _City:
    def __init__(self, rows: list[tuple[str, str, str, str]], version: tuple[int, int]) -> None:
        self.rows = rows
        self.version = version
        self.names = _Index([_folded(r[1]) for r in rows])
        self.addresses = _Index([_folded(r[2]) for r in rows])


_cache: dict[str, _City] = {}
_lock = threading.Lock()


def _version(engine: Engine) -> tuple[int, int]:
    with reading(engine) as conn:
        imports = conn.execute(select(func.coalesce(func.max(register_imports.c.id), 0)))
        count = conn.execute(select(func.count()).select_from(accounts))
        return int(imports.scalar_one()), int(count.scalar_one())


def _city(engine: Engine) -> _City:
    key = str(engine.url)
    version = _version(engine)
    city = _cache.get(key)
    if city is not None and city.version == version:
        return city
    with _lock:
        city = _cache.get(key)
        if city is None or city.version != version:
            with reading(engine) as conn:
                rows = [tuple(r) for r in conn.execute(
                    select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address,
                           accounts.c.status).order_by(accounts.c.id)
                )]  # fmt: skip
            city = _cache[key] = _City(rows, version)
    return city


def warm(engine: Engine) -> None:
    """Build the name index ahead of the first search (called at server start)."""
    _city(engine)


def _hit(row: tuple[str, str, str, str], score: int, why: str) -> AccountHit:
    return AccountHit(row[0], row[1], row[2], row[3], score, why)


def _by_number(engine: Engine, digits: str) -> list[AccountHit]:
    tries: list[tuple[str, int, str]] = []
    if len(digits) == 7:
        tries.append((digits + str(damm_digit(digits)), 100, "check digit added"))
    elif len(digits) == 8:
        tries.append((digits, 100, "the number as typed"))
        if not is_valid_account_no(digits):
            for i in range(8):
                for d in "0123456789":
                    fixed = digits[:i] + d + digits[i + 1 :]
                    if fixed != digits and is_valid_account_no(fixed):
                        tries.append((fixed, 75, f"digit {i + 1} read as {d}"))
            for i in range(7):
                swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
                if is_valid_account_no(swapped):
                    tries.append((swapped, 85, f"digits {i + 1} and {i + 2} swapped"))
    if not tries:
        return []
    why: dict[str, tuple[int, str]] = {}
    for acc, score, reason in tries:
        why.setdefault(acc, (score, reason))
    with reading(engine) as conn:
        rows = conn.execute(
            select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address,
                   accounts.c.status).where(accounts.c.account_no.in_(list(why)))
        ).all()  # fmt: skip
    hits = [_hit(tuple(r), *why[r.account_no]) for r in rows]
    return sorted(hits, key=lambda h: (-h.score, h.account_no))


def _by_iban(engine: Engine, iban: str) -> list[AccountHit]:
    with reading(engine) as conn:
        used = conn.execute(
            select(payments.c.account_no, func.count().label("n"))
            .where(payments.c.debtor_iban == iban, payments.c.account_no.is_not(None),
                   payments.c.status == PaymentStatus.ALLOCATED.value)
            .group_by(payments.c.account_no)
            .order_by(func.count().desc())
            .limit(LIMIT)
        ).all()  # fmt: skip
        if not used:
            return []
        counts: dict[str, int] = {r.account_no: r.n for r in used}
        rows = conn.execute(
            select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address,
                   accounts.c.status).where(accounts.c.account_no.in_(list(counts)))
        ).all()  # fmt: skip
    hits = [_hit(tuple(r), 100, f"{counts[r.account_no]} payment(s) from this IBAN")
            for r in rows]  # fmt: skip
    return sorted(hits, key=lambda h: -counts[h.account_no])


def search_accounts(
    engine: Engine, query: str, kind: SearchKind = SearchKind.AUTO, limit: int = LIMIT
) -> list[AccountHit]:
    """Accounts for what the accountant typed, best first."""
    text = (query or "").strip()
    if not text:
        return []
    compact = re.sub(r"[\s\-/.]", "", text).upper()
    if kind is SearchKind.IBAN or (kind is SearchKind.AUTO and _IBAN.match(compact)):
        return _by_iban(engine, compact)
    if kind is SearchKind.NUMBER or (kind is SearchKind.AUTO and compact.isdigit()):
        return _by_number(engine, compact) if compact.isdigit() else []
    city = _city(engine)
    folded = fold(text)
    found: dict[int, tuple[int, str]] = {}
    if kind in (SearchKind.AUTO, SearchKind.NAME):
        for row, score in city.names.search(folded, limit):
            found[row] = (score, "payer name")
    if kind in (SearchKind.AUTO, SearchKind.ADDRESS):
        for row, score in city.addresses.search(folded, limit):
            if score > found.get(row, (-1, ""))[0]:
                found[row] = (score, "address")
    best = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
    return [_hit(city.rows[row], score, why) for row, (score, why) in best]
