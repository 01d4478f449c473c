"""``gateway parse FILE [--format auto|NAME]``: print a file's records as JSON lines.

After the records, one line ``{"type": "finding", ...}`` per disagreement the file states
about itself (balances, batch totals), which the ingest stores as a statement finding;
record lines have no ``type`` key and are unchanged. ``--statements`` (or a file holding no
money, such as an intraday report) also prints one ``{"type": "statement", ...}`` line per
statement block: balances, booked sums and count, as the ingest stores them.

Touches no database and no archive: it is how an operator looks at what the gateway would
read from a file before ingesting it. A bad file gives one line on stderr and exit code 2,
never a traceback, because the people running it are accountants and on-call staff.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from connectors.formats import FormatError, detect_format, get_format
from connectors.formats.base import DEFAULT_OPTIONS, ReadOptions

EXIT_BAD_FILE = 2


def run(
    path: str,
    fmt: str = "auto",
    *,
    options: ReadOptions = DEFAULT_OPTIONS,
    statements: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Parse ``path`` with ``fmt`` (or the detected format); 0 on success, 2 on a bad file.

    All records are parsed before the first is printed, so a file refused late (a control
    total on the last line) prints nothing but the error.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"error: {path}: cannot read ({exc.strerror or exc})", file=err)
        return EXIT_BAD_FILE
    try:
        parser = detect_format(data) if fmt == "auto" else get_format(fmt)
        reading = parser.read(data, options)
        records = list(reading.records)
    except FormatError as exc:
        print(f"error: {path}: {exc}", file=err)
        return EXIT_BAD_FILE
    if not records and reading.statements:
        kinds = ", ".join(sorted({st.kind.value for st in reading.statements}))
        print(f"note: {path}: information only ({kinds}), no booked money", file=err)
    try:
        for record in records:
            out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        lines = []
        if statements or not records:
            lines += [st.to_json() for st in reading.statements]
        lines += [f.to_json(st.statement_id) for st in reading.statements for f in st.findings]
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:  # `gateway parse F | head`: the reader left, which is fine
        _silence_stdout()
    return 0


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests pass a StringIO)
        pass
    finally:
        os.close(devnull)
