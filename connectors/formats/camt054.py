"""camt.054 debit/credit notification (001.02 / 001.04 / 001.08); see ``camt`` for the rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from connectors.formats.base import Format, register
from connectors.formats.camt import CamtDocument
from reconciliation.model import PaymentRecord

_NS = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.054\.")


class Camt054Format(Format):
    name = "camt054"

    def detect(self, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and _NS.search(head) is not None

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return CamtDocument(data, expect_kind="054").records()

    def parse_file(self, path: Path) -> Iterator[PaymentRecord]:
        return CamtDocument(path, expect_kind="054").records()


CAMT054 = register(Camt054Format())
