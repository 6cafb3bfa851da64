"""Swagger UI and ReDoc, rendered by a real browser against a real server.

The docs must work with no internet: the page, its scripts and styles all
come from our own static files, and the browser's network is our loopback.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium); make test-browser needs it",
    ),
]


def render(url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts have run."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("docs"), collect_static=True) as running:
        yield running


def test_swagger_ui_renders_every_operation_offline(server, tmp_path):
    dom = render(f"{server.url}/api/docs/", tmp_path)

    assert 'class="swagger-ui' in dom
    assert "Metered AI Chat API" in dom
    for summary in ("Register", "Log in", "Send a message", "Token ledger"):
        assert summary in dom
    assert "Authorize" in dom


def test_redoc_renders_offline(server, tmp_path):
    dom = render(f"{server.url}/api/redoc/", tmp_path)

    assert "redoc-wrap" in dom or "api-content" in dom
    assert "Send a message" in dom
