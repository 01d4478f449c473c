"""The queue's read side: filters, folded search, sorts and keyset paging, and its page."""

from __future__ import annotations

from datetime import date

from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.services.review_queue import AgeBucket, QueueFilter, QueueSort, list_queue
from reconciliation.review import ReasonCode
from tests.workspace.kit import A1, sign_in

TODAY = date(2026, 11, 21)


def _ids(engine: Engine, **kw) -> list[int]:
    return [r.item_id for r in list_queue(engine, QueueFilter(**kw), today=TODAY).rows]


def test_filters_narrow_the_queue(engine: Engine, queue_ids: dict[str, int]) -> None:
    assert len(_ids(engine)) == 5
    assert _ids(engine, reason=ReasonCode.NAME_ONLY) == [queue_ids["NAME_ONLY"]]
    assert _ids(engine, amount_min=40000, amount_max=60000) == [queue_ids["MULTIPLE_ACCOUNTS"]]
    assert set(_ids(engine, day_from=date(2026, 11, 19))) == {
        queue_ids[r] for r in ("CHECK_DIGIT_FAILED", "ACCOUNT_CLOSED", "MULTIPLE_ACCOUNTS")
    }
    assert _ids(engine, age=AgeBucket.OVER_7) == [queue_ids["NAME_ONLY"]]  # 2026-11-12
    assert _ids(engine, age=AgeBucket.D4_7) == [queue_ids["NO_REFERENCE"]]  # 2026-11-17
    assert _ids(engine, channel="post") == []
    assert len(_ids(engine, source="maib-statement")) == 5


def test_search_folds_diacritics_case_and_scripts(engine: Engine, queue_ids) -> None:
    name_only = queue_ids["NAME_ONLY"]
    assert _ids(engine, q="Соколов") == [name_only]  # Cyrillic finds the Latin payer too
    assert _ids(engine, q="socolov iurii") == [name_only]
    assert _ids(engine, q="дачия") == [name_only]
    assert _ids(engine, q="ȚURCANU") == [queue_ids["MULTIPLE_ACCOUNTS"]]
    assert _ids(engine, q="MD11MO2224") == [name_only]  # part of an IBAN
    assert _ids(engine, q="% _") == _ids(engine)  # punctuation folds away, never a wildcard


def test_sorts_and_keyset_pages_cover_every_item_once(engine: Engine, queue_ids) -> None:
    for sort in QueueSort:
        seen: list[int] = []
        after = None
        while True:
            page = list_queue(engine, QueueFilter(sort=sort, limit=2, after=after), today=TODAY)
            assert page.total == 5
            seen += [r.item_id for r in page.rows]
            after = page.next_cursor
            if after is None:
                break
        assert sorted(seen) == sorted(queue_ids.values()), sort
    amounts = [r.amount for r in list_queue(
        engine, QueueFilter(sort=QueueSort.AMOUNT_DESC), today=TODAY).rows]  # fmt: skip
    assert amounts == sorted(amounts, reverse=True)
    best = list_queue(engine, QueueFilter(sort=QueueSort.SCORE, limit=1), today=TODAY).rows[0]
    assert best.item_id == queue_ids["CHECK_DIGIT_FAILED"]
    assert best.best is not None and best.best.account_no == A1
    assert best.best.payer_name == "Ion Popescu" and best.age_days == 2


def test_queue_page_shows_each_item_with_its_reason_in_words(client: TestClient) -> None:
    sign_in(client, "vic")
    page = client.get("/app/queue")
    assert page.status_code == 200
    assert "The account number fails its check digit." in page.text
    assert "camt053_20261120.xml" in page.text and "380.00" in page.text
    partial = client.get("/app/queue?q=socolov", headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "Iurii Socolov" in partial.text
    assert "Ion Popescu" not in partial.text
