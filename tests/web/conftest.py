"""Fixtures of the web client's browser tests: one Chromium per test module, and
the fake OpenAI-compatible model the live servers answer with (so a reply can
be paced, or say what a test needs)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.fake_openai import Behaviour, FakeOpenAI
from tests.web.browser import DESKTOP, chromium


# Per module, not per run: Playwright's sync API keeps an event loop running
# in this thread until it stops, and the database tests that a test process
# (an xdist worker) runs after these would take it for async code's.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile: its own storage, as a new visitor has."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture(scope="session")
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _default_behaviour(request: pytest.FixtureRequest) -> None:
    if "model" in request.fixturenames:
        request.getfixturevalue("model").behaviour = Behaviour()
