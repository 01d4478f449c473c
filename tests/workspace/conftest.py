"""Workspace fixtures: the small city with its queue and people, and a client of the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.settings import Settings
from tests.workspace.kit import add_people, insert_city


@pytest.fixture
def queue_ids(engine: Engine) -> dict[str, int]:
    ids = insert_city(engine)
    add_people(engine)
    return ids


@pytest.fixture
def client(settings: Settings, engine: Engine, queue_ids: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine), base_url="http://gateway.local") as c:
        yield c
