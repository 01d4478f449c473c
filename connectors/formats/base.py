"""What every inbound format shares: the error, the format shape, derived ids, the registry.

A format is a small declarative object: a ``name`` (the ``--format`` value and the records'
``source_format``), ``detect(head)`` that looks only at the first bytes of a file, and
``parse(data)`` that turns the whole file into ``PaymentRecord``s. Parsers are pure (bytes in,
records out) and refuse a bad file with one ``FormatError`` whose message says where and why,
because the pipeline quarantines a file on the first error and an accountant reads the reason.

``parse`` is a generator. A check that needs the whole file (control totals, balances) can
fail after some records were yielded, so callers must consume every record before acting
on any of them, or act inside a transaction they roll back on the error: the ingest does
one or the other (a large file is applied while its parse worker reads it; see
``connectors.parse_worker``), so nothing is half-applied. ``parse_file(path)`` is the same
parse of a stored file; camt streams it from disk.

Bank statement formats also say what each statement block states about itself:
``read(source, options)`` returns a ``FileReading`` whose ``statements`` (one
``StatementSummary`` per block: balances, booked sums, findings) are complete once its records
are consumed. The records keep the one row shape; ``ReadOptions`` carries a connector's say
(strict balances, encoding, intraday reports as money, MT940 quirks). Formats without
statements inherit a ``read`` that wraps ``parse``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from reconciliation.model import CITY_TIMEZONE, PaymentRecord, StatementSummary
from reconciliation.money import MoneyError, parse_amount

#: How many leading bytes ``detect_format`` shows each format.
HEAD_BYTES = 4096


class FormatError(ValueError):
    """A file that cannot be taken as a whole; the message is one line saying where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ReadOptions:
    """A connector's say in how its files are read (the connectors' TOML, per connector).

    ``strict_balances`` refuses a file whose balances or batch totals disagree (by default
    the entries are read and the disagreement is a ``StatementFinding``); ``encoding`` names a text
    file's encoding where detection cannot decide (cp866 looks like cp1251 to a decoder);
    ``intraday_booked`` takes a camt.052 report's booked entries as money; ``quirks`` names
    the MT940 bank-quirk hooks to apply (``mt940_quirks``; None: the default set);
    ``timezone`` is the billing centre's (``Settings.timezone``, set by the ingest): a
    timestamped payment's business day is its calendar day there.
    """

    strict_balances: bool = False
    encoding: str | None = None
    intraday_booked: bool = False
    quirks: tuple[str, ...] | None = None
    timezone: str = CITY_TIMEZONE

    def __post_init__(self) -> None:
        if self.quirks is not None:  # from TOML or JSON: a list
            object.__setattr__(self, "quirks", tuple(self.quirks))

    def in_zone(self, timezone: str) -> ReadOptions:
        """These options with the billing centre's ``timezone`` (the ingest's settings)."""
        return replace(self, timezone=timezone)


DEFAULT_OPTIONS = ReadOptions()


@dataclass
class FileReading:
    """A file being read: ``records`` (an iterator) and ``statements``, what each statement
    block says about itself, complete once ``records`` is exhausted (formats without
    statements leave it empty)."""

    records: Iterator[PaymentRecord]
    statements: list[StatementSummary] = field(default_factory=list)


class Format:
    """Base for the format classes; subclasses set ``name`` and implement both methods.

    A statement format also overrides ``read`` (records plus statement summaries, with the
    connector's ``ReadOptions``); ``parse`` is then ``read(...).records``.
    """

    name: ClassVar[str] = ""

    def detect(self, head: bytes) -> bool:
        """True when ``head`` (the first ``HEAD_BYTES`` of a file) looks like this format."""
        raise NotImplementedError

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        """Every payment record in ``data``; raises ``FormatError`` for a bad file."""
        raise NotImplementedError

    def parse_file(self, path: Path) -> Iterator[PaymentRecord]:
        """``parse`` of a stored file; a format that can stream it from disk overrides this
        (the parse worker uses it, so a large file is never held whole in memory)."""
        return self.parse(path.read_bytes())

    def read(self, source: bytes | Path, options: ReadOptions = DEFAULT_OPTIONS) -> FileReading:
        """Records and statement summaries of a file's bytes or of a stored file."""
        if isinstance(source, Path):
            return FileReading(self.parse_file(source))
        return FileReading(self.parse(source))

    def __repr__(self) -> str:
        return f"<format {self.name}>"


