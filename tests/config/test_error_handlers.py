"""Django's own 400 and 500 (config/urls.py's handlers) in each part's error
format: api.views under /api/, conversations.openai_compat.errors under /v1/."""

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/balance/", "/api/v1/auth/login/"])
def test_a_host_not_allowed_gets_the_api_s_error_format(path):
    response = Client(HTTP_HOST="evil.example").get(path)

    assert response.status_code == 400
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "bad_request", "detail": "Bad request.", "attr": None}],
    }


def test_a_host_not_allowed_gets_openai_s_error_format_under_v1():
    response = Client(HTTP_HOST="evil.example").get("/v1/models")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["code"] == "bad_request"


def test_a_host_not_allowed_gets_django_s_page_elsewhere():
    response = Client(HTTP_HOST="evil.example").get("/admin/login/")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/chat/",
            {
                "type": "server_error",
                "errors": [{"code": "error", "detail": "A server error occurred.", "attr": None}],
            },
        ),
        (
            "/v1/chat/completions",
            {
                "error": {
                    "message": "A server error occurred.",
                    "type": "server_error",
                    "param": None,
                    "code": "error",
                }
            },
        ),
    ],
)
def test_an_error_before_any_view_answers_in_the_part_s_format(path, body):
    handler = get_resolver().resolve_error_handler(500)

    response = handler(RequestFactory().post(path))

    assert response.status_code == 500
    assert json.loads(response.content) == body
