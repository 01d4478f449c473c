"""HTTP feed connector against a real local HTTP server (http.server in a thread).

The feed has three pages chained by cursors. Covers: all pages ingested in order and the
cursor stored; the cursor moves only after the page's ingest committed; a server error in
the middle keeps the cursor at the last ingested page and a re-run continues from there;
transient errors are retried; a refused token stops at once; an idle feed is not an error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from connectors.config import ConnectorConfig
from connectors.pull import PullFailed, pull_one
from connectors.sources.http import pull_feed, read_cursor
from fixtures.writers.terminal import TerminalTxn, write_terminal_page
from gateway.services.ingest import IngestResult, ingest_bytes

CHISINAU = timezone(timedelta(hours=2))
TOKEN = "feed-token-for-tests"


def page(n: int, since: str, next_cursor: str, has_more: bool) -> bytes:
    txns = [
        TerminalTxn(
            txn_id=f"T{n}-{i}",
            account="1234567-4",
            amount=1000 * n + i,
            paid_at=datetime(2026, 11, 20, 9, n, i, tzinfo=CHISINAU),
        )
        for i in range(2)
    ]
    return write_terminal_page(
        txns, operator="paynet", cursor=since, next_cursor=next_cursor, has_more=has_more
    )


class Feed:
    """The operator's side: pages by ``since``, scripted failures, and a request log."""

    def __init__(self) -> None:
        self.pages = {
            None: page(1, "0", "c1", True),
            "c1": page(2, "c1", "c2", True),
            "c2": page(3, "c2", "c3", False),
            "c3": write_terminal_page([], operator="paynet", cursor="c3", next_cursor="c3"),
        }
        self.fail: dict[str | None, list[int]] = {}  # since -> statuses to answer first
        self.requests: list[str | None] = []
        self.auth: list[str | None] = []
        self.lock = threading.Lock()

    def answer(self, since: str | None, auth: str | None) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(since)
            self.auth.append(auth)
            if auth != f"Bearer {TOKEN}":
                return 401, b'{"error": "unauthorised"}'
            if self.fail.get(since):
                return self.fail[since].pop(0), b'{"error": "try later"}'
        return (200, self.pages[since]) if since in self.pages else (400, b"{}")


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            since = query["since"][0] if "since" in query else None
            status, body = state.answer(since, self.headers.get("Authorization"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1/transactions"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def connector(url: str, **extra: object) -> ConnectorConfig:
    values: dict = {
        "name": "paynet",
        "kind": "http",
        "base_url": url,
        "token": TOKEN,
        "attempts": 3,
        "backoff": 0.01,
        "timeout": 5.0,
    }
    values.update(extra)
    return ConnectorConfig(**values)


def test_all_pages_ingested_in_order_and_cursor_stored(engine, settings, feed) -> None:
    state, url = feed
    results = pull_one(engine, settings, connector(url))

    assert [r.status for r in results] == ["applied"] * 3
    assert [r.records for r in results] == [2, 2, 2]
    assert [r.filename for r in results] == [
        "paynet-since-start.json",
        "paynet-since-c1.json",
        "paynet-since-c2.json",
    ]
    assert state.requests == [None, "c1", "c2"]
    assert set(state.auth) == {f"Bearer {TOKEN}"}
    assert read_cursor(engine, "paynet") == "c3"


def test_caught_up_feed_is_quiet_and_rerun_adds_nothing(engine, settings, feed) -> None:
    state, url = feed
    c = connector(url)
    pull_one(engine, settings, c)
    state.requests.clear()

    assert pull_one(engine, settings, c) == []  # an empty page is not a quarantined file
    assert state.requests == ["c3"]
    assert read_cursor(engine, "paynet") == "c3"


def test_cursor_moves_only_after_the_page_ingest_committed(engine, settings, feed) -> None:
    _state, url = feed
    c = connector(url)
    seen: list[str | None] = []

    def ingest(data: bytes, filename: str) -> IngestResult:
        seen.append(read_cursor(engine, c.name))  # what is stored while this page is ingested
        if filename.endswith("since-c1.json"):
            raise RuntimeError("database went away during ingest")
        return ingest_bytes(
            engine, settings, data, filename=filename, source=c.name, fmt="terminal"
        )

    results: list[IngestResult] = []
    with pytest.raises(RuntimeError, match="went away"):
        pull_feed(engine, c, ingest, results)

    assert seen == [None, "c1"]  # page 1's cursor was stored only after page 1 was in
    assert read_cursor(engine, c.name) == "c1"  # page 2 failed: its cursor never stored
    assert [r.status for r in results] == ["applied"]


def test_server_error_midway_keeps_cursor_and_rerun_continues(engine, settings, feed) -> None:
    state, url = feed
    c = connector(url)
    state.fail["c2"] = [500, 503, 502]  # more failures than attempts

    with pytest.raises(PullFailed, match=r"page since=c2: gave up after 3 attempts: HTTP 502") as e:
        pull_one(engine, settings, c)
    assert [r.status for r in e.value.results] == ["applied", "applied"]
    assert read_cursor(engine, c.name) == "c2"
    assert state.requests == [None, "c1", "c2", "c2", "c2"]

    state.requests.clear()
    results = pull_one(engine, settings, c)  # the operator's server is back

    assert state.requests == ["c2"]  # continues where it stopped, nothing re-read
    assert [(r.filename, r.status) for r in results] == [("paynet-since-c2.json", "applied")]
    assert read_cursor(engine, c.name) == "c3"


def test_transient_errors_are_retried_within_the_run(engine, settings, feed) -> None:
    state, url = feed
    state.fail["c1"] = [503]
    results = pull_one(engine, settings, connector(url))
    assert [r.status for r in results] == ["applied"] * 3
    assert state.requests == [None, "c1", "c1", "c2"]


def test_refused_token_stops_at_once_with_a_clear_reason(engine, settings, feed) -> None:
    state, url = feed
    with pytest.raises(PullFailed, match=r"feed answered HTTP 401 \(check the token\)"):
        pull_one(engine, settings, connector(url, token="wrong"))
    assert state.requests == [None]  # not retried
    assert read_cursor(engine, "paynet") is None
