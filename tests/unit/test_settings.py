"""Settings from the environment: the time zone is configurable and checked."""

from __future__ import annotations

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
