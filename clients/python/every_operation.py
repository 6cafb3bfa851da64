"""Every operation of the API, through the client openapi-python-client
generates from schema.yml, as an integrator would write it.

    python every_operation.py http://127.0.0.1:8000

`chat_api_client` (the generated package) must be importable. `make clients`
generates it, checks this program against it with `mypy --strict`, and runs
it against a live server (tests/clients/): a wrong type anywhere (a public
operation that wants an `AuthenticatedClient`, a stream parsed as a model,
a field that is not there) fails the type check, and a wrong answer fails
the run. The server it talks to must give new accounts a few chats' worth
of tokens (SIGNUP_TOKENS), allow a few log-in attempts a minute per account
(THROTTLE_LOGIN_USERNAME), and take a moment per reply, so that a retry can
arrive while the first request is still running.
"""

import json
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

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
from chat_api_client.api.chat import (
    v1_balance_retrieve,
    v1_chat_create,
    v1_chats_list,
    v1_transactions_list,
)
from chat_api_client.api.conversations import (
    v1_conversations_destroy,
    v1_conversations_list,
    v1_conversations_retrieve,
)
from chat_api_client.api.health import readyz_retrieve
from chat_api_client.api.users import v1_users_list
from chat_api_client.models import (
    Balance,
    ChatCreateInputRequest,
    ChatOutput,
    ChatStreamDelta,
    ChatStreamStart,
    Conversation,
    ErrorResponse401,
    ErrorResponse401Login,
    ErrorResponse401Token,
    ErrorResponse402,
    ErrorResponse403,
    ErrorResponse404,
    ErrorResponse409,
    ErrorResponse422,
    ErrorResponse429,
    ErrorResponseChatStream,
    Exchange,
    LoginInputRequest,
    LoginOutput,
    PaginatedConversationList,
    PaginatedExchangeList,
    PaginatedTokenTransactionList,
    PasswordChangeInputRequest,
    Readiness,
    RefreshInputRequest,
    RegisterInputRequest,
    RegisterOutput,
    TokenPair,
    TokenTransaction,
    User,
    V1AuthRegisterCreateValidationError,
    V1ChatCreateValidationError,
    V1ConversationsListValidationError,
)
from chat_api_client.types import UNSET, Response, Unset

T = TypeVar("T")
U = TypeVar("U")
PASSWORD = "correct-horse-battery-staple"


class Failed(Exception):
    """The server did not answer as schema.yml says it does."""


def expect(response: Response[U], status: HTTPStatus, kind: type[T]) -> T:
    """The parsed body of `response`, which must have this status and type."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise Failed(
            f"expected {status.value} {kind.__name__}, got {response.status_code.value}: "
            f"{response.content[:500]!r}"
        )
    return response.parsed


def expect_empty(response: Response[U], status: HTTPStatus) -> None:
    if response.status_code != status or response.content:
        raise Failed(f"expected an empty {status.value}, got {response.status_code.value}")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def codes(error: Any) -> set[tuple[str | None, str]]:
    """The (attr, code) pairs of an error body, whatever its generated model."""
    body: dict[str, Any] = error.to_dict()
    return {(item["attr"], item["code"]) for item in body["errors"]}


def events(stream: str) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) of a `text/event-stream` body."""
    for block in stream.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            yield fields["event"], json.loads(fields["data"])


def at_once(call: Callable[[], T]) -> tuple[T, T]:
    """Two calls of `call`, sent at the same moment from two threads."""
    start = threading.Barrier(2)

    def send() -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(send), pool.submit(send)
        return first.result(), second.result()


def page(cursor: str | None) -> str | Unset:
    """A page's `next_cursor` or `previous_cursor` as the list operations take it."""
    return UNSET if cursor is None else cursor


