"""The bank API places a payment by the TOML's [allocation] policy (defect 9, API half)."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select

from gateway.app import create_app
from gateway.errors import UserError
from gateway.services.agents import add_agent
from gateway.settings import Settings
from schemas import tables as t
from tests.api.conftest import A1, payment


def _by_provider(engine: Engine) -> dict[str, int]:
    a, ln = t.allocations, t.invoice_lines
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.providers.c.code, func.sum(a.c.amount))
            .join(ln, ln.c.id == a.c.invoice_line_id)
            .join(t.providers, t.providers.c.id == ln.c.provider_id)
            .group_by(t.providers.c.code)
        ).all()
    return {code: int(total) for code, total in rows}


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        # A1 owes APACANAL 150.00, GESTACC 30.00 and TERMO 200.00, all for 2026-11
        ("", {"APACANAL": 7895, "GESTACC": 1579, "TERMO": 10526}),  # in proportion
        ('[allocation]\nprovider_priority = [["TERMO"]]\n', {"TERMO": 20000}),
    ],
)
def test_configured_priority_changes_the_api_split(
    settings: Settings, city: Engine, tmp_path: Path, toml: str, expected: dict[str, int]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(toml)
    key = add_agent(city, "maib").key
    with TestClient(create_app(settings.with_(config_path=config), city)) as client:
        r = client.post(
            "/pf/v1/payments",
            json=payment("T1", A1, "200.00"),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201, r.text
    assert _by_provider(city) == expected


def test_a_broken_config_stops_the_start(settings: Settings, city: Engine, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[allocation]\nprovider_priority = "TERMO"\n')
    with pytest.raises(UserError, match="provider_priority"):
        create_app(settings.with_(config_path=config), city)
