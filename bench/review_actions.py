"""Review actions on a seed-scale city with a full queue: one action, and a bulk of 1,000.

A copy of the imported seed city (213,377 accounts) gets 21,000 open review items (payments
in review, candidates on real accounts); 1,000 of them are check-digit items whose only
candidate's open total equals the amount, the rest name-only items. Measured server-side
(the service call, no HTTP):

- one ``assign`` (lock, version check, open lines, allocation, audit, evidence): p95 over
  60 items, target < 100 ms; baseline: the same transaction's floor, a version-guarded
  UPDATE of the item plus one INSERT of an allocation row, for information;
- a bulk acceptance of the 1,000 (preview, request, approval applying them in batches):
  target < 10 s; baseline: 1,000 single ``assign`` calls extrapolated from the p50.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, text

from bench.city import DAY, seed_db
from bench.common import Result
from gateway.db import make_engine
from gateway.services import review
from gateway.services.people import Actor, Role
from gateway.services.review import bulk
from gateway.services.review.bulk import BulkFilter, BulkRule
from schemas.tables import accounts, payments, review_items

ITEMS = 21_000
EXACT = 1_000
SINGLES = 60
ACTION_TARGET_MS = 100.0
BULK_TARGET_S = 10.0
ANA = Actor("ana", Role.ACCOUNTANT)
SUP = Actor("sup", Role.SUPERVISOR)


def _queue(engine: Engine, rng: random.Random) -> None:
    """21,000 open items; the first EXACT are unique check-digit corrections, exact total."""
    with engine.connect() as conn:
        accs = list(
            conn.execute(select(accounts.c.account_no).where(accounts.c.status == "open")).scalars()
        )
    picked = rng.sample(accs, ITEMS)
    with engine.connect() as conn:
        totals = bulk._open_totals(conn, set(picked[:EXACT]))
    now = datetime.now(UTC)
    pays, items = [], []
    for n, acc in enumerate(picked, start=1):
        exact = n <= EXACT and totals.get(acc, 0) > 0
        amount = totals[acc] if exact else rng.randint(100, 200_000)
        pays.append(
            {
                "id": n,
                "source": "bench",
                "external_id": f"B{n}",
                "channel": "transfer",
                "business_day": DAY,
                "amount": amount,
                "status": "review",
                "debtor_name": f"Payer {n}",
                "remittance": f"Payer {n}, str. Test {n}",
                "reason": "CHECK_DIGIT_FAILED" if exact else "NAME_ONLY",
                "created_at": now,
            }
        )
        why = "digit 3 read as 4" if exact else "holder name and address resemble the payment"
        items.append(
            {
                "id": n,
                "payment_id": n,
                "reason": pays[-1]["reason"],
                "state": "open",
                "candidates": [{"account_no": acc, "score": 0.8, "reason": why}],
                "created_at": now,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(payments), pays)
        conn.execute(insert(review_items), items)


def _floor(engine: Engine, item_id: int) -> float:
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE review_items SET version = version + 1 WHERE id = :i AND version = :v"),
            {"i": item_id, "v": 1},
        )
        conn.execute(
            text(
                "INSERT INTO allocations (payment_id, account_id, amount, kind, business_day, "
                "created_by, created_at) VALUES (:p, 1, 1, 'advance', :d, 'bench', :t)"
            ),
            {"p": item_id, "d": DAY, "t": datetime.now(UTC)},
        )
    return time.perf_counter() - t0


def bench() -> list[Result]:
    rng = random.Random(7)
    engine = make_engine(f"sqlite:///{seed_db('review_actions')}")
    _queue(engine, rng)
    with engine.connect() as conn:
        rows = conn.execute(
            select(review_items.c.id, review_items.c.candidates).where(review_items.c.id > EXACT)
        ).all()
    sample = rng.sample(rows, SINGLES)
    times = []
    for item_id, cands in sample:
        t0 = time.perf_counter()
        review.assign(engine, ANA, item_id, cands[0]["account_no"], expected_version=1)
        times.append(time.perf_counter() - t0)
    floor = [_floor(engine, item_id) for item_id, _ in rng.sample(rows, 20)]
    p95 = statistics.quantiles(times, n=20)[-1] * 1000
    p50 = statistics.median(times)
    t0 = time.perf_counter()
    flt = BulkFilter(reason="CHECK_DIGIT_FAILED")
    prev = bulk.preview(engine, ANA, flt, BulkRule.UNIQUE_CORRECTION_EXACT)
    req = bulk.request(engine, ANA, flt, BulkRule.UNIQUE_CORRECTION_EXACT)
    done = review.approve(engine, SUP, req.approval_id)
    bulk_s = time.perf_counter() - t0
    engine.dispose()
    resolved = int(done.message.split(": ")[1].split(" ")[0])
    return [
        Result(
            f"review assign, one item (p95 of {SINGLES}; {ITEMS:,} open items, seed city)",
            p95,
            "ms",
            "version-guarded UPDATE + one allocation INSERT (median)",
            statistics.median(floor) * 1000,
            f"< {ACTION_TARGET_MS:.0f} ms",
            p95 < ACTION_TARGET_MS,
        ),
        Result(
            f"review bulk accept, {prev.eligible:,} items ({resolved:,} resolved: preview, "
            "request, approval)",
            bulk_s,
            "s",
            f"{prev.eligible:,} single assigns at the median",
            p50 * prev.eligible,
            f"< {BULK_TARGET_S:.0f} s",
            bulk_s < BULK_TARGET_S and resolved == prev.eligible,
        ),
    ]
