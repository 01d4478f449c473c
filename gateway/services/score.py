"""`gateway fixtures score DIR`: what the database made of a generated day, against DIR/truth.csv.

truth.csv (written by the generator) has one row per payment record: channel, source_format,
external_id, amount, account_no (the account the payer meant; several joined by ";"; empty
when the money is no resident's, e.g. a collector's lump sum), clear_reference (1 when the
record identifies its account unambiguously), expected, note.

Figures:
- lost: a truth record with no payment in the database;
- misallocated: a payment whose money sits on any account other than the ones meant (or on
  any account at all when none was meant). This must be zero;
- auto-allocated rate: of the records with a clear reference, the share placed automatically
  on exactly the right account(s); target at least 97%;
- lump sums not settled: a collector's credit that settled no registry;
- review reasons: what sent the rest to the queue.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from gateway.db import reading
from gateway.errors import UserError
from reconciliation.learning import LEARNED_REASON
from reconciliation.model import PaymentStatus
from schemas.tables import accounts, allocations, payments

AUTO_RATE_TARGET = 0.97


@dataclass
class ScoreReport:
    records: int = 0
    lost: list[str] = field(default_factory=list)
    misallocated: list[str] = field(default_factory=list)
    clear: int = 0
    clear_auto: int = 0
    statuses: Counter = field(default_factory=Counter)
    review_reasons: Counter = field(default_factory=Counter)
    unbalanced: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # lump sums that settled nothing
    learned: int = 0  # placed by a rule learned from accountants' decisions
    learned_wrong: list[str] = field(default_factory=list)  # of those, on a wrong account

    @property
    def auto_rate(self) -> float:
        return self.clear_auto / self.clear if self.clear else 1.0

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.misallocated
            and not self.unbalanced
            and not self.unsettled
            and self.auto_rate >= AUTO_RATE_TARGET
        )


def _read_truth(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise UserError(f"{path}: no truth.csv (generate the day with `gateway fixtures generate`)")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def score(engine: Engine, folder: Path) -> ScoreReport:
    truth = _read_truth(folder / "truth.csv")
    with reading(engine) as conn:
        pays = {
            r.external_id: r
            for r in conn.execute(
                select(
                    payments.c.id,
                    payments.c.external_id,
                    payments.c.status,
                    payments.c.reason,
                    payments.c.amount,
                )
            )
        }
        placed: dict[int, dict[str, int]] = defaultdict(dict)
        q = (
            select(allocations.c.payment_id, accounts.c.account_no, func.sum(allocations.c.amount))
            .join(accounts, accounts.c.id == allocations.c.account_id)
            .group_by(allocations.c.payment_id, accounts.c.account_no)
        )
        for pid, acc, total in conn.execute(q):
            if total:
                placed[pid][acc] = int(total)
    report = ScoreReport(records=len(truth))
    for row in truth:
        _score_row(report, row, pays, placed)
    return report


def _score_row(report: ScoreReport, row: dict[str, str], pays: dict, placed: dict) -> None:
    ext = row["external_id"]
    pay = pays.get(ext) or pays.get(f"rvsl:{ext}")
    if pay is None:
        report.lost.append(ext)
        return
    report.statuses[pay.status] += 1
    if pay.status == PaymentStatus.REVIEW:
        report.review_reasons[pay.reason or "?"] += 1
    if row.get("expected") == "settlement" and pay.status != PaymentStatus.SETTLED:
        report.unsettled.append(ext)
    meant = {a for a in (row.get("account_no") or "").split(";") if a}
    got = placed.get(pay.id, {})
    if got and not set(got) <= meant:
        report.misallocated.append(ext)
    if pay.reason == LEARNED_REASON:
        report.learned += 1
        if not got or not set(got) <= meant:
            report.learned_wrong.append(ext)
    if pay.status == PaymentStatus.ALLOCATED and got and sum(got.values()) != pay.amount:
        report.unbalanced.append(ext)
    if row.get("clear_reference") == "1":
        report.clear += 1
        if pay.status == PaymentStatus.ALLOCATED and got and set(got) == meant:
            report.clear_auto += 1


def print_score(report: ScoreReport) -> None:
    print(f"records in truth:        {report.records}")
    print(f"lost:                    {len(report.lost)}")
    print(f"misallocated:            {len(report.misallocated)}")
    print(f"unbalanced allocations:  {len(report.unbalanced)}")
    print(f"lump sums not settled:   {len(report.unsettled)}")
    print(
        f"auto-allocated (clear):  {report.clear_auto}/{report.clear} = {report.auto_rate:.2%}"
        f" (target {AUTO_RATE_TARGET:.0%})"
    )
    print(
        "statuses:                "
        + ", ".join(f"{k}={v}" for k, v in sorted(report.statuses.items()))
    )
    would_be = report.statuses.get(PaymentStatus.REVIEW, 0) + report.learned
    if report.learned:
        print(
            f"learned from decisions:  {report.learned} of {would_be} would-be review items "
            f"placed ({report.learned / would_be:.1%}), {len(report.learned_wrong)} misallocated"
        )
    print("review reasons:")
    for reason, n in report.review_reasons.most_common():
        print(f"  {reason:<28} {n}")
    for label, items in (("lost", report.lost), ("misallocated", report.misallocated)):
        if items:
            print(f"first {label}: {', '.join(items[:10])}")
    print("verdict:                 " + ("OK" if report.ok else "NOT MET"))
