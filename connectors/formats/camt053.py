"""camt.053 bank-to-customer statement (001.02 to 001.13); see ``camt`` for the rules."""

from __future__ import annotations

from connectors.formats.base import register
from connectors.formats.camt import CamtFormat


class Camt053Format(CamtFormat):
    name = "camt053"
    kind = "053"


CAMT053 = register(Camt053Format())
