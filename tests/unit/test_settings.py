"""Settings from the environment: the time zone is configurable and checked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.errors import UserError
from gateway.settings import Settings
from reconciliation.model import CITY_TIMEZONE


def test_the_zone_defaults_to_chisinau() -> None:
    assert Settings.from_env({}).timezone == CITY_TIMEZONE


def test_gateway_timezone_sets_the_zone() -> None:
    assert Settings.from_env({"GATEWAY_TIMEZONE": "Asia/Tokyo"}).timezone == "Asia/Tokyo"


@pytest.mark.parametrize("bad", ["Mars/Olympus", "../etc/passwd", "Europe/Chisinau\n"])
def test_an_unknown_zone_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(UserError, match=r"GATEWAY_TIMEZONE=.* is not a known time zone"):
        Settings.from_env({"GATEWAY_TIMEZONE": bad})


def test_batch_commands_run_at_a_lower_cpu_priority() -> None:
    code = (
        "import os; from gateway.cli_common import batch_priority;"
        "from gateway.settings import Settings; before = os.nice(0);"
        "batch_priority(Settings.from_env({'GATEWAY_BATCH_NICE': '3'})); print(os.nice(0) - before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == min(3, 19 - os.nice(0))
    assert Settings.from_env({}).batch_nice == 10
    assert Settings.from_env({"GATEWAY_BATCH_NICE": "0"}).batch_nice == 0
