"""The browser tests' Chromium (``serve.CHROMIUM``, never a downloaded one)."""

from __future__ import annotations

import pytest

from tests.browser.serve import ARGS, CHROMIUM


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
