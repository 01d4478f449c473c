"""The connectors file: what is accepted, and that every refusal names connector and field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.config import ConnectorConfig, find_connector, parse_config, read_config
from connectors.cron import cron_trigger
from gateway.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "connectors.example.toml"

SFTP = {
    "name": "bank",
    "kind": "sftp",
    "host": "sftp.bank.example",
    "user": "plata",
    "key": "keys/id",
    "known_hosts": "keys/known_hosts",
    "remote_dir": "/out",
}


def parse(*tables: dict) -> tuple[ConnectorConfig, ...]:
    config = parse_config({"connector": list(tables)}, base_dir=Path("/etc/plata"), where="c.toml")
    return config.connectors


def refused(*tables: dict) -> str:
    with pytest.raises(UserError) as info:
        parse(*tables)
    return str(info.value)


def test_example_file_parses_with_defaults_and_resolved_paths() -> None:
    connectors = read_config(EXAMPLE).connectors
    names = [c.name for c in connectors]
    assert names == ["maib-statements", "posta-registry", "terminals-paynet", "inbox"]
    bank = find_connector(connectors, "maib-statements")
    assert bank.kind == "sftp" and bank.port == 22 and bank.archive_dir == "/out/done"
    assert bank.key == (EXAMPLE.parent / "keys" / "maib_ed25519").resolve()
    assert bank.schedule == "*/15 * * * *" and bank.enabled is False
    posta = find_connector(connectors, "posta-registry")
    assert posta.archive_dir is None and posta.attempts == 6 and posta.backoff == 2.0
    inbox = find_connector(connectors, "inbox")
    assert inbox.enabled is True and inbox.format == "auto" and inbox.attempts == 5


def test_minimal_sftp_connector() -> None:
    (c,) = parse(SFTP)
    assert c.known_hosts == Path("/etc/plata/keys/known_hosts")
    assert c.schedule is None and c.enabled and c.timeout == 30.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "ftp"}, "connector bank: field kind: must be one of sftp, http, folder"),
        ({"known_hosts": None}, "connector bank: field known_hosts: required for kind sftp"),
        ({"remote_dir": ""}, "connector bank: field remote_dir: required for kind sftp"),
        ({"port": "22"}, "connector bank: field port: expected an integer, got str"),
        ({"port": 70000}, "connector bank: field port: must be 1-65535"),
        ({"port": True}, "connector bank: field port: expected an integer, got boolean"),
        ({"enabled": "yes"}, "connector bank: field enabled: expected true or false"),
        ({"schedule": "every 15 minutes"}, "connector bank: field schedule: not a valid crontab"),
        ({"schedule": "*/15 * * *"}, "field schedule: not a valid crontab: expected 5 fields"),
        ({"schedule": "0 7 1 * 1"}, "field schedule: not a valid crontab: restrict the day of"),
        ({"schedule": "0 7 * * 8"}, "field schedule: not a valid crontab: not a weekday: '8'"),
        ({"schedule": "61 * * * *"}, "field schedule: not a valid crontab"),
        ({"format": "CAMT 053"}, "connector bank: field format: 'auto' or a format name"),
        ({"format": "camt099"}, "connector bank: field format: 'auto' or a format name: camt052"),
        ({"attempts": 0}, "connector bank: field attempts: must be 1-20"),
        ({"backoff": -1}, "connector bank: field backoff"),
        ({"knwon_hosts": "x"}, "connector bank: unknown field(s): knwon_hosts"),
    ],
)
def test_sftp_field_errors_name_connector_and_field(change: dict, message: str) -> None:
    table = {**SFTP, **change}
    table = {k: v for k, v in table.items() if v is not None}
    text = refused(table)
    assert text.startswith("c.toml: ")
    assert message in text


def test_name_is_required_and_shaped() -> None:
    assert "connector #1: field name: required" in refused({"kind": "folder", "path": "x"})
    assert "field name" in refused({"name": "Bank Statements", "kind": "folder", "path": "x"})


def test_duplicate_names_are_refused() -> None:
    folder = {"name": "inbox", "kind": "folder", "path": "in"}
    assert "connector inbox: name used twice" in refused(folder, folder)


def test_http_needs_a_url_and_one_kind_of_token() -> None:
    assert "field base_url: required for kind http" in refused({"name": "t", "kind": "http"})
    bad = {"name": "t", "kind": "http", "base_url": "ftp://feed"}
    assert "field base_url: must start with http:// or https://" in refused(bad)
    both = {"name": "t", "kind": "http", "base_url": "https://f", "token": "a", "token_env": "B"}
    assert "fields token and token_env: give one, not both" in refused(both)


def test_token_env_is_read_when_used_and_missing_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (c,) = parse({"name": "t", "kind": "http", "base_url": "https://f", "token_env": "PLATA_T"})
    monkeypatch.delenv("PLATA_T", raising=False)
    with pytest.raises(UserError, match="connector t: token_env PLATA_T is not set"):
        c.bearer_token()
    monkeypatch.setenv("PLATA_T", "s3cret")
    assert c.bearer_token() == "s3cret"


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="connectors file not found"):
        read_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[connector]\nname = 'x'\n")
    with pytest.raises(UserError, match=r"broken\.toml: not valid TOML"):
        read_config(broken)
    stray = tmp_path / "stray.toml"
    stray.write_text("timeout = 3\n")
    with pytest.raises(UserError, match="unknown top-level key"):
        read_config(stray)


def test_unknown_connector_lists_the_known_ones() -> None:
    connectors = parse({"name": "inbox", "kind": "folder", "path": "in"})
    with pytest.raises(UserError, match=r"unknown connector 'bank' \(known: inbox\)"):
        find_connector(connectors, "bank")


@pytest.mark.parametrize(
    ("weekday", "names"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),  # crontab: Monday to Friday (not APScheduler's Tue-Sat)
        ("1-6", "mon,tue,wed,thu,fri,sat"),
        ("0", "sun"),
        ("7", "sun"),
        ("5-7", "sun,fri,sat"),
        ("fri-sun", "sun,fri,sat"),
        ("mon,wed", "mon,wed"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
    ],
)
def test_crontab_weekdays_keep_their_crontab_meaning(weekday: str, names: str) -> None:
    trigger = cron_trigger(f"0 7 * * {weekday}")
    assert {f.name: str(f) for f in trigger.fields}["day_of_week"] == names


def test_weekday_schedule_fires_on_the_crontab_day_in_chisinau() -> None:
    saturday_evening = datetime(2026, 11, 21, 20, 0, tzinfo=ZoneInfo("Europe/Chisinau"))
    weekdays = cron_trigger("30 6 * * 1-5")
    monday = weekdays.get_next_fire_time(None, saturday_evening)
    assert monday == datetime(2026, 11, 23, 6, 30, tzinfo=ZoneInfo("Europe/Chisinau"))
    sundays = cron_trigger("0 9 * * 0")
    assert sundays.get_next_fire_time(None, saturday_evening).day == 22


def test_reading_options_reach_the_parser_and_bad_ones_are_named() -> None:
    (c,) = parse(
        {**SFTP, "strict_balances": True, "encoding": "cp866", "quirks": ["swift_envelope"]}
    )
    options = c.read_options()
    assert (options.strict_balances, options.encoding, options.quirks) == (
        True,
        "cp866",
        ("swift_envelope",),
    )
    assert not parse(SFTP)[0].read_options().strict_balances  # findings, not refusals
    assert "field encoding: unknown encoding 'klingon'" in refused({**SFTP, "encoding": "klingon"})
    assert "field quirks: unknown 'bank_x'" in refused({**SFTP, "quirks": ["bank_x"]})
    assert "field strict_balances: expected true or false" in refused(
        {**SFTP, "strict_balances": "yes"}
    )
