"""The bank API's route handlers, collected for ``create_app``."""

from __future__ import annotations


def handlers() -> list:
    return []
