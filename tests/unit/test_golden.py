"""The golden-file switch: a mismatch shows a unified diff; --regen-golden rewrites the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import Golden, unified_diff


def test_mismatch_fails_with_a_unified_diff(tmp_path: Path) -> None:
    expected = tmp_path / "a.expected.jsonl"
    expected.write_text('{"amount": "1.00"}\n{"amount": "2.00"}\n', "utf-8")
    actual = '{"amount": "1.00"}\n{"amount": "2.01"}\n'
    with pytest.raises(pytest.fail.Exception) as info:
        Golden(regen=False, rewritten=[]).check(expected, actual)
    message = str(info.value)
    assert "--regen-golden" in message
    assert f"--- {expected} (expected)" in message and f"+++ {expected} (actual)" in message
    assert '-{"amount": "2.00"}' in message and '+{"amount": "2.01"}' in message
    assert ' {"amount": "1.00"}' in message  # context line
    assert expected.read_text("utf-8").endswith('"2.00"}\n'), "a check never writes"


def test_missing_expected_file_names_the_switch(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="--regen-golden"):
        Golden(regen=False, rewritten=[]).check(tmp_path / "new.expected.jsonl", "x\n")
    assert not (tmp_path / "new.expected.jsonl").exists()


def test_regen_writes_new_and_changed_files_and_lists_them(tmp_path: Path) -> None:
    rewritten: list[Path] = []
    golden = Golden(regen=True, rewritten=rewritten)
    same, changed, new = (tmp_path / n for n in ("same.txt", "changed.txt", "new.txt"))
    same.write_text("x\n", "utf-8")
    changed.write_text("old\n", "utf-8")
    for path, text in ((same, "x\n"), (changed, "new\n"), (new, "fresh\n")):
        golden.check(path, text)
    assert changed.read_text("utf-8") == "new\n" and new.read_text("utf-8") == "fresh\n"
    assert rewritten == [changed, new], "an unchanged file is not reported as rewritten"


def test_long_diff_is_cut() -> None:
    diff = unified_diff("".join(f"{i}\n" for i in range(500)), "", "f")
    assert diff.count("\n") == 201 and diff.endswith("more diff lines\n")


def test_regen_option_is_registered(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getoption("--regen-golden") in (True, False)
