"""``gateway fixtures generate|score|replay``: the synthetic city, scoring a run against its
truth, and months of replayed days that measure learning (see fixtures/ and bench/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli_common import day_arg, engine, tty
from gateway.settings import Settings


def cmd_fixtures_generate(args: argparse.Namespace, settings: Settings) -> int:
    from fixtures.generate import generate

    summary = generate(
        Path(args.out), scale=args.scale, seed=args.seed, day=args.day, progress=tty(),
        mix=args.mix, payments=args.payments,
    )  # fmt: skip
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_fixtures_score(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.score import print_score, score

    report = score(engine(settings), Path(args.dir))
    print_score(report)
    return 0 if report.ok else 1


def cmd_fixtures_replay(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.learning_replay import print_replay, replay

    figures, report = replay(
        engine(settings),
        settings,
        Path(args.out),
        scale=args.scale,
        seed=args.seed,
        months=args.months,
    )
    print_replay(figures, report)
    return 0 if not report.learned_wrong and not report.misallocated else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway fixtures generate|score|replay``."""
    fx = sub.add_parser("fixtures", help="synthetic city").add_subparsers(
        dest="fx_cmd", required=True
    )
    g = fx.add_parser("generate", help="write a synthetic city and a day's payment files")
    g.add_argument("--out", required=True)
    g.add_argument("--scale", choices=["small", "seed"], default="small")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--day", type=day_arg, default=None, help="business day (default: 2026-11-20)")
    g.add_argument(
        "--mix", choices=["clear", "messy"], default="clear",
        help="clear: the usual day of six channels; messy: one statement of hard transfer "
        "texts (see fixtures/messy.py)",
    )  # fmt: skip
    g.add_argument("--payments", type=int, default=None, help="payments in the day")
    g.set_defaults(func=cmd_fixtures_generate)
    s = fx.add_parser("score", help="compare the database with DIR/truth.csv")
    s.add_argument("dir")
    s.set_defaults(func=cmd_fixtures_score)
    r = fx.add_parser(
        "replay", help="months of habit days: resolve the queue from truth, measure learning"
    )
    r.add_argument("--out", required=True)
    r.add_argument("--scale", choices=["small", "seed"], default="small")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--months", type=int, default=3)
    r.set_defaults(func=cmd_fixtures_replay)