def amount_or_error(text: str | None, where: str, *, allow_comma: bool = False) -> int:
    """Bani from amount text, or a ``FormatError`` that names the place of the bad amount."""
    if text is None:
        raise FormatError(f"{where}: amount missing")
    try:
        return parse_amount(text, allow_comma=allow_comma)
    except MoneyError as exc:
        raise FormatError(f"{where}: {exc}") from None


def record_digest(record: PaymentRecord) -> str:
    """sha256 of the record's canonical JSON without its id: the content that makes it *it*.

    ``extra["id_scope"]`` (e.g. the statement's account IBAN) is hashed too, so the same
    anonymous transfer reported on two different accounts' statements stays two payments.
    """
    body = record.to_json()
    body.pop("external_id")
    body["id_scope"] = str(record.extra.get("id_scope", ""))
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def derive_ids(records: Iterable[PaymentRecord]) -> Iterator[PaymentRecord]:
    """Give each record without an ``external_id`` a stable one: content hash + occurrence.

    The n-th record in a file with a given content gets ``"h:<sha256>:<n>"``, so two identical
    same-day payments both count, and parsing the same file again gives the same ids. Records
    that carry their own id pass through untouched.
    """
    seen: dict[str, int] = {}
    for record in records:
        if record.external_id:
            yield record
            continue
        digest = record_digest(record)
        n = seen.get(digest, 0) + 1
        seen[digest] = n
        yield replace(record, external_id=f"h:{digest}:{n}")


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add a format to the registry (each format module does this at import)."""
    if fmt.name in FORMATS:
        raise ValueError(f"format {fmt.name!r} is registered twice")
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    """The registered format called ``name``; ``FormatError`` naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise FormatError(f"unknown format {name!r} (known: {known})") from None


def detect_format(data: bytes) -> Format:
    """The one format whose ``detect`` accepts the file's head; refuses none or several."""
    head = data[:HEAD_BYTES]
    hits = [fmt for fmt in FORMATS.values() if _safe_detect(fmt, head)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise FormatError("unrecognised file format (use --format to name it)")
    names = ", ".join(f.name for f in hits)
    raise FormatError(f"ambiguous file format, could be any of: {names} (use --format)")


def _safe_detect(fmt: Format, head: bytes) -> bool:
    try:
        return bool(fmt.detect(head))
    except Exception:  # a detector that trips on odd bytes simply does not claim the file
        return False


def decode_text(data: bytes, where: str = "file", encoding: str | None = None) -> str:
    """Text of a legacy file: the connector's ``encoding`` when it names one; else a BOM's
    (UTF-8, UTF-16); else UTF-8 when it decodes strictly; else cp1251 or cp866, whichever
    reads as Cyrillic words (``legacy_cyrillic``).
    """
    if encoding:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except LookupError:
            raise FormatError(f"{where}: unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"{where}: not {encoding} (byte {exc.start})") from None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise FormatError(
                    f"{where}: bad {codec} after its BOM (byte {exc.start})"
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return legacy_cyrillic(data, where)


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def legacy_cyrillic(data: bytes, where: str = "file") -> str:
    """cp1251 (Windows) or cp866 (DOS) text: the one whose non-ASCII characters are mostly
    Cyrillic letters, lowercase above all; cp1251 when they read alike (a file with one
    accented name). cp866 text read as cp1251 is box-drawing and punctuation, and cp1251
    read as cp866 is mostly box-drawing, so real text decides it; a connector whose files
    are too short to tell sets ``encoding``.
    """
    best, best_score = None, -1.0
    for codec in ("cp1251", "cp866"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _cyrillic_score(text)
        if score > best_score:
            best, best_score = text, score
    if best is None:
        raise FormatError(f"{where}: neither UTF-8, cp1251 nor cp866")
    return best


def _cyrillic_score(text: str) -> float:
    high = [c for c in text if ord(c) > 127]
    if not high:
        return 0.0
    lower = sum(1 for c in high if "\u0430" <= c <= "\u044f" or c == "\u0451")
    upper = sum(1 for c in high if "\u0410" <= c <= "\u042f" or c == "\u0401")
    return (lower + 0.5 * upper) / len(high)


def xml_head(head: bytes) -> bytes | None:
    """The head of an XML file as UTF-8-ish bytes for detection (a UTF-16 file's too, with or
    without a BOM); None when it does not start like XML."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        codec = (
            "utf-16"
            if head[:2] in (b"\xff\xfe", b"\xfe\xff")
            else ("utf-16-le" if head[:1] == b"<" else "utf-16-be")
        )
        head = head[: len(head) // 2 * 2].decode(codec, "ignore").encode("utf-8")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return head if head.startswith(b"<") else None
