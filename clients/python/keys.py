"""API keys: created with a log-in (the key shown that once), listed and read
by their prefix, refused as credentials for managing keys, and revoked."""

from datetime import UTC, datetime
from http import HTTPStatus

from accounts import Account
from chat_api_client import AuthenticatedClient
from chat_api_client.api.chat import v1_balance_retrieve
from chat_api_client.api.keys import (
    v1_keys_create,
    v1_keys_destroy,
    v1_keys_list,
    v1_keys_retrieve,
)
from chat_api_client.api.openai import v1_models
from chat_api_client.models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyCreateInputRequest,
    ErrorResponse401,
    ErrorResponse404,
    PaginatedApiKeyList,
    V1KeysCreateValidationError,
)
from checks import check, codes, expect, expect_empty, openai_error


def key_create(account: Account, *, daily_cap: int) -> ApiKeyCreated:
    """A new key with a daily spending cap, found in the list and by its id."""
    client = account.client
    past = expect(
        v1_keys_create.sync_detailed(
            client=client,
            body=ApiKeyCreateInputRequest(name="old", expires_at=datetime(2000, 1, 1, tzinfo=UTC)),
        ),
        HTTPStatus.BAD_REQUEST,
        V1KeysCreateValidationError,
    )
    check(codes(past) == {("expires_at", "expires_in_the_past")}, "keys: an expiry in the past")
    created = expect(
        v1_keys_create.sync_detailed(
            client=client, body=ApiKeyCreateInputRequest(name="integration", daily_cap=daily_cap)
        ),
        HTTPStatus.CREATED,
        ApiKeyCreated,
    )
    check(
        created.key.startswith(created.prefix) and len(created.key) > len(created.prefix) + 32,
        "keys: the key, shown once, begins with its prefix",
    )
    check(
        (created.name, created.daily_cap, created.last_used_at, created.spent_today)
        == ("integration", daily_cap, None, 0),
        "keys: as asked, never used",
    )
    listed = expect(
        v1_keys_list.sync_detailed(client=client), HTTPStatus.OK, PaginatedApiKeyList
    ).results
    check([key.id for key in listed] == [created.id], "keys: the one key listed")
    check("key" not in listed[0].to_dict(), "keys: the list never shows a key again")
    read = expect(v1_keys_retrieve.sync_detailed(created.id, client=client), HTTPStatus.OK, ApiKey)
    check((read.id, read.prefix) == (created.id, created.prefix), "keys: read by its id")
    return created


def key_client(account: Account, key: ApiKeyCreated) -> AuthenticatedClient:
    """The key as the bearer, where a log-in's access token would go."""
    return AuthenticatedClient(
        base_url=account.base_url, token=key.key, raise_on_unexpected_status=True
    )


def key_cannot_manage_keys(keyed: AuthenticatedClient) -> None:
    refused = expect(
        v1_keys_list.sync_detailed(client=keyed), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )
    check(codes(refused) == {(None, "token_not_valid")}, "keys: a key cannot list keys")


def key_used(account: Account, key: ApiKeyCreated, *, spent: int) -> None:
    """The key as its owner sees it after use: when, and what it spent today."""
    read = expect(
        v1_keys_retrieve.sync_detailed(key.id, client=account.client), HTTPStatus.OK, ApiKey
    )
    check(read.last_used_at is not None, "keys: the last use is recorded")
    check(read.spent_today == spent, f"keys: spent today {read.spent_today}, not {spent}")


def key_revoke(account: Account, key: ApiKeyCreated, keyed: AuthenticatedClient) -> None:
    """Deleted, the key is refused at once, on both APIs; it is gone from the list."""
    expect_empty(
        v1_keys_destroy.sync_detailed(key.id, client=account.client), HTTPStatus.NO_CONTENT
    )
    refused = expect(
        v1_balance_retrieve.sync_detailed(client=keyed), HTTPStatus.UNAUTHORIZED, ErrorResponse401
    )
    check(codes(refused) == {(None, "token_not_valid")}, "revoked: the balance refuses the key")
    check(
        openai_error(v1_models.sync_detailed(client=keyed), HTTPStatus.UNAUTHORIZED)
        == ("invalid_request_error", "invalid_api_key"),
        "revoked: /v1/models refuses the key",
    )
    expect(
        v1_keys_retrieve.sync_detailed(key.id, client=account.client),
        HTTPStatus.NOT_FOUND,
        ErrorResponse404,
    )
