"""The web client in a real headless Chromium (Debian's package), driven by
Playwright for Python: one tab of the client and what the tests watch in it.

Playwright drives the system's Chromium through `executable_path`; it never
downloads a browser of its own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    ViewportSize,
    sync_playwright,
)

from tests.chromium import CHROMIUM, FLAGS
from tests.fake_openai import FakeOpenAI

# Every Content-Security-Policy violation the page raises, as the page sees
# it (the securitypolicyviolation event). The script is added by the DevTools
# protocol, outside the page's own policy.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective}: ${event.blockedURI}`);
});
"""

# Every module here: pytestmark = BROWSER_TESTS.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.live_server_process,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium); make test-browser needs it",
    ),
]


DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        # Playwright adds its own headless flag.
        args = [flag for flag in FLAGS if flag != "--headless"]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A tab of the web client, and what it did: console lines, dialogs,
    CSP violations, and the refresh tokens it presented."""

    page: Page
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    refreshes: list[str] = field(default_factory=list)
    # The refresh tokens the server gave it.
    issued: list[str] = field(default_factory=list)
    # How many of its requests were refused 401 (an expired access token).
    refused: int = 0

    def stored_refresh(self) -> str | None:
        """The refresh token the client keeps (in IndexedDB: web/store.js)."""
        token: str | None = self.page.evaluate(
            "async () => (await import('/store.js')).readRefreshToken()"
        )
        return token

    def violations(self) -> list[str]:
        seen: list[str] = self.page.evaluate("window.__violations")
        logged = [line for line in self.console if "Content Security Policy" in line]
        return [*seen, *logged]

    def _on_request(self, request: Request) -> None:
        if request.url.endswith("/api/v1/auth/refresh/") and request.method == "POST":
            body = request.post_data_json
            assert isinstance(body, dict)
            self.refreshes.append(body["refresh"])


def _on_response(tab: Tab, response: Response) -> None:
    if response.status == 401:
        tab.refused += 1
    elif response.url.endswith("/api/v1/auth/refresh/") and response.ok:
        tab.issued.append(response.json()["refresh"])


def open_tab(context: BrowserContext, url: str, *, accept_dialogs: bool = False) -> Tab:
    page = context.new_page()
    tab = Tab(page)
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        if accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", tab._on_request)
    page.on("response", lambda response: _on_response(tab, response))
    page.goto(url)
    return tab


def model_env(model: FakeOpenAI, **env: str) -> dict[str, Any]:
    return {
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": model.base_url,
        "AI_API_KEY": "x",
        "AI_MODEL": "m",
        "AI_TIMEOUT_SECONDS": "60",
        **env,
    }
