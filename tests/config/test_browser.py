"""Swagger UI and ReDoc, rendered by a real browser against a real server.

The docs must work with no internet: the page, its scripts and styles all
come from our own static files, and the browser's network is our loopback.
"""

from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, dump_dom
from tests.server import live_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium); make test-browser needs it",
    ),
]


def render(url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts have run."""
    result = dump_dom(url, tmp_path)
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
