"""Sentry (config/settings/observability.py): on with SENTRY_DSN, off without.

Each case starts the app's settings in a process of its own, as a server
does; with a DSN, the reports go to a stand-in for Sentry on loopback.
"""

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.server import ROOT

PROBE = """
import json, logging, sys
import django
django.setup()
import sentry_sdk
client = sentry_sdk.get_client()
print(json.dumps({
    "initialized": sentry_sdk.is_initialized(),
    "options": {k: client.options.get(k) for k in (
        "environment", "send_default_pii", "max_request_body_size", "include_local_variables",
        "traces_sample_rate")},
}))
logging.getLogger("tests.sentry").error("probe failure number %s", 7)
sentry_sdk.flush(10)
"""

NOT_IMPORTED = """
import sys
import django
django.setup()
print("sentry_sdk" in sys.modules)
"""


def run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


class FakeSentry(ThreadingHTTPServer):
    envelopes: list[tuple[str, list[dict[str, object]]]]


class Handler(BaseHTTPRequestHandler):
    server: FakeSentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = [json.loads(line) for line in body.splitlines() if line.startswith(b"{")]
        self.server.envelopes.append((self.path, items))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    server = FakeSentry(("127.0.0.1", 0), Handler)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_without_a_dsn_sentry_is_not_even_imported():
    assert run(NOT_IMPORTED).strip() == "False"


def test_with_a_dsn_errors_are_reported_without_bodies_locals_or_personal_data(sentry):
    port = sentry.server_address[1]

    output = run(PROBE, SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42")

    probe = json.loads(output.splitlines()[0])
    assert probe["initialized"] is True
    assert probe["options"] == {
        "environment": "production",
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "traces_sample_rate": 0.0,
    }
    reports = [
        item
        for path, items in sentry.envelopes
        if path == "/api/42/envelope/"
        for item in items
        if item.get("logentry")
    ]
    assert len(reports) == 1
    assert reports[0]["logentry"]["message"] == "probe failure number %s"
    assert reports[0]["level"] == "error"
    assert reports[0]["environment"] == "production"
