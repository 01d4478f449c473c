"""camt.052 bank-to-customer account report: intraday, so information unless a
connector sets ``intraday_booked`` (001.02 to 001.13); see ``camt`` for the rules."""

from __future__ import annotations

from connectors.formats.base import register
from connectors.formats.camt import CamtFormat


class Camt052Format(CamtFormat):
    name = "camt052"
    kind = "052"


CAMT052 = register(Camt052Format())
