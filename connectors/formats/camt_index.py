"""The per-element index the camt reader asks its questions of (``connectors.formats.camt``).

lxml's ``find`` costs several microseconds a call and an entry is asked for some twenty
fields, so each element the reader handles (a statement block's header, a balance, an entry)
is walked once along the paths the reader wants (``_PATHS``), keyed by the document's own
Clark names, and each answer is a list lookup. Every camt version has these paths; only the
namespace differs, which is what ``trie(ns)`` is built for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Every path (relative to a statement block, a balance, an entry or a transaction) that the
#: reader asks for. The per-element index visits only these, skipping whole subtrees that
#: carry nothing we read (bank transaction codes, creditor parties, related dates, ...).
_PATHS = (
    # statement block
    "Id", "Acct/Id/IBAN", "Acct/Id/Othr/Id", "Acct/Ccy", "ElctrncSeqNb", "LglSeqNb",
    "FrToDt/FrDtTm", "FrToDt/ToDtTm",
    # balance
    "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry", "Amt", "CdtDbtInd",
    # entry
    "Sts", "Sts/Cd", "Sts/Prtry", "AcctSvcrRef", "NtryRef", "AddtlNtryInf", "RvslInd",
    "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm", "NtryDtls/Btch", "NtryDtls/TxDtls",
    # transaction details (indexed on their own: "NtryDtls/TxDtls" is not descended into)
    "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt", "Refs/EndToEndId", "Refs/AcctSvcrRef",
    "RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref", "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm",
    "RltdPties/DbtrAcct/Id/IBAN",
)  # fmt: skip

#: Subtrees an index does not descend into: the statement's blocks are indexed on their own
#: when their end tag arrives, and each TxDtls gets an index of its own (a batch has many).
_OWN_INDEX = frozenset({"TxDtls", "Ntry", "Bal"})


@dataclass(frozen=True, slots=True)
class _Step:
    """One wanted element name below a trie node: its path and what is wanted below it."""

    path: str  # local-name path from the indexed element, e.g. "Refs/EndToEndId"
    below: dict[str, _Step]  # keyed by Clark name ("{ns}Name"), as lxml reports tags
    own_index: bool  # a TxDtls: indexed on its own, as a dict like _index's


@lru_cache(maxsize=16)
def trie(ns: str) -> dict[str, _Step]:
    """``_PATHS`` as nested steps keyed by the document's own Clark names, so that the walk
    compares ``node.tag`` as lxml gives it, with no namespace stripping or path building."""
    root: dict[str, _Step] = {}
    for path in _PATHS:
        level, so_far = root, ""
        for name in path.split("/"):
            so_far = f"{so_far}/{name}" if so_far else name
            key = f"{{{ns}}}{name}"
            step = level.get(key)
            if step is None:
                step = level[key] = _Step(so_far, {}, name in _OWN_INDEX)
            if step.own_index:
                break
            level = step.below
    return root


def index(el: Any, root: dict[str, _Step]) -> dict[str, list[Any]]:
    """The descendants of ``el`` on a wanted path, by their local-name path ("Refs/EndToEndId").

    One walk per element instead of an ElementPath search per field (lxml's ``find`` costs
    several microseconds a call, and an entry is asked for some twenty fields); the walk
    follows the paths the reader asks for (``root``: the document's ``_trie``), so no other
    element is ever visited. A TxDtls is
    listed as its own index (a dict like this one), built in the same walk.
    """
    out: dict[str, list[Any]] = {}
    _collect(el, root, root, out)
    return out


def _collect(
    el: Any, wanted: dict[str, _Step], root: dict[str, _Step], out: dict[str, list[Any]]
) -> None:
    for node in el:
        step = wanted.get(node.tag)  # comments and PIs have non-string tags: never wanted
        if step is None:
            continue
        if step.own_index:
            sub: dict[str, list[Any]] = {}
            _collect(node, root, root, sub)
            node = sub
        elif step.below:
            _collect(node, step.below, root, out)
        found = out.get(step.path)
        if found is None:
            out[step.path] = [node]
        else:
            found.append(node)


def text_of(idx: dict[str, list[Any]], *paths: str) -> str | None:
    """Stripped text of the first of ``paths`` that exists and is non-empty."""
    for path in paths:
        for found in idx.get(path, ()):
            text = found.text
            if text and (text := text.strip()):
                return text
    return None


def first(idx: dict[str, list[Any]], path: str) -> Any:
    found = idx.get(path)
    return found[0] if found else None
