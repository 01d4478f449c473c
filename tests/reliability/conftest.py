"""Every test here carries the ``reliability`` marker (``-m reliability`` runs the suite alone);
the long variants are also marked ``soak`` and run by ``make soak`` only."""

from __future__ import annotations

import os

import pytest

from tests.api.conftest import app_client, bank, city  # noqa: F401  (the API tests' fixtures)

SOAK = os.environ.get("GATEWAY_SOAK") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="long variant: make soak (GATEWAY_SOAK=1)")
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
            if item.get_closest_marker("soak") and not SOAK:
                item.add_marker(skip)
