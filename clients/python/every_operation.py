"""Every operation of the API, through the client openapi-python-client
generates from schema.yml, as an integrator would write it.

    python every_operation.py http://127.0.0.1:8000

`chat_api_client` (the generated package) must be importable. `make clients`
generates it, checks this program (and the modules beside it, one per part
of the API) against it with `mypy --strict`, and runs it against a live
server (tests/clients/): a wrong type anywhere (a public operation that
wants an `AuthenticatedClient`, a stream parsed as a model, a field that is
not there) fails the type check, and a wrong answer fails the run.
tests/clients/test_every_operation_called.py fails when an operation of
schema.yml is called nowhere here.

The server it talks to must give new accounts a few chats' worth of tokens
(SIGNUP_TOKENS; the run takes at most seven chats before it spends the rest
to reach 402), allow a few log-in attempts a minute per account
(THROTTLE_LOGIN_USERNAME), and take a moment per reply, so that a retry can
arrive while the first request is still running.
"""

import sys
from http import HTTPStatus

from accounts import end_sessions, log_in_until_throttled, sign_up
from chat_api_client import Client
from chat_api_client.api.health import readyz_retrieve
from chat_api_client.api.users import v1_users_list
from chat_api_client.models import ErrorResponse403, Readiness
from chats import chat_three_ways, read_history, retry_safely
from checks import check, expect
from keys import key_cannot_manage_keys, key_client, key_create, key_revoke, key_used
from ledger import chat_until_402
from openai_compat import complete, served_model
from usage import usage_matches_ledger


def main(base_url: str) -> None:
    public = Client(base_url=base_url, raise_on_unexpected_status=True)

    # Readiness: what a load balancer asks, without credentials.
    ready = expect(readyz_retrieve.sync_detailed(client=public), HTTPStatus.OK, Readiness)
    check((ready.status, ready.database, ready.cache) == ("ok", "ok", "ok"), "readiness: ok")

    account = sign_up(public, base_url)
    first = chat_three_ways(account)
    once = retry_safely(account)
    read_history(account, first=first, once=once)

    # An API key, capped at one chat a day, as the bearer on /v1/ and /api/v1/.
    key = key_create(account, daily_cap=account.cost)
    keyed = key_client(account, key)
    model = served_model(account, keyed)
    complete(keyed, model=model, cost=account.cost)
    key_used(account, key, spent=account.cost)
    key_cannot_manage_keys(keyed)

    spent, ledger = chat_until_402(account)
    usage_matches_ledger(account, keyed, ledger)
    key_revoke(account, key, keyed)

    # Staff only: 403.
    expect(
        v1_users_list.sync_detailed(client=account.client), HTTPStatus.FORBIDDEN, ErrorResponse403
    )

    end_sessions(account, public)
    log_in_until_throttled(public)
    print(f"every operation answered as schema.yml says ({spent} chats until 402)")


if __name__ == "__main__":
    main(sys.argv[1])
