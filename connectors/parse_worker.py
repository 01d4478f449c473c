"""Reading a large payment file in a worker process while the gateway applies it.

A 100,000-entry statement takes a few seconds of pure-Python parsing, a sixth of its ingest;
the matching, allocation and database writes that follow need the same interpreter. So a
file of ``WORKER_MIN_BYTES`` or more is parsed by the format's own ``parse_file`` in a
separate process, which reads the raw file as stored (content-addressed, immutable) and
hands records over in batches, while the ingest applies the rounds it already has. Smaller
files are parsed in the ingest's own process, where a worker's start-up would cost more
than it saves.

The worker only reads and parses: it opens no database and changes nothing. What it finds
wrong with the file arrives as the same ``FormatError`` an in-process parse raises, after
the records before it; the ingest applies inside one transaction, so such a late error
rolls everything back and the file is quarantined as if it had failed up front. A worker
that dies without an answer is an internal failure (the file is retried on the next run).
The worker is a fresh interpreter (never a fork of a server with threads).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from connectors.formats import FormatError, get_format
from connectors.formats.base import DEFAULT_OPTIONS, FileReading, ReadOptions
from reconciliation.model import PaymentRecord, StatementSummary

#: Files at least this large are parsed in a worker process.
WORKER_MIN_BYTES = 8 << 20
#: Records per message: small enough that the first round starts soon.
BATCH = 2_000
#: How long the worker may take to exit once it has answered.
_JOIN_SECONDS = 10
_HEADER = struct.Struct("!Q")  # each message: its length, then the pickled (kind, payload)


class WorkerFailed(RuntimeError):
    """The parse worker died or broke without a verdict on the file."""


def read_in_worker(
    path: Path, fmt: str, options: ReadOptions = DEFAULT_OPTIONS, batch: int = BATCH
) -> FileReading:
    """``Format.read`` of the stored file at ``path`` in a worker: the statements arrive
    after the last record (the list is filled in place)."""
    statements: list[StatementSummary] = []
    return FileReading(parse_in_worker(path, fmt, batch, options, statements), statements)


def parse_in_worker(
    path: Path,
    fmt: str,
    batch: int = BATCH,
    options: ReadOptions = DEFAULT_OPTIONS,
    statements: list[StatementSummary] | None = None,
) -> Iterator[PaymentRecord]:
    """The records of the stored file at ``path`` in format ``fmt``, parsed in a worker.

    Raises ``FormatError`` (the file is bad) or ``WorkerFailed`` (the worker is) while
    iterating. Closing the iterator early stops the worker. The worker is a plain
    ``python -m connectors.parse_worker`` process (not ``multiprocessing``, which would
    re-import the caller's main module); a thread here reads its messages as they come, so
    it never waits on a full pipe while the ingest is busy.
    """
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.parse_worker",
            str(path),
            fmt,
            str(batch),
            json.dumps(dataclasses.asdict(options)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # a crash's traceback is for the log, never for a user
    )
    assert worker.stdout is not None and worker.stderr is not None
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    reader = threading.Thread(target=_read, args=(worker.stdout, inbox), daemon=True)
    reader.start()
    answered = False
    try:
        while (message := inbox.get()) is not None:
            kind, payload = pickle.loads(message)
            if kind == "records":
                yield from payload
                continue
            if kind == "statements":
                if statements is not None:
                    statements.extend(payload)
                continue
            answered = True
            if kind == "done":
                return
            if kind == "bad_file":
                raise FormatError(payload)
            raise WorkerFailed(f"parse worker failed: {payload}")
        raise WorkerFailed(_last_words(worker))
    finally:
        if not answered:
            worker.kill()  # abandoned mid-file: it holds nothing of value
        try:
            worker.wait(_JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()
        worker.stderr.close()


def _last_words(worker: subprocess.Popen[bytes]) -> str:
    """Why a worker ended without a verdict: its exit code and the last line it printed."""
    code = worker.wait()
    assert worker.stderr is not None
    lines = worker.stderr.read(1 << 16).decode("utf-8", "replace").strip().splitlines()
    last = f": {lines[-1][:300]}" if lines else ""
    return f"parse worker exited with code {code}{last}"


def _read(stream: IO[bytes], inbox: queue.SimpleQueue[bytes | None]) -> None:
    """Move whole messages from the worker's stdout to ``inbox``; None at the end."""
    try:
        while len(header := stream.read(_HEADER.size)) == _HEADER.size:
            (size,) = _HEADER.unpack(header)
            body = stream.read(size)
            if len(body) != size:
                break
            inbox.put(body)
    except (OSError, ValueError):  # closed under us: the iterator was abandoned
        pass
    finally:
        inbox.put(None)


def _work(path: str, fmt: str, size: int, out: IO[bytes], options: ReadOptions) -> None:
    """The worker's body: parse, send batches, then one verdict ("done" or why not)."""

    def send(kind: str, payload: object) -> None:
        body = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(body)))
        out.write(body)

    gc.disable()  # records are not cyclic; collections would walk them for nothing
    try:
        batch: list[PaymentRecord] = []
        reading = get_format(fmt).read(Path(path), options)
        for record in reading.records:
            batch.append(record)
            if len(batch) >= size:
                send("records", batch)
                batch = []
        if batch:
            send("records", batch)
        send("statements", reading.statements)
        send("done", None)
    except FormatError as exc:
        send("bad_file", str(exc))
    except Exception as exc:  # reported as a worker failure, never a traceback to a user
        send("error", f"{type(exc).__name__}: {exc}")
    out.flush()


if __name__ == "__main__":
    _options = ReadOptions(**json.loads(sys.argv[4])) if len(sys.argv) > 4 else DEFAULT_OPTIONS
    _work(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.stdout.buffer, _options)
