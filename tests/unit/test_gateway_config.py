"""The gateway's TOML file beyond connectors: [[collector]] and [allocation], one loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.config import GatewayConfig, parse_config, read_config
from gateway.collectors import DEFAULT_COLLECTORS, collectors_of
from gateway.errors import UserError
from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.settlement import fold

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "connectors.example.toml"
POSTA = {"code": "POSTA", "ibans": ["md46 ag00 0000 0225 1234 5601"], "name_patterns": ["Poșta"]}


def parse(raw: dict) -> GatewayConfig:
    return parse_config(raw, base_dir=Path("/etc/plata"), where="c.toml")


def refused(raw: dict) -> str:
    with pytest.raises(UserError) as info:
        parse(raw)
    return str(info.value)


def test_example_file_holds_all_three_parts() -> None:
    config = read_config(EXAMPLE)
    assert [c.name for c in config.connectors][-1] == "inbox"
    assert config.allocation == AllocationPolicy(
        provider_priority=(("TERMO",), ("APACANAL", "IMGFL"))
    )
    assert config.collectors is not None


def test_example_collectors_are_the_demo_city_defaults() -> None:
    """The example documents the built-in list: same collectors, patterns as matched (folded)."""
    config = read_config(EXAMPLE)
    assert config.collectors is not None
    got = [(c.code, c.name, c.ibans, c.fee_max_permille, c.lag_days) for c in config.collectors]
    want = [(c.code, c.name, c.ibans, c.fee_max_permille, c.lag_days) for c in DEFAULT_COLLECTORS]
    assert got == want
    for mine, default in zip(config.collectors, DEFAULT_COLLECTORS, strict=True):
        assert mine.name_patterns == tuple(fold(p) for p in default.name_patterns)


def test_collector_fields_are_normalised_and_defaulted() -> None:
    (c,) = parse({"collector": [POSTA]}).collectors or ()
    assert c.name == "POSTA" and c.ibans == ("MD46AG000000022512345601",)
    assert c.name_patterns == ("posta",), "patterns are matched folded: case and diacritics"
    assert (c.fee_max_permille, c.lag_days) == (20, 3)
    assert c.owns(None, "I.S. POSTA Moldovei")


def test_no_collector_tables_means_the_defaults() -> None:
    config = parse({"connector": []})
    assert config.collectors is None and collectors_of(config) == DEFAULT_COLLECTORS
    assert config.allocation == DEFAULT_POLICY
    assert collectors_of(parse({"collector": [POSTA]}))[0].code == "POSTA"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "no spaces"}, "collector #1: field code: required"),
        ({"fee": 3}, "collector POSTA: unknown field(s): fee"),
        ({"ibans": "MD46AG000000022512345601"}, "field ibans: expected a list of non-empty"),
        ({"ibans": ["46AG0000"]}, "field ibans: not an IBAN: '46AG0000'"),
        ({"name_patterns": [""]}, "field name_patterns: expected a list of non-empty strings"),
        ({"ibans": [], "name_patterns": []}, "give ibans, name_patterns or entry_patterns"),
        ({"entry_patterns": ["reestru ("]}, "field entry_patterns: 'reestru (' is not a regular"),
        ({"fee_max_permille": 1001}, "field fee_max_permille: expected an integer 0-1000"),
        ({"lag_days": True}, "field lag_days: expected an integer 0-60"),
        ({"name": 5}, "field name: expected a non-empty string"),
    ],
)
def test_collector_refusals_name_the_collector_and_field(change: dict, message: str) -> None:
    assert message in refused({"collector": [{**POSTA, **change}]})


def test_collector_code_twice_is_refused() -> None:
    assert "collector POSTA: code used twice" in refused({"collector": [POSTA, POSTA]})


def test_allocation_policy_is_read() -> None:
    raw = {"allocation": {"provider_priority": [["TERMO"], ["APA", "IMGFL"]]}}
    assert parse(raw).allocation == AllocationPolicy((("TERMO",), ("APA", "IMGFL")))
    within = {"allocation": {"provider_priority": [["TERMO"]], "priority_within_period": True}}
    assert parse(within).allocation.priority_within_period is True


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"provider_priority": ["TERMO"]}, "field provider_priority: a list of groups"),
        ({"provider_priority": [[]]}, "field provider_priority: a list of groups"),
        ({"provider_priority": [["A"], ["B", "A"]]}, "provider A in two groups"),
        ({"priority_within_period": "yes"}, "priority_within_period: expected true or false"),
        ({"order": "oldest"}, "[allocation]: unknown field(s): order"),
    ],
)
def test_allocation_refusals(table: dict, message: str) -> None:
    assert message in refused({"allocation": table})


def test_unknown_top_level_key_lists_the_known_ones() -> None:
    message = refused({"colector": []})
    assert (
        "unknown top-level key(s): colector (known: connector, collector, allocation, plausibility)"
        in message
    )
