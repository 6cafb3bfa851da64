"""schema.yml is the published contract: it must equal what the code generates."""

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from api.fields import WHITESPACE

ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Actions that take nothing but the caller's token.
BODYLESS_POSTS = {"/api/v1/auth/logout-all/"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return str(path.read_text())


def test_schema_yml_equals_the_generated_schema(generated):
    assert (ROOT / "schema.yml").read_text() == generated, "run `make schema`"


# The error statuses each operation must document: those it can really give.
ERRORS = {
    ("post", "/api/v1/auth/register/"): {"400", "429", "503"},
    ("post", "/api/v1/auth/login/"): {"400", "401", "429", "503"},
    ("post", "/api/v1/auth/refresh/"): {"400", "401"},
    ("post", "/api/v1/auth/logout/"): {"400", "401"},
    ("post", "/api/v1/auth/logout-all/"): {"401"},
    ("post", "/api/v1/auth/password/"): {"400", "401", "429", "503"},
    ("get", "/api/v1/auth/me/"): {"401"},
    ("get", "/api/v1/users/"): {"401", "403", "404"},
    ("post", "/api/v1/chat/"): {"400", "401", "402", "404", "409", "422", "429"},
    ("get", "/api/v1/balance/"): {"401"},
    ("get", "/api/v1/conversations/"): {"401", "404"},
    ("get", "/api/v1/conversations/{id}/"): {"401", "404"},
    ("delete", "/api/v1/conversations/{id}/"): {"401", "404"},
    ("get", "/api/v1/chats/"): {"400", "401", "404"},
    ("get", "/api/v1/transactions/"): {"401", "404"},
    ("get", "/api/v1/keys/"): {"401", "404"},
    ("post", "/api/v1/keys/"): {"400", "401"},
    ("get", "/api/v1/keys/{id}/"): {"401", "404"},
    ("delete", "/api/v1/keys/{id}/"): {"401", "404"},
    ("get", "/api/v1/usage/"): {"400", "401"},
    ("get", "/readyz/"): {"503"},
    ("post", "/v1/chat/completions"): {"400", "401", "402", "404", "429", "502", "504"},
    ("get", "/v1/models"): {"401"},
    ("get", "/v1/models/{model}"): {"401", "404"},
}


def operations(schema):
    return {
        (method, path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_every_operation_is_documented(generated):
    documented = operations(yaml.safe_load(generated))

    assert set(documented) == set(ERRORS)
    for (method, path), operation in documented.items():
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        assert operation.get("description"), where
        assert ERRORS[method, path] <= set(operation["responses"]), where
        reads_a_body = method in {"post", "put", "patch"} and path not in BODYLESS_POSTS
        assert ("requestBody" in operation) == reads_a_body, where
        assert ("415" in operation["responses"]) == reads_a_body, where


def error_codes_documented(schema, response):
    ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    error = schema["components"]["schemas"][ref]["properties"]["errors"]["items"]["$ref"]
    code = schema["components"]["schemas"][error.rsplit("/", 1)[1]]["properties"]["code"]
    return set(schema["components"]["schemas"][code["$ref"].rsplit("/", 1)[1]]["enum"])


def test_401s_document_the_codes_clients_really_get(generated):
    schema = yaml.safe_load(generated)
    documented = operations(schema)

    def codes(method, path):
        return error_codes_documented(schema, documented[method, path]["responses"]["401"])

    assert codes("get", "/api/v1/balance/") == {"not_authenticated", "token_not_valid"}
    assert codes("post", "/api/v1/auth/login/") == {"invalid_credentials"}
    assert codes("post", "/api/v1/auth/refresh/") == {"token_not_valid"}


def ecma(pattern: str) -> re.Pattern[str]:
    """A schema pattern as an ECMAScript engine reads it: its closing `$` is the end."""
    return re.compile(pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern)


@pytest.mark.parametrize(
    "name",
    [
        "ada",
        "Zoë",
        "Δημήτρης",
        "名前",
        "ada.l+x@y-z_1",
        "\uff41\uff44\uff41",
        # Whitespace and invisible characters around a name are dropped.
        " ada",
        "ada\n",
        "\u00a0ada\u3000",
        "\u200b ada",
        "ali\u200bce",
    ],
)
def test_the_username_pattern_takes_letters_and_digits_of_any_script(generated, name):
    username = yaml.safe_load(generated)["components"]["schemas"]["RegisterInputRequest"]

    assert ecma(username["properties"]["username"]["pattern"]).search(name)


@pytest.mark.parametrize(
    "name", ["ada lovelace", "ada\u3000lovelace", "a\tb", "ada!", "a/b", "a\x00b", "", "  "]
)
def test_the_username_pattern_refuses_inner_spaces_and_other_ascii(generated, name):
    username = yaml.safe_load(generated)["components"]["schemas"]["RegisterInputRequest"]

    assert not ecma(username["properties"]["username"]["pattern"]).search(name)


def test_the_password_rules_that_a_schema_can_state_are_in_it(generated):
    schemas = yaml.safe_load(generated)["components"]["schemas"]
    for component, field in [
        ("RegisterInputRequest", "password"),
        ("PasswordChangeInputRequest", "new_password"),
    ]:
        password = schemas[component]["properties"][field]
        pattern = ecma(password["pattern"])

        assert (password["minLength"], password["maxLength"]) == (8, 256), component
        assert pattern.search("correct-horse"), component
        assert pattern.search("1234567x"), component
        assert not pattern.search("12345678"), component
        assert not pattern.search("abc\x00defgh"), component


def test_every_text_field_of_a_request_states_that_it_takes_no_nul(generated):
    schemas = yaml.safe_load(generated)["components"]["schemas"]
    texts = [
        (name, field, spec)
        for name, schema in schemas.items()
        if name.endswith("Request")
        for field, spec in schema["properties"].items()
        if spec.get("type") == "string" and "format" not in spec
    ]

    assert len(texts) >= 8
    for name, field, spec in texts:
        assert not ecma(spec["pattern"]).search("a\x00b"), f"{name}.{field}"
    message = ecma(schemas["ChatCreateInputRequest"]["properties"]["message"]["pattern"])
    assert message.search(" Hello ")
    assert not message.search(" \t\u3000\n")


def test_whitespace_in_patterns_is_what_python_strips():
    # Fields strip with str.strip(); the schema spells the same set out.
    whitespace = re.compile(f"[{WHITESPACE}]")
    for codepoint in range(0x110000):
        character = chr(codepoint)
        assert bool(whitespace.fullmatch(character)) == character.isspace(), hex(codepoint)


def test_the_idempotency_key_with_a_stream_rule_is_documented(generated):
    chat = yaml.safe_load(generated)["paths"]["/api/v1/chat/"]["post"]
    schemas = yaml.safe_load(generated)["components"]["schemas"]
    [header] = [p for p in chat["parameters"] if p["name"] == "Idempotency-Key"]
    key_errors = schemas["V1ChatCreateIdempotency-KeyErrorComponent"]["properties"]

    assert '`"stream": true` (400 `invalid` on `Idempotency-Key`)' in header["description"]
    assert key_errors["code"]["enum"] == ["invalid"]
    assert key_errors["attr"]["enum"] == ["Idempotency-Key"]


PUBLIC = {"/api/v1/auth/register/", "/api/v1/auth/login/", "/api/v1/auth/refresh/", "/readyz/"}
# OpenAI's clients hold an API key, never a JWT: these take a key only.
KEY_ONLY = {"/v1/chat/completions", "/v1/models", "/v1/models/{model}"}


def test_authenticated_operations_use_the_bearer_scheme(generated):
    schema = yaml.safe_load(generated)
    public = PUBLIC

    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [])
            if path in public:
                assert {"jwtAuth": []} not in security, path
            elif path in KEY_ONLY:
                assert security == [{"apiKeyAuth": []}], path
                assert "401" in operation["responses"], f"{method} {path}"
            else:
                assert {"jwtAuth": []} in security, f"{method} {path}"
                assert "401" in operation["responses"], f"{method} {path}"


# What an API key may call; everything else takes a log-in's access token.
KEY_OPERATIONS = {
    ("post", "/api/v1/chat/"),
    ("get", "/api/v1/balance/"),
    ("get", "/api/v1/conversations/"),
    ("get", "/api/v1/conversations/{id}/"),
    ("delete", "/api/v1/conversations/{id}/"),
    ("get", "/api/v1/chats/"),
    ("get", "/api/v1/transactions/"),
    ("get", "/api/v1/usage/"),
    ("post", "/v1/chat/completions"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{model}"),
}


def test_the_operations_an_api_key_may_call_say_so(generated):
    schema = yaml.safe_load(generated)

    assert schema["components"]["securitySchemes"]["apiKeyAuth"]["scheme"] == "bearer"
    with_keys = {
        (method, path)
        for (method, path), operation in operations(schema).items()
        if {"apiKeyAuth": []} in operation.get("security", [])
    }
    assert with_keys == KEY_OPERATIONS


def test_chat_documents_the_402(generated):
    schema = yaml.safe_load(generated)

    assert "402" in schema["paths"]["/api/v1/chat/"]["post"]["responses"]


def test_the_message_limit_and_its_error_are_documented(generated):
    schemas = yaml.safe_load(generated)["components"]["schemas"]

    assert schemas["ChatCreateInputRequest"]["properties"]["message"]["maxLength"] == 4000
    codes = schemas["V1ChatCreateMessageErrorComponent"]["properties"]["code"]["enum"]
    assert "max_length" in codes
    assert schemas["ChatCreateInputRequest"]["required"] == ["message"]


@pytest.mark.parametrize(
    ("component", "codes"),
    [
        ("V1AuthRegisterCreateUsernameErrorComponent", {"unique"}),
        ("V1AuthRegisterCreatePasswordErrorComponent", {"password_too_short"}),
        ("V1AuthPasswordCreateOldPasswordErrorComponent", {"wrong_password"}),
        ("V1AuthPasswordCreateNewPasswordErrorComponent", {"password_too_common"}),
        ("V1KeysCreateExpiresAtErrorComponent", {"expires_in_the_past"}),
        ("V1UsageRetrieveFromErrorComponent", {"after_to", "range_too_long"}),
    ],
)
def test_codes_raised_outside_the_fields_are_documented(generated, component, codes):
    # Raised by services and validate(): the generator cannot see them.
    schemas = yaml.safe_load(generated)["components"]["schemas"]

    assert codes <= set(schemas[component]["properties"]["code"]["enum"])


def test_lists_give_bare_cursors_and_take_them(generated):
    schema = yaml.safe_load(generated)
    lists = [
        (path, item["get"])
        for path, item in schema["paths"].items()
        if "get" in item and "cursor" in {p["name"] for p in item["get"].get("parameters", [])}
    ]

    assert {path for path, _ in lists} == {
        "/api/v1/conversations/",
        "/api/v1/chats/",
        "/api/v1/transactions/",
        "/api/v1/keys/",
        "/api/v1/users/",
    }
    for path, operation in lists:
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        body = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
        for member in ("next", "previous", "next_cursor", "previous_cursor"):
            assert body["properties"][member]["nullable"] is True, (path, member)
        assert set(body["required"]) == {
            "next",
            "previous",
            "next_cursor",
            "previous_cursor",
            "results",
        }, path
        [size] = [p for p in operation["parameters"] if p["name"] == "page_size"]
        assert size["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
        errors = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
        component = errors.rsplit("/", 1)[1].replace("ErrorResponse400", "PageSizeErrorComponent")
        codes = schema["components"]["schemas"][component]["properties"]["code"]["enum"]
        assert set(codes) == {"invalid", "min_value", "max_value", "max_string_length"}, path


def test_refresh_answers_token_type_and_expires_in_like_log_in(generated):
    schema = yaml.safe_load(generated)
    refresh = schema["paths"]["/api/v1/auth/refresh/"]["post"]["responses"]["200"]
    pair = schema["components"]["schemas"][
        refresh["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    ]
    login = schema["components"]["schemas"]["LoginOutput"]

    assert {"token_type", "expires_in"} <= set(pair["required"])
    assert set(pair["properties"]) == set(login["properties"]) - {"user"}


def test_public_operations_have_no_security_requirement(generated):
    paths = yaml.safe_load(generated)["paths"]

    for path in PUBLIC:
        # `[{}]` ("optionally nothing") is read as "needs a token" by generators.
        for operation in paths[path].values():
            assert operation["security"] == [], path


def test_the_event_stream_is_a_string_body_with_its_events_named(generated):
    schema = yaml.safe_load(generated)
    schemas = schema["components"]["schemas"]
    stream = schema["paths"]["/api/v1/chat/"]["post"]["responses"]["200"]["content"]

    # Generators hand the caller a string for it, never a model to parse it into.
    assert list(stream) == ["text/event-stream"]
    assert stream["text/event-stream"]["schema"]["type"] == "string"
    assert stream["text/event-stream"]["x-itemSchema"] == ref("ChatStreamEvent")
    event = schemas["ChatStreamEvent"]
    assert event["discriminator"]["mapping"] == {
        name: f"#/components/schemas/ChatStream{name.capitalize()}Event"
        for name in ("start", "delta", "done", "error")
    }
    payloads = {
        "start": "ChatStreamStart",
        "delta": "ChatStreamDelta",
        "done": "ChatOutput",
        "error": "ErrorResponseChatStream",
    }
    for name, payload in payloads.items():
        kind = schemas[f"ChatStream{name.capitalize()}Event"]
        enum = kind["properties"]["event"]["$ref"].rsplit("/", 1)[1]
        assert schemas[enum]["enum"] == [name]
        assert kind["properties"]["data"]["type"] == "string"
        assert kind["properties"]["data"]["x-contentMediaType"] == "application/json"
        assert kind["properties"]["data"]["x-contentSchema"] == ref(payload)
        assert payload in schemas
    codes = schemas["ErrorChatStreamCodeEnum"]["enum"]
    assert set(codes) == {"provider_error", "provider_timeout", "not_found", "error"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_the_openai_operations_document_openais_error_shape(generated):
    schema = yaml.safe_load(generated)
    documented = operations(schema)

    for key in [("post", "/v1/chat/completions"), ("get", "/v1/models")]:
        for status, response in documented[key]["responses"].items():
            if int(status) >= 400:
                media = response["content"]["application/json"]
                assert media["schema"] == {"$ref": "#/components/schemas/OpenAIError"}, status
                assert "examples" not in media, status
    error = schema["components"]["schemas"]["OpenAIErrorDetail"]
    assert set(error["properties"]) == {"message", "type", "param", "code"}
