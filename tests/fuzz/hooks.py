"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

The stream's events: schema.yml gives the `text/event-stream` body as a
string (what generated clients must hand over) and the schema of each event
in `x-itemSchema`, each event's JSON in `x-contentSchema`: OpenAPI 3.2's
`itemSchema` and JSON Schema's `contentSchema`, which 3.0 lacks. Before the
run they are given their standard names, which schemathesis reads: every
event of every streamed chat is checked against `ChatStreamEvent`, and its
data against the named payload schema (`ChatOutput` for `done`, …).

Every collection of operations that requires a bearer token (`/keys/` and
`/keys/{id}/` are one) gets one for an account of its own, registered and
logged in on first use: an operation that ends sessions
(log out everywhere, say) then ends only its own account's, and is logged in
again after a 401, instead of turning every other operation's requests into
401s that would hide their bugs. The accounts are staff, so the staff-only
operations are fuzzed past their 403 too (staff changes nothing else in the
API). Nothing here names an operation: whatever schema.yml declares with
`security` is covered.
"""

import hashlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import requests
import schemathesis
from schemathesis import Case
from schemathesis.auths import AuthContext

from tests.fuzz.database import query

PASSWORD = "fuzzing-passphrase-0f3c9a"


def _needs_token(case: Case) -> bool:
    security = case.operation.definition.raw.get("security") or []
    return any(requirement for requirement in security)


def _takes_a_key(case: Case) -> bool:
    security = case.operation.definition.raw.get("security") or []
    return any("apiKeyAuth" in requirement for requirement in security)


def _account(case: Case, context: AuthContext) -> str:
    if not _needs_token(case):
        return "public"
    # One account per collection (`/keys/` and `/keys/{id}/` share one), so
    # what one operation creates, the others on it can find: the stateful
    # phase follows POST /keys/ to DELETE /keys/{id}/.
    collection = re.sub(r"\{[^}]*\}/?$", "", case.operation.path)
    return "fuzz-" + hashlib.sha256(collection.encode()).hexdigest()[:16]


@schemathesis.auth(cache_by_key=_account, retry_on=[401])
class OperationAccount:
    def get(self, case: Case, context: AuthContext) -> Any:
        username = _account(case, context)
        if username == "public":
            return None
        url = os.environ["FUZZ_SERVER_URL"]
        body = {"username": username, "password": PASSWORD}
        # 400 once the account exists: this only makes sure it does.
        requests.post(f"{url}/api/v1/auth/register/", json=body, timeout=60)
        query(
            os.environ["FUZZ_DATABASE_URL"],
            "UPDATE users_user SET is_staff = %s WHERE username = %s",
            (True, username),
        )
        login = requests.post(f"{url}/api/v1/auth/login/", json=body, timeout=60)
        login.raise_for_status()
        access = login.json()["access"]
        if not _takes_a_key(case):
            return access
        key = requests.post(
            f"{url}/api/v1/keys/",
            json={"name": "fuzz"},
            headers={"Authorization": f"Bearer {access}"},
            timeout=60,
        )
        key.raise_for_status()
        return key.json()["key"]

    def set(self, case: Case, data: Any, context: AuthContext) -> None:
        if data is not None:
            case.headers["Authorization"] = f"Bearer {data}"


# gunicorn answers a request line over 4,094 bytes itself (414, its own HTML
# page) before the app sees it, as any proxy in front would: not the API's
# behaviour to check. Keep generated URLs well inside that limit.
MAX_URL_BYTES = 3_000


@schemathesis.hook
def filter_case(context: Any, case: Case) -> bool:
    query = urlencode(case.query or {}, doseq=True)
    path = "".join(quote(str(value)) for value in (case.path_parameters or {}).values())
    return len(query) + len(path) + len(case.path) <= MAX_URL_BYTES


EXTENSIONS = {
    "x-itemSchema": "itemSchema",
    "x-contentMediaType": "contentMediaType",
    "x-contentSchema": "contentSchema",
}


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    for node in _walk(raw_schema):
        for extension, keyword in EXTENSIONS.items():
            if extension in node:
                node[keyword] = node.pop(extension)
        if "itemSchema" in node:
            # The string body: with `itemSchema` there, `schema` would be
            # read as describing the whole stream (as an array of events).
            node.pop("schema", None)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# Refusals of schema-valid requests for rules no schema can state: they
# depend on what is stored (a username taken), on another request (an
# Idempotency-Key used with another body), on a list or on another field
# (common passwords, a password like the username), or on a header together
# with a body member (an Idempotency-Key with `"stream": true`, which OpenAPI
# cannot relate). Each is documented in schema.yml (the operation's
# description, its error codes). Only these exact errors are dropped, and
# only as `positive_data_acceptance` failures; the report counts them.
CROSS_REQUEST_CODES = {
    ("username", "unique"),
    (None, "idempotency_key_reused"),
    ("password", "password_too_common"),
    ("password", "password_too_similar"),
    ("new_password", "password_too_common"),
    ("new_password", "password_too_similar"),
    ("old_password", "wrong_password"),
    # /v1/chat/completions: "the last message is the user's" is a rule on a
    # list's last item, which OpenAPI cannot state. (Its 404 model_not_found,
    # for a model the deployment does not serve, is a status schemathesis
    # accepts for valid data anyway.)
    ("messages", "invalid"),
    # Depends on the clock: a date-time the schema cannot call past.
    ("expires_at", "expires_in_the_past"),
    # A date-time whose UTC falls outside years 1 to 9999 (9999-12-31T23:59:59
    # -01:00): valid RFC 3339, but no date Python or a database column holds.
    ("expires_at", "overflow"),
    # The usage report's range: `from` after `to`, or too long (two fields).
    ("from", "after_to"),
    ("from", "range_too_long"),
    # /v1/chat/completions: max_tokens and max_completion_tokens, one limit
    # under two names, both given (OpenAI refuses that too).
    ("max_tokens", "invalid_parameter_combination"),
}


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Case, response: Any) -> bool:
    if getattr(failure, "code", None) != "ST202":  # Schema-valid request rejected
        return True
    try:
        body = json.loads(response.content)
        if "error" in body:
            # /v1/ answers in OpenAI's shape: one error, its field in `param`.
            refused = {(body["error"]["param"], body["error"]["code"])}
        else:
            refused = {(error["attr"], error["code"]) for error in body["errors"]}
    except (ValueError, KeyError, TypeError):
        return True
    if not all(_beyond_the_schema(case, attr, code) for attr, code in refused):
        return True
    # Kept for the report (tests/fuzz/test_fuzz.py prints the counts).
    with open(os.environ["FUZZ_DROPPED_LOG"], "a") as log:
        for attr, code in sorted(refused, key=str):
            log.write(f"{case.operation.label} {attr} {code}\n")
    return False


def _beyond_the_schema(case: Case, attr: str | None, code: str) -> bool:
    if (attr, code) in CROSS_REQUEST_CODES:
        return True
    body = case.body if isinstance(case.body, dict) else {}
    if (attr, code) == ("Idempotency-Key", "invalid"):
        return body.get("stream") is True
    value = body.get(attr) if attr else None
    if not isinstance(value, str):
        return False
    if code == "surrogate_characters_not_allowed":
        # A lone surrogate ("\ud800" in JSON): a JSON string, but no text a
        # database can store. A pattern cannot name it portably (ECMAScript
        # reads any character beyond U+FFFF as two surrogates).
        return any("\ud800" <= character <= "\udfff" for character in value)
    if value.isascii():
        return False
    # Letters and digits of other scripts: a schema pattern cannot name the
    # Unicode classes portably, so it states the ASCII part of these rules
    # and the server judges the rest (after NFKC for a username).
    return (attr, code) in {
        ("username", "invalid"),
        ("username", "blank"),
        ("username", "max_length"),
        ("password", "password_entirely_numeric"),
        ("new_password", "password_entirely_numeric"),
    }
