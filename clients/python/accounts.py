"""An account's life: register, log in and refresh (public operations take a
plain Client); at the end, a password change, log out, log out everywhere,
each ending tokens; and the log-in limit's 429."""

import secrets
from dataclasses import dataclass
from http import HTTPStatus

from chat_api_client import AuthenticatedClient, Client
from chat_api_client.api.auth import (
    v1_auth_login_create,
    v1_auth_logout_all_create,
    v1_auth_logout_create,
    v1_auth_me_retrieve,
    v1_auth_password_create,
    v1_auth_refresh_create,
    v1_auth_register_create,
)
from chat_api_client.api.chat import v1_balance_retrieve
from chat_api_client.models import (
    Balance,
    ErrorResponse401,
    ErrorResponse401Login,
    ErrorResponse401Token,
    ErrorResponse429,
    LoginInputRequest,
    LoginOutput,
    PasswordChangeInputRequest,
    RefreshInputRequest,
    RegisterInputRequest,
    RegisterOutput,
    TokenPair,
    User,
    V1AuthRegisterCreateValidationError,
)
from checks import Failed, check, codes, expect, expect_empty

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Account:
    base_url: str
    username: str
    # A log-in's access token: what manages keys and the password.
    client: AuthenticatedClient
    signup_tokens: int
    cost: int


def sign_up(public: Client, base_url: str) -> Account:
    """A new account, registered, logged in and refreshed."""
    username = f"ada-{secrets.token_hex(4)}"
    registered = expect(
        v1_auth_register_create.sync_detailed(
            client=public, body=RegisterInputRequest(username=username, password=PASSWORD)
        ),
        HTTPStatus.CREATED,
        RegisterOutput,
    )
    check(registered.username == username, "register: the username")
    taken = expect(
        v1_auth_register_create.sync_detailed(
            client=public,
            body=RegisterInputRequest(username=username.upper(), password=PASSWORD),
        ),
        HTTPStatus.BAD_REQUEST,
        V1AuthRegisterCreateValidationError,
    )
    check(codes(taken) == {("username", "unique")}, "register: a taken name is 400 unique")

    login = expect(
        v1_auth_login_create.sync_detailed(
            client=public, body=LoginInputRequest(username=username, password=PASSWORD)
        ),
        HTTPStatus.OK,
        LoginOutput,
    )
    check(login.token_type == "Bearer" and login.expires_in > 0, "log in: token_type, expires_in")
    wrong = expect(
        v1_auth_login_create.sync_detailed(
            client=public, body=LoginInputRequest(username=username, password="wrong-" + PASSWORD)
        ),
        HTTPStatus.UNAUTHORIZED,
        ErrorResponse401Login,
    )
    check(codes(wrong) == {(None, "invalid_credentials")}, "log in: a wrong password is 401")

    pair = expect(
        v1_auth_refresh_create.sync_detailed(
            client=public, body=RefreshInputRequest(refresh=login.refresh)
        ),
        HTTPStatus.OK,
        TokenPair,
    )
    check(pair.token_type == "Bearer" and pair.expires_in > 0, "refresh: token_type, expires_in")
    client = AuthenticatedClient(
        base_url=base_url, token=pair.access, raise_on_unexpected_status=True
    )

    me = expect(v1_auth_me_retrieve.sync_detailed(client=client), HTTPStatus.OK, User)
    balance = expect(v1_balance_retrieve.sync_detailed(client=client), HTTPStatus.OK, Balance)
    check(me.tokens == balance.tokens == registered.tokens, "me and balance: the signup grant")
    # Null only under per-token pricing; the server prices chats flat (the default).
    if not isinstance(balance.cost_per_message, int):
        raise Failed("balance: a cost per message under flat pricing")
    return Account(
        base_url=base_url,
        username=username,
        client=client,
        signup_tokens=registered.tokens,
        cost=balance.cost_per_message,
    )


def end_sessions(account: Account, public: Client) -> None:
    """A password change, log out and log out everywhere: each ends the tokens."""
    client = account.client
    changed = expect(
        v1_auth_password_create.sync_detailed(
            client=client,
            body=PasswordChangeInputRequest(old_password=PASSWORD, new_password=PASSWORD[::-1]),
        ),
        HTTPStatus.OK,
        LoginOutput,
    )
    expect(
        v1_auth_me_retrieve.sync_detailed(client=client), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )
    client = AuthenticatedClient(
        base_url=account.base_url, token=changed.access, raise_on_unexpected_status=True
    )
    expect_empty(
        v1_auth_logout_create.sync_detailed(
            client=client, body=RefreshInputRequest(refresh=changed.refresh)
        ),
        HTTPStatus.NO_CONTENT,
    )
    ended = expect(
        v1_auth_refresh_create.sync_detailed(
            client=public, body=RefreshInputRequest(refresh=changed.refresh)
        ),
        HTTPStatus.UNAUTHORIZED,
        ErrorResponse401Token,
    )
    check(codes(ended) == {(None, "token_not_valid")}, "log out: the refresh token is spent")
    expect(
        v1_auth_me_retrieve.sync_detailed(client=client), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )
    again = expect(
        v1_auth_login_create.sync_detailed(
            client=public,
            body=LoginInputRequest(username=account.username, password=PASSWORD[::-1]),
        ),
        HTTPStatus.OK,
        LoginOutput,
    )
    client = AuthenticatedClient(
        base_url=account.base_url, token=again.access, raise_on_unexpected_status=True
    )
    expect_empty(v1_auth_logout_all_create.sync_detailed(client=client), HTTPStatus.NO_CONTENT)
    expect(
        v1_auth_me_retrieve.sync_detailed(client=client), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )


def log_in_until_throttled(public: Client) -> None:
    """Wrong guesses at one account: 429 with Retry-After, soon."""
    guessed = f"eve-{secrets.token_hex(4)}"
    for attempt in range(1, 101):
        answer = v1_auth_login_create.sync_detailed(
            client=public, body=LoginInputRequest(username=guessed, password=f"guess-{attempt}")
        )
        if answer.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            expect(answer, HTTPStatus.TOO_MANY_REQUESTS, ErrorResponse429)
            check(int(answer.headers["Retry-After"]) > 0, "429: says when to retry")
            return
        expect(answer, HTTPStatus.UNAUTHORIZED, ErrorResponse401Login)
    raise Failed("429: a hundred wrong guesses at one account were all answered")
