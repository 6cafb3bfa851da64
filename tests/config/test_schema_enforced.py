"""The server refuses what schema.yml refuses, and takes what it takes.

A client that validates its requests against the schema (as generated
clients and schemathesis do) must not be surprised: a body the schema calls
invalid is a 400, and one it calls valid is answered, but for the rules no
schema can state (a name already taken, a common password; see
tests/fuzz/hooks.py). Each case is judged by the schema here, with its
patterns read as ECMAScript reads them, then sent.
"""

import copy
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in requirements/dev.txt
import pytest
import yaml
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"


@cache
def component(name: str) -> dict[str, Any]:
    schemas = yaml.safe_load((ROOT / "schema.yml").read_text())["components"]["schemas"]
    schema: dict[str, Any] = ecma(copy.deepcopy(schemas[name]))
    return schema


def ecma(schema: Any) -> Any:
    """Patterns as ECMAScript reads them: a closing `$` is the end of the text
    (Python's also matches before a final line break)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str) and schema["pattern"].endswith("$"):
            schema["pattern"] = schema["pattern"][:-1] + r"\Z"
        for value in schema.values():
            ecma(value)
    return schema


def schema_accepts(name: str, body: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft4Validator(component(name)).is_valid(body))


@pytest.mark.parametrize(
    "username",
    [
        "ada",
        "Zoë",
        "名前",
        "ada.l+x@y-z_1",
        "a" * 150,
        # Registered as "ada": what is around a name is dropped.
        " ada",
        "ada\t",
        "ada\n",
        "ada\u3000",
        "\u00a0ada",
        "\u200b ada",
        # Refused by the schema:
        "",
        "  ",
        "a" * 151,
        " " + "a" * 150,
        "ada lovelace",
        "ada\u3000lovelace",
        "ada!",
        "a/b",
        "a\x00b",
    ],
)
def test_a_username_is_registered_exactly_when_the_schema_allows_it(api_client, db, username):
    body = {"username": username, "password": PASSWORD}

    response = api_client.post(reverse("auth-register"), body, format="json")

    expected = HTTPStatus.CREATED if schema_accepts("RegisterInputRequest", body) else 400
    assert response.status_code == expected, response.json()


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD,
        "1234567x",
        "x" * 256,
        # Refused by the schema:
        "",
        "x7y6z5a",
        "12345678",
        "x" * 257,
        "correct\x00horse",
    ],
)
def test_a_password_is_accepted_exactly_when_the_schema_allows_it(api_client, db, password):
    body = {"username": "grace", "password": password}

    response = api_client.post(reverse("auth-register"), body, format="json")

    expected = HTTPStatus.CREATED if schema_accepts("RegisterInputRequest", body) else 400
    assert response.status_code == expected, response.json()


@pytest.mark.parametrize("message", ["Hello!", " Hello! ", "", " ", "\t\n", "\u3000", "a\x00b"])
def test_a_message_is_answered_exactly_when_the_schema_allows_it(auth_client, message):
    body = {"message": message}

    response = auth_client.post(reverse("chat"), body, format="json")

    expected = HTTPStatus.CREATED if schema_accepts("ChatCreateInputRequest", body) else 400
    assert response.status_code == expected, response.json()
