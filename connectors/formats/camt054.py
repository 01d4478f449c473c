"""camt.054 debit/credit notification (001.02 to 001.13); see ``camt`` for the rules."""

from __future__ import annotations

from connectors.formats.base import register
from connectors.formats.camt import CamtFormat


class Camt054Format(CamtFormat):
    name = "camt054"
    kind = "054"


CAMT054 = register(Camt054Format())
