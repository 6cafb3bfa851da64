"""The web client's files (web/) as the server sends them: at `/`, with a
Content-Security-Policy of their own, revalidated on every load; and what the
files themselves may hold (nothing from another site, no inline script or
style, no HTML parsed from strings). The browser tests are in tests/web/."""

import re
from pathlib import Path

import pytest
from django.test import Client

from api.csp import WEB_CLIENT_PATHS
from tests.config.test_csp import policy

WEB = Path(__file__).resolve().parents[2] / "web"
SCRIPTS = sorted(WEB.glob("*.js"))

WEB_CLIENT_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
    "require-trusted-types-for": "'script'",
    "trusted-types": "'none'",
}


def test_the_root_serves_the_client_under_its_own_policy():
    response = Client().get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="/app.js"></script>' in b"".join(response)
    assert policy(response) == WEB_CLIENT_POLICY
    assert response["Cache-Control"] == "no-cache"
    assert {"/"} == WEB_CLIENT_PATHS


@pytest.mark.parametrize("name", ["app.js", "sse.js", "app.css", "favicon.svg"])
def test_its_files_are_served_and_revalidated(name):
    response = Client().get(f"/{name}")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_index_html_redirects_to_the_root():
    response = Client().get("/index.html")

    assert response.status_code == 302
    assert response["Location"] == "./"


def test_every_module_it_imports_is_there():
    for script in SCRIPTS:
        for imported in re.findall(r'from "\./([\w.-]+)"', script.read_text()):
            assert (WEB / imported).is_file(), f"{script.name} imports {imported}"


def test_nothing_is_loaded_from_another_site():
    for path in WEB.iterdir():
        text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?:|//[a-z]", text), path.name


def test_the_page_has_no_inline_script_or_style():
    page = (WEB / "index.html").read_text()

    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r" on[a-z]+=", page)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_parses_a_string_as_html(script):
    sinks = (
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment"
    )

    assert not re.search(sinks, script.read_text())
