"""`make bench`: run every benchmark and print one table of figures, baselines and ratios.

Each module in BENCHES exposes ``bench() -> list[Result]``; its baseline is measured in the
same run, because absolute times drift on shared machines. ``python -m bench NAME ...`` runs
a subset.
"""

from __future__ import annotations

import importlib
import sys
import traceback

from rich.console import Console
from rich.table import Table

from bench.common import Result

BENCHES = [
    "register_import",
    "camt_parse",
    "match",
    "ingest",
    "postgres",
    "api",
    "report",
    "review_actions",
    "workspace",
    "reliability",
]


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.3f}" if abs(x) < 100 else f"{x:,.0f}"


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    console = Console(width=max(Console().width, 160))
    results: list[Result] = []
    failed = False
    for name in names:
        console.print(f"[bold]running bench.{name}[/bold]")
        try:
            module = importlib.import_module(f"bench.{name}")
            results.extend(module.bench())
        except Exception:
            failed = True
            console.print(f"[red]bench.{name} failed[/red]")
            traceback.print_exc()
    table = Table(title="Plata benchmarks (baselines measured in the same run)")
    for col in ("measure", "value", "unit", "baseline", "baseline value", "ratio", "target", "ok"):
        table.add_column(col)
    for r in results:
        ok = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: ""}[r.ok]
        table.add_row(
            r.name,
            _fmt(r.value),
            r.unit,
            r.baseline_name,
            _fmt(r.baseline),
            _fmt(r.ratio),
            r.target,
            ok,
        )
    console.print(table)
    return 1 if failed or any(r.ok is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
