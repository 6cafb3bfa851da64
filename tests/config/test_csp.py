"""A Content-Security-Policy on every response: the strictest for the API, and
for the pages (admin, Swagger UI, ReDoc) one they work under with no inline
script but their own, by nonce. A real Chromium loads each page and must
report no violation."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from tests.chromium import CHROMIUM, dump_dom
from tests.server import live_server

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium); make test-browser needs it",
)

API_POLICY = {
    "default-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}
PAGES = ["/api/docs/", "/api/redoc/", "/admin/login/"]


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return dict(directives)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/balance/", "/api/v1/no-such-thing/", "/api/schema/", "/healthz/"]
)
def test_the_api_answers_with_the_strictest_policy(auth_client, path):
    response = auth_client.get(path)

    assert policy(response) == API_POLICY


@pytest.mark.django_db
def test_errors_and_token_responses_carry_it_too(api_client, user):
    login = api_client.post(reverse("auth-login"), {"username": user.username}, format="json")

    assert policy(login) == API_POLICY


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_only_this_sites_files_and_their_nonce(path):
    response = Client().get(path)

    directives = policy(response)
    # A nonce only where the page has a script of its own to allow.
    allowed = re.fullmatch(r"'self'( 'nonce-([A-Za-z0-9+/=]+)')?", directives["script-src"])
    assert allowed, directives["script-src"]
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    # Every inline script on the page carries this response's nonce.
    page = response.content.decode()
    for script in re.findall(r"<script[^>]*>", page):
        assert "src=" in script or f'nonce="{allowed.group(2)}"' in script, script


@pytest.mark.django_db
def test_a_nonce_serves_one_response_only():
    first, second = (policy(Client().get("/api/docs/"))["script-src"] for _ in range(2))

    assert first != second


@pytest.mark.django_db
def test_swagger_ui_does_not_keep_the_token():
    page = Client().get("/api/docs/").content.decode()

    assert '"persistAuthorization": false' in page


# --- in a real browser ---------------------------------------------------------


def browse(url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and what it wrote to the console
    (where Chromium reports every Content-Security-Policy violation)."""
    result = dump_dom(url, tmp_path, "--enable-logging=stderr", "--v=0")
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def violations(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("csp"), collect_static=True) as running:
        yield running


@pytest.mark.browser
@needs_chromium
def test_the_browser_reports_violations_to_this_test(tmp_path):
    meta = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    page = f"{meta}<script>1</script>"

    _, console = browse(f"data:text/html,{quote(page)}", tmp_path)

    assert violations(console)


@pytest.mark.browser
@needs_chromium
@pytest.mark.live_server_process
@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/docs/", "Send a message"),
        ("/api/redoc/", "Send a message"),
        ("/admin/login/", 'name="password"'),
    ],
)
def test_pages_work_in_a_browser_without_a_violation(server, tmp_path, path, rendered):
    dom, console = browse(f"{server.url}{path}", tmp_path)

    assert rendered in dom
    assert violations(console) == []
