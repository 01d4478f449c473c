"""Inbound file formats: bytes in, ``PaymentRecord``s out (see ``base`` for the contract).

Importing this package registers every format in ``FORMATS``; ``detect_format`` picks one
from a file's first bytes and ``get_format`` looks one up by its ``--format`` name.
"""

from connectors.formats import (  # noqa: F401  (imported to register)
    camt052,
    camt053,
    camt054,
    compensation,
    mt940,
    post_registry,
    terminal,
)
from connectors.formats.base import (
    FORMATS,
    Format,
    FormatError,
    derive_ids,
    detect_format,
    get_format,
)

__all__ = ["FORMATS", "Format", "FormatError", "derive_ids", "detect_format", "get_format"]
