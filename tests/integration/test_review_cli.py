"""`gateway review ...`: the same service from the command line, acting as a named user."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from gateway.cli import main
from schemas import tables as t
from tests.integration.citykit import ACC_MARIA, load_tiny_city
from tests.integration.reviewkit import IBAN, add_review_payment


@pytest.fixture
def cli(sqlite_engine, monkeypatch, capsys):
    load_tiny_city(sqlite_engine)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", str(sqlite_engine.url))
    # in-process: main() must not point the process's logging at capsys's stream
    monkeypatch.setattr("gateway.logging.configure_logging", lambda *a, **k: None)
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(t.users),
            [
                {"username": u, "password_hash": "x", "role": r, "created_at": datetime.now(UTC)}
                for u, r in (("ana", "accountant"), ("vera", "viewer"), ("sup", "supervisor"))
            ],
        )

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["review", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.engine = sqlite_engine  # type: ignore[attr-defined]
    return run


def test_assign_then_undo_from_the_command_line(cli) -> None:
    item = add_review_payment(cli.engine, 1500, candidates=(ACC_MARIA,))
    code, out, _ = cli("list")
    assert code == 0 and f"{item:>7}" in out and "15.00" in out
    code, out, _ = cli("assign", str(item), ACC_MARIA, "--as", "ana", "--version", "1", "--json")
    assert code == 0 and json.loads(out)["state"] == "resolved_assigned"
    code, out, _ = cli("undo", str(item), "--as", "ana", "--reason", "wrong", "--json")
    request = json.loads(out)["approval_id"]
    code, out, _ = cli("approvals")
    assert f"{request:>6}" in out and "undo" in out
    code, out, _ = cli("approve", str(request), "--as", "sup")
    assert code == 0 and "back in the queue" in out
    code, out, _ = cli("show", str(item))
    assert "assign" in out and "undo" in out and out.startswith(f"item {item} ")


def test_refusals_are_one_line_with_their_exit_code(cli) -> None:
    item = add_review_payment(cli.engine, 1500)
    code, _, err = cli("assign", str(item), ACC_MARIA, "--as", "vera")
    assert code == 4 and err.startswith("error: vera (viewer) may not")
    code, _, err = cli("assign", str(item), ACC_MARIA, "--as", "nobody")
    assert code == 3 and "no user 'nobody'" in err
    code, _, err = cli("return", str(item), "--iban", "MD00", "--name", "I", "--reason", "r")
    assert code == 2 and "not a valid IBAN" in err
    cli("return", str(item), "--iban", IBAN, "--name", "I", "--reason", "r", "--version", "1")
    code, _, err = cli("not-utility", str(item), "--reason", "x", "--version", "1")
    assert code == 5 and "changed by someone else" in err


def test_a_repeated_token_acts_once(cli) -> None:
    item = add_review_payment(cli.engine, 1500)
    first = cli("split", str(item), "--share", f"{ACC_MARIA}=10.00", "--share",
                f"{ACC_MARIA}=5.00:WATER", "--token", "t1", "--json")  # fmt: skip
    again = cli("split", str(item), "--share", f"{ACC_MARIA}=10.00", "--share",
                f"{ACC_MARIA}=5.00:WATER", "--token", "t1", "--json")  # fmt: skip
    assert json.loads(again[1])["replayed"] and not json.loads(first[1])["replayed"]


def test_bulk_preview_and_request(cli) -> None:
    add_review_payment(cli.engine, 25000, candidates=(ACC_MARIA,))
    code, out, _ = cli("bulk", "--rule", "best_exact")
    assert code == 0 and "1 eligible" in out and "nothing changed" in out
    code, out, _ = cli("bulk", "--rule", "best_exact", "--request", "--as", "ana", "--json")
    request = json.loads(out)["approval_id"]
    code, out, _ = cli("approve", str(request), "--as", "sup")
    assert code == 0 and "1 items resolved" in out


def test_rules_are_listed_and_switched(cli) -> None:
    item = add_review_payment(cli.engine, 1500, candidates=(ACC_MARIA,))
    cli("assign", str(item), ACC_MARIA, "--as", "ana")
    code, out, _ = cli("rules", "--json")
    rules = json.loads(out)
    assert code == 0 and rules[0]["account_no"] == ACC_MARIA and rules[0]["decisions"] == 1
    code, _, err = cli("rules", "--disable", str(rules[0]["id"]), "--as", "ana")
    assert code == 4 and "may not" in err  # an accountant does not switch rules
    code, out, _ = cli("rules", "--disable", str(rules[0]["id"]), "--as", "sup", "--note", "odd")
    assert code == 0 and "disabled" in out and "(odd)" in out
