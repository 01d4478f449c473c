"""The accountants' workspace reads on a seed-scale city with a full queue (server-side time).

A copy of the imported seed city (213,377 accounts) gets 24,000 open review items over two
weeks of business days, two channels and three sources, payer names taken from real
holders (so searches hit), folded search text as the ingest writes it, and one to three
candidates on real accounts. Measured as the service calls the pages make (no HTTP):

- the queue's first page (50 rows and the count) for every filter and sort the page offers,
  five times each: p95 < 150 ms; baseline: the bare first page of open items by id;
- the item page (entry, evidence of each candidate, the chosen account's invoices, history):
  p95 over 40 items < 100 ms; baseline: the plain item read the CLI uses (``reads.show``);
- account search by payer name (typed as people do: part of the name, any case, without
  diacritics, some in Cyrillic): p95 over 40 searches < 200 ms, the index warm; baseline: one
  rapidfuzz ``ratio`` scan over every holder name. The index build is printed for
  information.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import Engine, insert, select, text

from bench.city import DAY, seed_db
from bench.common import Result
from gateway.db import make_engine
from gateway.services.account_search import search_accounts, warm
from gateway.services.review.reads import show
from gateway.services.review_item import item_page
from gateway.services.review_queue import AgeBucket, QueueFilter, QueueSort, list_queue
from reconciliation.fold import fold, search_text
from reconciliation.review import ReasonCode
from schemas.tables import accounts, payments, review_items

ITEMS = 24_000
QUEUE_TARGET_MS, ITEM_TARGET_MS, SEARCH_TARGET_MS = 150.0, 100.0, 200.0
REASONS = [
    ReasonCode.NAME_ONLY,
    ReasonCode.CHECK_DIGIT_FAILED,
    ReasonCode.MULTIPLE_ACCOUNTS,
    ReasonCode.ACCOUNT_CLOSED,
    ReasonCode.UNCONFIRMED_NUMBER,
    ReasonCode.NO_REFERENCE,
]
CYRILLIC = str.maketrans("abvgdeziklmnoprstufh", "абвгдезиклмнопрстуфх")


def _queue(engine: Engine, rng: random.Random) -> list[tuple[str, str]]:
    """The open items; returns (account_no, holder name) of a sample for the searches."""
    with engine.connect() as conn:
        accs = conn.execute(
            select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address)
        ).all()
    picked = rng.sample(accs, ITEMS)
    now = datetime.now(UTC)
    pays, items = [], []
    for n, (acc, name, address) in enumerate(picked, start=1):
        day = DAY - timedelta(days=rng.randint(0, 13))
        debtor = name if rng.random() < 0.6 else None
        remit = f"{name}, {address}, servicii comunale" if debtor is None else "plata servicii"
        iban = f"MD{rng.randint(10, 99)}AG{rng.randint(10**17, 10**18 - 1)}" if debtor else None
        reason = REASONS[n % len(REASONS)]
        pays.append({
            "id": n, "source": ("maib", "micb", "post")[n % 3], "external_id": f"W{n}",
            "channel": "post" if n % 3 == 2 else "transfer", "business_day": day,
            "amount": rng.randint(100, 500_000), "status": "review", "debtor_name": debtor,
            "debtor_iban": iban, "remittance": remit, "reason": reason.value, "created_at": now,
        })  # fmt: skip
        others = [a[0] for a in rng.sample(accs, rng.randint(0, 2))]
        why = "holder name and address resemble the payment"
        ranked = [] if reason is ReasonCode.NO_REFERENCE else [acc, *others]
        cands = [{"account_no": a, "score": round(rng.uniform(0.3, 0.95), 3), "reason": why}
                 for a in ranked]  # fmt: skip
        cands.sort(key=lambda c: -c["score"])
        items.append({
            "id": n, "payment_id": n, "reason": reason.value, "state": "open",
            "candidates": cands, "created_at": now, "search": search_text(debtor, iban, remit),
            "claimed_by": "ana" if n % 50 == 0 else None,
        })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(payments), pays)
        conn.execute(insert(review_items), items)
    return [(a, nm) for a, nm, _ in rng.sample(accs, 40)]


def _filters(today: date) -> list[QueueFilter]:
    return [
        QueueFilter(),
        QueueFilter(reason=ReasonCode.CHECK_DIGIT_FAILED),
        QueueFilter(channel="post"),
        QueueFilter(source="micb"),
        QueueFilter(day_from=DAY - timedelta(days=3), day_to=DAY),
        QueueFilter(amount_min=100_000, amount_max=200_000),
        QueueFilter(age=AgeBucket.OVER_7),
        QueueFilter(claimed_by="ana"),
        QueueFilter(q="popescu"),
        QueueFilter(q="попеску ион"),
        QueueFilter(q="str igor vieru"),
        QueueFilter(sort=QueueSort.AMOUNT_DESC),
        QueueFilter(sort=QueueSort.SCORE),
        QueueFilter(sort=QueueSort.NEWEST, reason=ReasonCode.NAME_ONLY, channel="transfer"),
    ]


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _typed(name: str, rng: random.Random) -> str:
    """A name as an accountant types it: surname first or not, lower case, no diacritics,
    sometimes in Cyrillic."""
    words = fold(name).split()
    rng.shuffle(words)
    query = " ".join(words)
    return query.translate(CYRILLIC) if rng.random() < 0.25 else query


def bench() -> list[Result]:
    rng = random.Random(11)
    engine = make_engine(f"sqlite:///{seed_db('workspace')}")
    holders = _queue(engine, rng)
    today = DAY + timedelta(days=2)
    filters = _filters(today)
    list_queue(engine, QueueFilter(), today=today)  # warm the page cache once
    queue_times = [_timed(lambda f=f: list_queue(engine, f, today=today))
                   for _ in range(5) for f in filters]  # fmt: skip
    with engine.connect() as conn:
        bare = [_timed(lambda: conn.execute(text(
            "SELECT * FROM review_items WHERE state = 'open' ORDER BY id LIMIT 51")).all())
            for _ in range(20)]  # fmt: skip
    ids = rng.sample(range(1, ITEMS + 1), 40)
    item_times = [_timed(lambda i=i: item_page(engine, i, today=today)) for i in ids]
    show_times = [_timed(lambda i=i: show(engine, i)) for i in ids]
    build = _timed(lambda: warm(engine))
    queries = [_typed(name, rng) for _, name in holders]
    search_times = [_timed(lambda q=q: search_accounts(engine, q)) for q in queries]
    with engine.connect() as conn:
        names = [fold(n) for n in conn.execute(select(accounts.c.payer_name)).scalars()]
    scan = [_timed(lambda q=q: process.extract(q, names, scorer=fuzz.ratio, limit=20))
            for q in queries[:10]]  # fmt: skip
    found = sum(  # the holder's name among the hits (namesakes are many in a city)
        any(fold(h.payer_name) == fold(name) for h in search_accounts(engine, q, limit=20))
        for (_, name), q in zip(holders, queries, strict=True)
    )
    engine.dispose()
    q95, i95, s95 = _p95(queue_times), _p95(item_times), _p95(search_times)
    return [
        Result(
            f"workspace queue first page, {len(filters)} filters and sorts x5 (p95; "
            f"{ITEMS:,} open items)",
            q95,
            "ms",
            "bare first page of open items by id",
            statistics.median(bare) * 1000,
            f"< {QUEUE_TARGET_MS:.0f} ms",
            q95 < QUEUE_TARGET_MS,
        ),
        Result(
            "workspace item page with evidence (p95 of 40)",
            i95,
            "ms",
            "plain item read (reads.show), median",
            statistics.median(show_times) * 1000,
            f"< {ITEM_TARGET_MS:.0f} ms",
            i95 < ITEM_TARGET_MS,
        ),
        Result(
            f"account search by payer name, 213,377 accounts (p95 of 40; holder's name "
            f"in the top 20 for {found}/40; index built in {build:.1f} s)",
            s95,
            "ms",
            "one rapidfuzz ratio scan of every name, median",
            statistics.median(scan) * 1000,
            f"< {SEARCH_TARGET_MS:.0f} ms",
            s95 < SEARCH_TARGET_MS,
        ),
    ]
