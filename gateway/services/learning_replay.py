"""`gateway fixtures replay`: how much of the queue learning from decisions takes away.

One generated city, ``months`` monthly days in a row with residents' habits (the same people
pay every month through the same channel with the details saved in their web-banking
template: ``fixtures.day.write_day(habits=True)``). Every month but the last is ingested and
its review queue resolved as a careful accountant would, from the day's truth.csv: the
account the payer meant when it is one open account, "not a utility payment" when no
resident's account was meant; other items (several accounts, closed accounts) are left
alone. The last month is ingested only, and ``fixtures score`` of it says how many of its
would-be review items learned rules placed, and whether any of them went to the wrong
account (the target is none).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from gateway.errors import UserError
from gateway.services import review
from gateway.services.ingest import ingest_path
from gateway.services.invoices import import_register
from gateway.services.people import Actor, Role
from gateway.services.score import ScoreReport, score
from gateway.settings import Settings
from schemas.tables import invoices, payments, review_items

REPLAY_ACTOR = Actor("replay", Role.ACCOUNTANT)


@dataclass
class MonthFigures:
    day: date
    review: int = 0  # items the ingest left in the queue
    learned: int = 0  # payments placed by learned rules
    assigned: int = 0  # items resolved onto the meant account
    not_utility: int = 0
    left: int = 0  # items the replay leaves alone (several or closed accounts)


def _month(first: date, n: int) -> date:
    y, m = divmod(first.month - 1 + n, 12)
    return first.replace(year=first.year + y, month=m + 1)


def replay(
    engine: Engine,
    settings: Settings,
    out: Path,
    *,
    scale: str = "small",
    seed: int = 1,
    months: int = 3,
    first_day: date = date(2026, 9, 18),
) -> tuple[list[MonthFigures], ScoreReport]:
    """Ingest ``months`` habit days, resolving all but the last; score the last."""
    from fixtures.generate import generate

    if months < 2:
        raise UserError("a replay needs at least two months: one to learn, one to measure")
    figures = []
    for n in range(months):
        day = _month(first_day, n)
        folder = Path(out) / f"{day:%Y-%m}"
        generate(folder, scale=scale, seed=seed, day=day, habits=True)
        _keep_new_periods(engine, folder / "register" / "invoices.csv")
        import_register(engine, folder / "register", timezone=settings.timezone)
        for path in sorted(p for p in (folder / "inbox").rglob("*") if p.is_file()):
            ingest_path(engine, settings, path)
        fig = MonthFigures(day)
        fig.review, fig.learned = _counts(engine, day)
        if n < months - 1:
            _resolve_from_truth(engine, folder / "truth.csv", fig, settings.timezone)
        figures.append(fig)
    return figures, score(engine, Path(out) / f"{_month(first_day, months - 1):%Y-%m}")


def _keep_new_periods(engine: Engine, invoices_csv: Path) -> None:
    """Each generated month repeats last month's arrears invoices with other amounts; the
    billing system would not re-send a closed period, so only the new periods are kept."""
    with engine.connect() as conn:
        known = set(conn.execute(select(invoices.c.period).distinct()).scalars())
    with open(invoices_csv, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], [r for r in reader if r["period"] not in known]
    with open(invoices_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _counts(engine: Engine, day: date) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.status, payments.c.reason).where(payments.c.business_day == day)
        ).all()
    return (
        sum(1 for s, _ in rows if s == "review"),
        sum(1 for _, r in rows if r == "LEARNED"),
    )


def _resolve_from_truth(engine: Engine, truth_csv: Path, fig: MonthFigures, timezone: str) -> None:
    """Resolve the open items as a careful accountant would, knowing the truth."""
    config = review.ReviewConfig(timezone=timezone)
    with open(truth_csv, newline="", encoding="utf-8") as fh:
        meant = {r["external_id"]: r["account_no"] for r in csv.DictReader(fh)}
    with engine.connect() as conn:
        open_items = conn.execute(
            select(review_items.c.id, payments.c.external_id, payments.c.channel)
            .join(payments, payments.c.id == review_items.c.payment_id)
            .where(review_items.c.state == "open")
            .order_by(review_items.c.id)
        ).all()
    for item_id, external_id, channel in open_items:
        accounts = [a for a in meant.get(external_id, "").split(";") if a]
        try:
            if len(accounts) == 1:
                review.assign(
                    engine, REPLAY_ACTOR, item_id, accounts[0], note="from truth", config=config
                )
                fig.assigned += 1
            elif not accounts and channel == "transfer" and external_id in meant:
                review.not_utility(
                    engine, REPLAY_ACTOR, item_id, reason="no resident's money", config=config
                )
                fig.not_utility += 1
            else:
                fig.left += 1
        except UserError:  # a closed account, a duplicate: a person would return it
            fig.left += 1


def print_replay(figures: list[MonthFigures], report: ScoreReport) -> None:
    print("month      review  learned  assigned  not-utility  left alone")
    for f in figures:
        print(
            f"{f.day:%Y-%m}  {f.review:>8} {f.learned:>8} {f.assigned:>9} {f.not_utility:>12}"
            f" {f.left:>11}"
        )
    last = figures[-1]
    would_be = last.review + last.learned
    share = last.learned / would_be if would_be else 0.0
    print(
        f"learning placed {last.learned} of {would_be} would-be review items of "
        f"{last.day:%Y-%m} ({share:.1%}); misallocated by learning: {len(report.learned_wrong)}"
    )
