"""Chats with a log-in: plain, continued and streamed; safe retries with an
Idempotency-Key; the conversations and exchanges, page by page; a
conversation read and deleted."""

import secrets
from functools import partial
from http import HTTPStatus

from accounts import Account
from chat_api_client.api.chat import v1_balance_retrieve, v1_chat_create, v1_chats_list
from chat_api_client.api.conversations import (
    v1_conversations_destroy,
    v1_conversations_list,
    v1_conversations_retrieve,
)
from chat_api_client.models import (
    Balance,
    ChatCreateInputRequest,
    ChatOutput,
    ChatStreamDelta,
    ChatStreamStart,
    Conversation,
    ErrorResponse404,
    ErrorResponse409,
    ErrorResponse422,
    ErrorResponseChatStream,
    Exchange,
    PaginatedConversationList,
    PaginatedExchangeList,
    V1ChatCreateValidationError,
    V1ConversationsListValidationError,
)
from checks import Failed, at_once, check, codes, events, expect, expect_empty, page


def chat_three_ways(account: Account) -> ChatOutput:
    """Plain, continued and streamed, each charged once: the first chat."""
    client, cost = account.client, account.cost
    balance = expect(v1_balance_retrieve.sync_detailed(client=client), HTTPStatus.OK, Balance)
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
    return first


def retry_safely(account: Account) -> ChatOutput:
    """An Idempotency-Key: 409 while the first runs, then its replay; 422 for
    another body; 400 with a stream. The chat answered once."""
    client = account.client
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
    return once


def read_history(account: Account, *, first: ChatOutput, once: ChatOutput) -> None:
    """The conversations and one's exchanges, page by page with the bare
    cursors; then the first conversation read and deleted."""
    client = account.client
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
