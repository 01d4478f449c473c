"""Golden files: compare an output with the expected file beside its sample, or rewrite it.

``pytest --regen-golden`` rewrites every expected file a test compares (after a deliberate
change of output, or to create the expected file of a new sample); review the change with
``git diff fixtures/`` before committing it. Without the switch a mismatch fails with a
unified diff (expected -> actual), and a missing expected file fails with the command that
creates it. The ``golden`` fixture (tests/conftest.py) hands a ``Golden`` to a test.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

REGEN_OPTION = "--regen-golden"
MAX_DIFF_LINES = 200  # a wholly different file would drown the report; the head says enough


class Golden:
    """Checks (or, with ``--regen-golden``, rewrites) expected files for one test."""

    def __init__(self, regen: bool, rewritten: list[Path]) -> None:
        self.regen = regen
        self._rewritten = rewritten

    def check(self, expected_path: Path, actual: str) -> None:
        """Fail with a unified diff unless ``expected_path`` holds exactly ``actual``."""
        exists = expected_path.is_file()
        expected = expected_path.read_text("utf-8") if exists else None
        if expected == actual:
            return
        if self.regen:
            expected_path.write_text(actual, "utf-8")
            self._rewritten.append(expected_path)
            return
        if expected is None:
            pytest.fail(
                f"no golden file {expected_path}; create it with `pytest {REGEN_OPTION}` "
                "and review it before committing",
                pytrace=False,
            )
        pytest.fail(
            f"{expected_path} differs from the output (rewrite with `pytest {REGEN_OPTION}`):\n"
            + unified_diff(expected, actual, str(expected_path)),
            pytrace=False,
        )


def unified_diff(expected: str, actual: str, name: str) -> str:
    """``expected`` -> ``actual`` as a unified diff, cut after ``MAX_DIFF_LINES`` lines."""
    lines = list(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{name} (expected)",
            tofile=f"{name} (actual)",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... {cut} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
