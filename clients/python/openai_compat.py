"""The OpenAI-compatible operations under /v1/, with an API key as the bearer:
the models, and a chat completion metered like a chat. (The generated client
parses a 200 as JSON, so the streamed completion is the TypeScript
program's to check.)"""

from http import HTTPStatus

from accounts import Account
from chat_api_client import AuthenticatedClient
from chat_api_client.api.chat import v1_balance_retrieve, v1_chats_list
from chat_api_client.api.openai import v1_chat_completions, v1_models, v1_models_retrieve
from chat_api_client.models import (
    Balance,
    ChatCompletion,
    ChatCompletionInputRequest,
    ChatCompletionMessageRequest,
    ChatCompletionMessageRoleEnum,
    ChatCompletionObjectEnum,
    ChatCompletionResponseMessageRoleEnum,
    FinishReasonEnum,
    Model,
    ModelList,
    ModelObjectEnum,
    PaginatedExchangeList,
)
from checks import check, expect, openai_error

INVALID_API_KEY = ("invalid_request_error", "invalid_api_key")


def served_model(account: Account, keyed: AuthenticatedClient) -> str:
    """The one model listed, which is also the one retrieved by its id."""
    listed = expect(v1_models.sync_detailed(client=keyed), HTTPStatus.OK, ModelList).data
    check(len(listed) == 1 and listed[0].object_ == ModelObjectEnum.MODEL, "models: one model")
    model = expect(
        v1_models_retrieve.sync_detailed(listed[0].id, client=keyed), HTTPStatus.OK, Model
    )
    check(model.to_dict() == listed[0].to_dict(), "models: retrieved as listed")
    check(
        openai_error(
            v1_models_retrieve.sync_detailed(f"not-{model.id}", client=keyed),
            HTTPStatus.NOT_FOUND,
        )
        == ("invalid_request_error", "model_not_found"),
        "models: any other id is 404 model_not_found",
    )
    for refused in (
        v1_models.sync_detailed(client=account.client),
        v1_models_retrieve.sync_detailed(model.id, client=account.client),
    ):
        check(
            openai_error(refused, HTTPStatus.UNAUTHORIZED) == INVALID_API_KEY,
            "models: a log-in's access token is not a key",
        )
    return model.id


def complete(keyed: AuthenticatedClient, *, model: str, cost: int) -> ChatCompletion:
    """A completion: charged once, kept as an exchange, refused past the cap."""
    before = expect(v1_balance_retrieve.sync_detailed(client=keyed), HTTPStatus.OK, Balance)
    message = "Hello from an integration"
    asked = ChatCompletionInputRequest(
        model=model,
        messages=[
            ChatCompletionMessageRequest(role=ChatCompletionMessageRoleEnum.SYSTEM, content="Hi"),
            ChatCompletionMessageRequest(role=ChatCompletionMessageRoleEnum.USER, content=message),
        ],
    )
    answer = v1_chat_completions.sync_detailed(client=keyed, body=asked)
    completion = expect(answer, HTTPStatus.OK, ChatCompletion)
    check(completion.object_ == ChatCompletionObjectEnum.CHAT_COMPLETION, "completion: object")
    check(completion.id.startswith("chatcmpl-"), "completion: id")
    [choice] = completion.choices
    check(choice.message.role == ChatCompletionResponseMessageRoleEnum.ASSISTANT, "completion")
    check(bool(choice.message.content), "completion: the reply")
    check(choice.finish_reason == FinishReasonEnum.STOP, "completion: finish_reason")
    usage = completion.usage
    check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, "usage: total")
    after = expect(v1_balance_retrieve.sync_detailed(client=keyed), HTTPStatus.OK, Balance)
    check(after.tokens == before.tokens - cost, "completion: charged once")
    check(int(answer.headers["X-Tokens-Remaining"]) == after.tokens, "X-Tokens-Remaining")

    # Kept like a chat: the key reads it in the history.
    [kept] = expect(
        v1_chats_list.sync_detailed(client=keyed, page_size=1), HTTPStatus.OK, PaginatedExchangeList
    ).results
    check(completion.id == f"chatcmpl-{kept.id.hex}", "completion: the exchange's id")
    check(
        (kept.message, kept.response) == (message, choice.message.content),
        "completion: the last user message and the reply kept",
    )

    # Refused, charging nothing: a last message that is not the user's, and
    # (the key's daily cap being one chat) a second completion.
    wrong = ChatCompletionInputRequest(model=model, messages=list(reversed(asked.messages)))
    bad = v1_chat_completions.sync_detailed(client=keyed, body=wrong)
    check(
        openai_error(bad, HTTPStatus.BAD_REQUEST) == ("invalid_request_error", "invalid"),
        "completion: the last message must be the user's",
    )
    capped = v1_chat_completions.sync_detailed(client=keyed, body=asked)
    check(
        openai_error(capped, HTTPStatus.PAYMENT_REQUIRED)
        == ("insufficient_quota", "insufficient_quota"),
        "completion: past the key's cap, 402 insufficient_quota",
    )
    last = expect(v1_balance_retrieve.sync_detailed(client=keyed), HTTPStatus.OK, Balance)
    check(last.tokens == after.tokens, "completion: refusals charge nothing")
    return completion
