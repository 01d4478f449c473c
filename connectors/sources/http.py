"""HTTP source: a terminal operator's paged JSON feed, read from a stored cursor.

``GET {base_url}?since=<cursor>`` answers one page ``{"operator", "cursor", "next_cursor",
"has_more", "transactions": [...]}`` (schemas/formats/terminal_feed.md). Each page's bytes are
ingested as one file (format "terminal"), and only after that ingest has committed is the
page's ``next_cursor`` stored in ``connector_state``. A crash or an error between the two
leaves the old cursor, so the page is fetched again and ingest calls it a duplicate: pages
are never skipped, and re-reading one is harmless.

The first request of a connector that has no stored cursor carries no ``since`` (the feed's
beginning). Transport errors, 429 and 5xx are retried with exponential back-off (bounded);
any other status is a clear refusal. The bearer token is sent, never logged.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

import httpx
import structlog
from sqlalchemy import Engine, select, update

from connectors.config import ConnectorConfig
from connectors.sources.base import Retryable, Sleep, SourceError, retrying
from gateway.services.ingest import IngestResult
from schemas.tables import connector_state

log = structlog.get_logger(__name__)

#: ingest(page bytes, filename) -> result; pull.py passes ingest_bytes with the connector bound
IngestPage = Callable[[bytes, str], IngestResult]
MAX_PAGES = 10_000  # per run: a feed that never says has_more=false must not spin forever
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class PageNav:
    """What the loop needs from a page: where the next one starts and whether it exists."""

    next_cursor: str | None
    has_more: bool


class HttpFeed:
    """An HTTP client for one feed; ``page(cursor)`` returns one page's exact bytes."""

    def __init__(
        self,
        connector: ConnectorConfig,
        *,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.c = connector
        self.sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": "plata-gateway"}
        token = connector.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            headers=headers, timeout=connector.timeout, transport=transport, follow_redirects=False
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def page(self, cursor: str | None) -> bytes:
        label = f"connector {self.c.name}: page since={cursor or '(start)'}"
        return retrying(
            label, self.c.attempts, self.c.backoff, self.sleep, lambda _n: self._get(cursor)
        )

    def _get(self, cursor: str | None) -> bytes:
        params = {"since": cursor} if cursor is not None else {}
        try:
            response = self.client.get(self.c.base_url or "", params=params)
            body = response.read()
        except httpx.TransportError as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in RETRY_STATUS:
            raise Retryable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            hint = " (check the token)" if response.status_code in (401, 403) else ""
            raise SourceError(
                f"connector {self.c.name}: feed answered HTTP {response.status_code}{hint}"
            )
        return body


def pull_feed(
    engine: Engine,
    connector: ConnectorConfig,
    ingest: IngestPage,
    results: list[IngestResult],
    *,
    feed: HttpFeed | None = None,
) -> None:
    """Read pages from the stored cursor until ``has_more`` is false; results appended."""
    cursor = read_cursor(engine, connector.name)
    with feed or HttpFeed(connector) as client:
        for _ in range(MAX_PAGES):
            data = client.page(cursor)
            if _is_empty_page(data):
                log.info("http.empty_page", connector=connector.name, cursor=cursor)
            else:
                result = ingest(data, page_filename(connector.name, cursor))
                results.append(result)
                if result.status not in ("applied", "duplicate"):
                    return  # quarantined: the cursor stays, the operator sees why
            nav = page_nav(connector.name, data)
            if nav.next_cursor is not None:
                save_cursor(engine, connector.name, nav.next_cursor)
            if not nav.has_more:
                return
            if nav.next_cursor is None or nav.next_cursor == cursor:
                raise SourceError(f"connector {connector.name}: has_more without a new next_cursor")
            cursor = nav.next_cursor
    raise SourceError(f"connector {connector.name}: more than {MAX_PAGES} pages in one run")


def _is_empty_page(data: bytes) -> bool:
    """A well-formed page with no transactions: a caught-up feed, nothing to ingest.

    Ingest would quarantine it ("no records"), so an idle feed would look broken every poll.
    Anything not clearly such a page goes to ingest, which quarantines it with the reason.
    """
    try:
        page = json.loads(data)
    except ValueError:
        return False
    return isinstance(page, dict) and page.get("transactions") == []


def page_nav(connector: str, data: bytes) -> PageNav:
    """The paging fields of a page that ingest accepted, or of an empty page."""
    try:
        page = json.loads(data)
        next_cursor = page.get("next_cursor")
        has_more = page.get("has_more", False)
    except (ValueError, AttributeError):
        raise SourceError(f"connector {connector}: page is not a JSON object") from None
    if next_cursor is not None and not isinstance(next_cursor, str | int):
        raise SourceError(f"connector {connector}: next_cursor is not a string")
    if not isinstance(has_more, bool):
        raise SourceError(f"connector {connector}: has_more is not true/false")
    return PageNav(None if next_cursor is None else str(next_cursor), has_more)


def page_filename(connector: str, cursor: str | None) -> str:
    """A readable name for the stored page (the store itself is keyed by sha256)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", cursor or "start")[:80]
    return f"{connector}-since-{safe}.json"


def read_cursor(engine: Engine, connector: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(connector_state.c.cursor).where(connector_state.c.connector == connector)
        ).scalar_one_or_none()


def save_cursor(engine: Engine, connector: str, cursor: str) -> None:
    """Store the cursor (update, else insert): called only after the page's ingest committed."""
    now = datetime.now(UTC)
    t = connector_state
    with engine.begin() as conn:
        done = conn.execute(
            update(t).where(t.c.connector == connector).values(cursor=cursor, updated_at=now)
        ).rowcount
        if not done:
            conn.execute(t.insert().values(connector=connector, cursor=cursor, updated_at=now))
    log.info("http.cursor_saved", connector=connector, cursor=cursor)
