"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

Every operation that requires a bearer token gets one for an account of its
own, registered and logged in on first use: an operation that ends sessions
(log out everywhere, say) then ends only its own account's, and is logged in
again after a 401, instead of turning every other operation's requests into
401s that would hide their bugs. The accounts are staff, so the staff-only
operations are fuzzed past their 403 too (staff changes nothing else in the
API). Nothing here names an operation: whatever schema.yml declares with
`security` is covered.
"""

import hashlib
import os
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


def _account(case: Case, context: AuthContext) -> str:
    if not _needs_token(case):
        return "public"
    return "fuzz-" + hashlib.sha256(case.operation.label.encode()).hexdigest()[:16]


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
        return login.json()["access"]

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