def main(base_url: str) -> None:
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    username = f"ada-{secrets.token_hex(4)}"

    # --- Readiness: what a load balancer asks, without credentials ----------
    ready = expect(readyz_retrieve.sync_detailed(client=public), HTTPStatus.OK, Readiness)
    check((ready.status, ready.database, ready.cache) == ("ok", "ok", "ok"), "readiness: ok")

    # --- Accounts: public operations take a plain Client --------------------
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
    cost = balance.cost_per_message

    # --- Chat: plain, continued, streamed -----------------------------------
    first = expect(
        v1_chat_create.sync_detailed(client=client, body=ChatCreateInputRequest(message="Hello!")),
        HTTPStatus.CREATED,
        ChatOutput,
    )
    check(first.remaining_tokens == balance.tokens - cost, "chat: charged once")
    second = expect(
        v1_chat_create.sync_detailed(
            client=client,
            body=ChatCreateInputRequest(message="Tell me more", conversation=first.conversation),
        ),
        HTTPStatus.CREATED,
        ChatOutput,
    )
    check(second.conversation == first.conversation, "chat: the same conversation")

    # A streamed reply is the raw event stream, a string; the events' data
    # are the schema's named payloads.
    stream = expect(
        v1_chat_create.sync_detailed(
            client=client,
            body=ChatCreateInputRequest(
                message="And then?", conversation=first.conversation, stream=True
            ),
        ),
        HTTPStatus.OK,
        str,
    )
    (first_kind, first_data), *pieces, (last_kind, last_data) = events(stream)
    if last_kind == "error":
        raise Failed(f"stream: {ErrorResponseChatStream.from_dict(last_data)}")
    check((first_kind, last_kind) == ("start", "done"), "stream: start, deltas, done")
    start = ChatStreamStart.from_dict(first_data)
    text = "".join(ChatStreamDelta.from_dict(data).text for _, data in pieces)
    done = ChatOutput.from_dict(last_data)
    check(start.conversation == done.conversation == first.conversation, "stream: conversation")
    check(done.id == start.id and done.response == text, "stream: done holds the whole reply")
    check(done.remaining_tokens == second.remaining_tokens - cost, "stream: charged once")

    # --- Safe retries: 409 while running, the replay, 422 for another body --
    retried = ChatCreateInputRequest(message="Once only")
    for _ in range(3):
        key = secrets.token_hex(8)
        first_answer, second_answer = at_once(
            partial(v1_chat_create.sync_detailed, client=client, body=retried, idempotency_key=key)
        )
        # Whichever arrived first is answered; the other, while it runs, gets
        # 409. (Had one been held up until the first was over, it was a replay.)
        answers = sorted([first_answer, second_answer], key=lambda answer: answer.status_code)
        if answers[1].status_code == HTTPStatus.CONFLICT:
            break
    once = expect(answers[0], HTTPStatus.CREATED, ChatOutput)
    busy = expect(answers[1], HTTPStatus.CONFLICT, ErrorResponse409)
    check(codes(busy) == {(None, "idempotency_key_in_progress")}, "retry: 409 while running")
    replay = v1_chat_create.sync_detailed(client=client, body=retried, idempotency_key=key)
    check(expect(replay, HTTPStatus.CREATED, ChatOutput).id == once.id, "retry: the same reply")
    check(replay.headers.get("Idempotent-Replayed") == "true", "retry: marked as replayed")
    reused = expect(
        v1_chat_create.sync_detailed(
            client=client, body=ChatCreateInputRequest(message="Other"), idempotency_key=key
        ),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        ErrorResponse422,
    )
    check(codes(reused) == {(None, "idempotency_key_reused")}, "retry: 422 for another body")
    with_stream = expect(
        v1_chat_create.sync_detailed(
            client=client,
            body=ChatCreateInputRequest(message="Hi", stream=True),
            idempotency_key=secrets.token_hex(8),
        ),
        HTTPStatus.BAD_REQUEST,
        V1ChatCreateValidationError,
    )
    check(codes(with_stream) == {("Idempotency-Key", "invalid")}, "a key with a stream is 400")

    # --- Lists, page by page with the bare cursors --------------------------
    conversations: list[Conversation] = []
    cursor: str | None = None
    while True:
        listed = expect(
            v1_conversations_list.sync_detailed(client=client, page_size=1, cursor=page(cursor)),
            HTTPStatus.OK,
            PaginatedConversationList,
        )
        conversations += listed.results
        if listed.next_cursor is None:
            break
        cursor = listed.next_cursor
    ids = [c.id for c in conversations]
    check(
        ids[0] == once.conversation and ids[-1] == first.conversation and len(set(ids)) == len(ids),
        "conversations: most recently active first, one per page, each once",
    )
    check(listed.previous_cursor is not None, "conversations: the last page links back")
    back = expect(
        v1_conversations_list.sync_detailed(
            client=client, page_size=1, cursor=page(listed.previous_cursor)
        ),
        HTTPStatus.OK,
        PaginatedConversationList,
    )
    check([c.id for c in back.results] == ids[-2:-1], "conversations: the previous page")
    bad_page = expect(
        v1_conversations_list.sync_detailed(client=client, page_size=0),
        HTTPStatus.BAD_REQUEST,
        V1ConversationsListValidationError,
    )
    check(codes(bad_page) == {("page_size", "min_value")}, "conversations: page_size=0 is 400")

    exchanges: list[Exchange] = []
    cursor = None
    while True:
        history = expect(
            v1_chats_list.sync_detailed(
                client=client, conversation=first.conversation, page_size=2, cursor=page(cursor)
            ),
            HTTPStatus.OK,
            PaginatedExchangeList,
        )
        exchanges += history.results
        if history.next_cursor is None:
            break
        cursor = history.next_cursor
    check(
        [e.message for e in exchanges] == ["And then?", "Tell me more", "Hello!"],
        "chats: the conversation's exchanges, newest first",
    )

    fetched = expect(
        v1_conversations_retrieve.sync_detailed(first.conversation, client=client),
        HTTPStatus.OK,
        Conversation,
    )
    check(fetched.title == "Hello!", "conversation: titled from its first message")
    expect_empty(
        v1_conversations_destroy.sync_detailed(first.conversation, client=client),
        HTTPStatus.NO_CONTENT,
    )
    expect(
        v1_conversations_retrieve.sync_detailed(first.conversation, client=client),
        HTTPStatus.NOT_FOUND,
        ErrorResponse404,
    )

    # --- The balance runs out: 402, and the ledger explains it --------------
    spent, remaining = 0, once.remaining_tokens
    while True:
        answer = v1_chat_create.sync_detailed(
            client=client, body=ChatCreateInputRequest(message="More")
        )
        if answer.status_code == HTTPStatus.PAYMENT_REQUIRED:
            short = expect(answer, HTTPStatus.PAYMENT_REQUIRED, ErrorResponse402)
            check(codes(short) == {(None, "insufficient_tokens")}, "402: insufficient_tokens")
            break
        remaining = expect(answer, HTTPStatus.CREATED, ChatOutput).remaining_tokens
        spent += 1
        check(spent <= registered.tokens // cost, "402: never more chats than the balance pays")
    final = expect(v1_balance_retrieve.sync_detailed(client=client), HTTPStatus.OK, Balance)
    check(final.tokens == remaining < cost, "402: the balance is below the cost")
    ledger: list[TokenTransaction] = []
    cursor = None
    while True:
        rows = expect(
            v1_transactions_list.sync_detailed(client=client, cursor=page(cursor)),
            HTTPStatus.OK,
            PaginatedTokenTransactionList,
        )
        ledger += rows.results
        if rows.next_cursor is None:
            break
        cursor = rows.next_cursor
    check(sum(row.amount for row in ledger) == final.tokens, "transactions: sum to the balance")
    check(ledger[0].balance_after == final.tokens, "transactions: newest first")

    # --- Staff only: 403 ------------------------------------------------------
    expect(v1_users_list.sync_detailed(client=client), HTTPStatus.FORBIDDEN, ErrorResponse403)

    # --- Password change, log out, log out everywhere: each ends the tokens ---
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
        base_url=base_url, token=changed.access, raise_on_unexpected_status=True
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
            client=public, body=LoginInputRequest(username=username, password=PASSWORD[::-1])
        ),
        HTTPStatus.OK,
        LoginOutput,
    )
    client = AuthenticatedClient(
        base_url=base_url, token=again.access, raise_on_unexpected_status=True
    )
    expect_empty(v1_auth_logout_all_create.sync_detailed(client=client), HTTPStatus.NO_CONTENT)
    expect(
        v1_auth_me_retrieve.sync_detailed(client=client), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )

    # --- Too many log-in attempts: 429 with Retry-After ----------------------
    guessed = f"eve-{secrets.token_hex(4)}"
    for attempt in range(1, 101):
        answer_429 = v1_auth_login_create.sync_detailed(
            client=public, body=LoginInputRequest(username=guessed, password=f"guess-{attempt}")
        )
        if answer_429.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            expect(answer_429, HTTPStatus.TOO_MANY_REQUESTS, ErrorResponse429)
            check(int(answer_429.headers["Retry-After"]) > 0, "429: says when to retry")
            break
        expect(answer_429, HTTPStatus.UNAUTHORIZED, ErrorResponse401Login)
    else:
        raise Failed("429: a hundred wrong guesses at one account were all answered")
    print(f"every operation answered as schema.yml says ({spent} chats until 402)")


if __name__ == "__main__":
    main(sys.argv[1])
