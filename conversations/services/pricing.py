"""What a chat costs, under CHAT_PRICING (docs/billing.md#pricing-by-usage).

- `flat`: every chat costs CHAT_MESSAGE_COST, reserved and kept whole.
- `per_token`: the model's tokens at CHAT_PROMPT_PRICE_PER_1K and
  CHAT_COMPLETION_PRICE_PER_1K (tokens of balance per 1,000 model tokens),
  rounded up. The reservation is the most the request can cost: an upper
  bound of its prompt's tokens plus its `max_tokens`. The settled cost is the
  usage the provider reports, priced, never above the reservation; with no
  usage reported, the reservation.

No tokenizer is used (tiktoken downloads its encodings at run time, and the
model behind AI_BASE_URL may not use OpenAI's anyway): a byte-level BPE or
SentencePiece token stands for at least one byte of the text it encodes, so
a message's UTF-8 byte count bounds its tokens, and a fixed allowance per
message covers what the chat template adds around it.
"""

import math
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings

from conversations.providers import Message, Reply

FLAT = "flat"
PER_TOKEN = "per_token"  # noqa: S105 (a pricing mode, not a secret)
# Template tokens around each message: a role and its markers (ChatML's
# `<|im_start|>user\n … <|im_end|>\n`, Llama 3's headers and `<|eot_id|>`:
# five each), and SentencePiece's leading space, which may cost a token of
# its own.
MESSAGE_OVERHEAD_TOKENS = 8
# Once per request: the start-of-text token and the reply's own header.
REQUEST_OVERHEAD_TOKENS = 8
# The most a chat may cost: the exchange's tokens_charged column.
MAX_CHAT_COST = 2**31 - 1
_PER = Decimal(1000)


def per_token() -> bool:
    return bool(settings.CHAT_PRICING == PER_TOKEN)


def reservation_cost(*, messages: Sequence[Message], max_tokens: int) -> int:
    """The most a chat sending `messages` for at most `max_tokens` can cost."""
    if not per_token():
        return int(settings.CHAT_MESSAGE_COST)
    return token_cost(prompt_tokens=prompt_bound(messages), completion_tokens=max_tokens)


def settled_cost(
    *, reserved: int, messages: Sequence[Message], reply: Reply, complete: bool
) -> int:
    """What a kept reply costs, never more than the `reserved` it was charged.

    A whole reply is priced by the usage the provider reported, or costs the
    reservation when it reported none. A streamed reply the client left
    (`complete` false) never has the provider's usage (it comes last): it
    costs the prompt's bound and a token for each byte of text the client
    was sent, at most the reservation.
    """
    if not per_token():
        return reserved
    if complete:
        if not _counted(reply.prompt_tokens) or not _counted(reply.completion_tokens):
            return reserved
        cost = token_cost(
            prompt_tokens=reply.prompt_tokens,  # type: ignore[arg-type]
            completion_tokens=reply.completion_tokens,  # type: ignore[arg-type]
        )
    else:
        cost = token_cost(
            prompt_tokens=prompt_bound(messages),
            completion_tokens=len(reply.text.encode("utf-8", "surrogatepass")),
        )
    return min(cost, reserved)


def token_cost(*, prompt_tokens: int, completion_tokens: int) -> int:
    """Model tokens at the configured prices, rounded up to a whole token of balance."""
    price = (
        prompt_tokens * settings.CHAT_PROMPT_PRICE_PER_1K
        + completion_tokens * settings.CHAT_COMPLETION_PRICE_PER_1K
    ) / _PER
    return math.ceil(price)


def prompt_bound(messages: Sequence[Message]) -> int:
    """At least as many tokens as the model can count in `messages`."""
    text = sum(len(message.content.encode("utf-8", "surrogatepass")) for message in messages)
    return text + MESSAGE_OVERHEAD_TOKENS * len(messages) + REQUEST_OVERHEAD_TOKENS


def _counted(tokens: int | None) -> bool:
    return tokens is not None and tokens >= 0
