from http import HTTPStatus

import pytest
from django.db import DatabaseError
from django.test import override_settings

from tests.assertions import error_codes


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/nope/",
        "/api/v2/chat/",
        "/api/v1/chat",
        # A line break in a path id: "." in a URL pattern does not match it.
        "/api/v1/conversations/a%0Ab/",
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_get_a_json_404(client, path, debug):
    with override_settings(DEBUG=debug):
        response = client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }


def broken_cursor(*args, **kwargs):
    raise DatabaseError("connection refused")


@pytest.mark.django_db
def test_healthz_answers_while_the_process_does(client):
    response = client.get("/healthz/")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_healthz_is_liveness_and_checks_no_dependency(client, monkeypatch, cache_down):
    # A database or cache outage must not get every process restarted.
    monkeypatch.setattr("api.views.connection.cursor", broken_cursor)

    response = client.get("/healthz/")

    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_readyz_answers_once_the_database_and_the_cache_do(client):
    # Credentials are ignored: a load balancer sends none, a bad one is no reason to fail.
    response = client.get("/readyz/", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_readyz_is_not_rate_limited(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.THROTTLE_RATES, "1/min"),
    }

    assert {client.get("/readyz/").status_code for _ in range(5)} == {HTTPStatus.OK}


def test_readyz_names_the_database_when_it_does_not_answer(client, monkeypatch):
    monkeypatch.setattr("api.views.connection.cursor", broken_cursor)

    response = client.get("/readyz/")

    assert_unavailable(response, ["database"])


@pytest.mark.django_db
def test_readyz_names_the_cache_when_it_does_not_answer(client, cache_down):
    assert_unavailable(client.get("/readyz/"), ["cache"])


def test_readyz_names_both_when_neither_answers(client, monkeypatch, cache_down):
    monkeypatch.setattr("api.views.connection.cursor", broken_cursor)

    assert_unavailable(client.get("/readyz/"), ["database", "cache"])


def assert_unavailable(response, names: list[str]) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["type"] == "server_error"
    assert error_codes(response) == [(name, "service_unavailable") for name in names]
    assert int(response.headers["Retry-After"]) > 0


def test_method_not_allowed_uses_the_error_format(api_client):
    response = api_client.delete("/api/v1/auth/register/")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert error_codes(response) == [(None, "method_not_allowed")]


def test_malformed_json_is_a_parse_error(api_client):
    response = api_client.post("/api/v1/auth/login/", "{not json", content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [(None, "parse_error")]


def test_a_form_body_is_415(api_client):
    response = api_client.post("/api/v1/auth/login/", {"username": "a", "password": "b"})

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert error_codes(response) == [(None, "unsupported_media_type")]


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"username": "a", "password": "%s"}' % ("x" * 2000)

    response = api_client.post("/api/v1/auth/login/", body, content_type="application/json")

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert error_codes(response) == [(None, "request_too_large")]


def test_the_default_body_limit_is_256_kib(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 256 * 1024


@pytest.mark.parametrize("debug", [False, True])
def test_deeply_nested_json_is_a_parse_error(api_client, debug):
    body = '{"username": ' + "[" * 100_000 + "]" * 100_000 + "}"

    with override_settings(DEBUG=debug):
        response = api_client.post("/api/v1/auth/login/", body, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [(None, "parse_error")]


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.django_db
def test_health_checks_answer_plain_http_when_everything_else_redirects(client):
    assert client.get("/healthz/").status_code == HTTPStatus.OK
    assert client.get("/readyz/").status_code == HTTPStatus.OK
    assert client.get("/api/v1/balance/").status_code == HTTPStatus.MOVED_PERMANENTLY


@pytest.mark.parametrize("accept", ["", "*/*", "application/json", "application/json, */*;q=0.8"])
def test_json_is_served_for_the_accept_headers_clients_send(api_client, accept):
    response = api_client.get("/api/v1/balance/", HTTP_ACCEPT=accept)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.headers["Content-Type"] == "application/json"


def test_an_accept_header_without_json_is_406(api_client):
    response = api_client.get("/api/v1/balance/", HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert error_codes(response) == [(None, "not_acceptable")]


@pytest.mark.parametrize("accept", ["*/*", "application/json;q=1"])
def test_an_unknown_format_override_is_404_whatever_the_accept_header(api_client, accept):
    response = api_client.get("/api/v1/balance/", {"format": "xml"}, HTTP_ACCEPT=accept)

    assert response.status_code == HTTPStatus.NOT_FOUND
