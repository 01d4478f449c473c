"""Bank quirks in SWIFT MT940/MT942 files, as named hooks (the python-mt940 way).

The parser (``mt940``) never branches on a bank: what one bank does differently is a hook
here, with a name a connector can list (``quirks = [...]`` in the connectors' TOML; the
default set below is what every connector gets). A hook is a text fix applied before the
library reads the file, and/or library processors keyed like python-mt940's
(``pre_<tag slug>`` / ``post_<tag slug>``), which the library runs per tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.formats.base import FormatError

Processor = Callable[..., Any]


@dataclass(frozen=True)
class Quirk:
    name: str
    doc: str
    text: Callable[[str], str] | None = None
    processors: dict[str, list[Processor]] = field(default_factory=dict)


_ENVELOPE = re.compile(r"(?m)\{[1-3]:[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\{4:|^-\}|\{5:(?:\{[^{}]*\})*\}")


def _strip_envelope(text: str) -> str:
    """SWIFT FIN blocks {1:}{2:}{3:} around a {4:...-} body: only the body is a statement.
    A file without them passes unchanged."""
    if "{4:" not in text and "{1:" not in text:
        return text
    return _ENVELOPE.sub("\n", text)


def _drop_blank_lines(text: str) -> str:
    """Blank lines between tags (some exports separate statements with them)."""
    return "\n".join(line for line in text.split("\n") if line.strip())


_BARE_SUBFIELDS = re.compile(r"^\?\d{2}")


def _bare_subfields(transactions: Any, tag: Any, tag_dict: dict[str, Any]) -> dict[str, Any]:
    """A structured :86: without its leading transaction code (``?20...`` instead of
    ``166?00...?20...``): given a neutral code so the library reads its subfields."""
    details = tag_dict.get("transaction_details") or ""
    if _BARE_SUBFIELDS.match(details):
        tag_dict["transaction_details"] = "999" + details
    return tag_dict


_CCY_SUFFIX = re.compile(r"^(?P<account>.*?)[/ ]?(?P<ccy>[A-Z]{3})$")


def _currency_in_25(
    transactions: Any, tag: Any, tag_dict: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    """:25: ending in a currency (``MD24...168/MDL``, ``...168MDL``): the account without it,
    and the currency kept for a statement whose balances name none."""
    account = str(result.get("account_identification") or "").strip()
    m = _CCY_SUFFIX.match(account)
    if m and len(m.group("account")) >= 5 and not m.group("account").isalpha():
        result["account_identification"] = m.group("account").rstrip("/ ")
        result["account_currency"] = m.group("ccy")
    return result


QUIRKS: dict[str, Quirk] = {
    q.name: q
    for q in (
        Quirk("swift_envelope", _strip_envelope.__doc__ or "", text=_strip_envelope),
        Quirk("blank_lines", _drop_blank_lines.__doc__ or "", text=_drop_blank_lines),
        Quirk(
            "bare_subfields_86",
            _bare_subfields.__doc__ or "",
            processors={"pre_transaction_details": [_bare_subfields]},
        ),
        Quirk(
            "currency_in_25",
            _currency_in_25.__doc__ or "",
            processors={"post_account_identification": [_currency_in_25]},
        ),
    )
}
DEFAULT_QUIRKS = tuple(QUIRKS)


def resolve(names: tuple[str, ...] | None) -> list[Quirk]:
    """The quirks named (the default set when None); an unknown name is refused."""
    chosen = DEFAULT_QUIRKS if names is None else names
    unknown = [n for n in chosen if n not in QUIRKS]
    if unknown:
        raise FormatError(f"unknown MT940 quirk(s) {unknown} (known: {', '.join(QUIRKS)})")
    return [QUIRKS[n] for n in chosen]


def processors_of(quirks: list[Quirk], defaults: dict[str, list[Processor]]) -> dict:
    """The library's processor table with the quirks' processors added."""
    table = {key: list(value) for key, value in defaults.items()}
    for quirk in quirks:
        for key, procs in quirk.processors.items():
            table.setdefault(key, []).extend(procs)
    return table
