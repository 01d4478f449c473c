"""Pure helpers of the file sources: names taken, archive names, back-off, retries."""

from __future__ import annotations

import pytest

from connectors.sources.base import (
    Retryable,
    SourceError,
    backoff_delays,
    is_candidate,
    retrying,
    unique_name,
)
from connectors.sources.http import page_filename


def test_in_progress_and_hidden_files_are_not_taken() -> None:
    assert is_candidate("stmt-20261120.xml")
    for name in (".stmt.xml", "stmt.xml.part", "STMT.XML.TMP", "a.filepart", "b.crdownload"):
        assert not is_candidate(name), name


def test_archive_name_gets_the_hash_only_when_taken() -> None:
    assert unique_name("stmt.xml", "ab" * 32, lambda _n: False) == "stmt.xml"
    assert unique_name("stmt.xml", "ab" * 32, lambda n: n == "stmt.xml") == "stmt.abababababab.xml"
    assert unique_name("README", "cd" * 32, lambda _n: True) == "README.cdcdcdcdcdcd"


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff_delays(1, 1.0) == []
    assert backoff_delays(5, 1.0) == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delays(10, 30.0)[-1] == 60.0


def test_retrying_sleeps_between_tries_and_names_what_failed() -> None:
    slept: list[float] = []
    tries: list[int] = []

    def flaky(attempt: int) -> str:
        tries.append(attempt)
        if attempt < 2:
            raise Retryable("connection reset")
        return "ok"

    assert retrying("connector x: fetch a", 4, 0.5, slept.append, flaky) == "ok"
    assert (tries, slept) == ([0, 1, 2], [0.5, 1.0])

    def broken(_attempt: int) -> str:
        raise Retryable("HTTP 503")

    with pytest.raises(SourceError, match="connector x: page: gave up after 3 attempts: HTTP 503"):
        retrying("connector x: page", 3, 0.0, slept.append, broken)


def test_page_filenames_are_safe() -> None:
    assert page_filename("paynet", None) == "paynet-since-start.json"
    assert (
        page_filename("paynet", "2026-11-20T10:00/../x")
        == "paynet-since-2026-11-20T10_00_.._x.json"
    )
