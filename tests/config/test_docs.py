"""Swagger UI and ReDoc are served from our own static files: no CDN, no internet."""

import re
from http import HTTPStatus

import pytest


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_only_local_assets(client, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    # Without the page's random tokens (the CSRF token, the CSP nonce), which
    # may hold "cdn" by chance.
    assert "cdn" not in re.sub(r"[A-Za-z0-9_-]{20,}", "", page).lower()
    assert "https://" not in page


def test_schema_endpoint_serves_openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["openapi"].startswith("3.")
