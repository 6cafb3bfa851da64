"""The product: what an account is given and a message costs, the AI that
answers, and how long retries and reservations are remembered.
docs/billing.md and docs/streaming.md say how these fit together."""

import math
from decimal import Decimal, InvalidOperation

from config.settings.environment import env, refuse_to_start

# --- Tokens -----------------------------------------------------------------

SIGNUP_TOKENS = env.int("SIGNUP_TOKENS", default=4000)
# Each active account topped up to this once per calendar month by
# `manage.py grant_monthly_allowances` (schedule it daily); 0: no allowance.
MONTHLY_ALLOWANCE = env.int("MONTHLY_ALLOWANCE", default=0)
CHAT_MESSAGE_COST = env.int("CHAT_MESSAGE_COST", default=100)
MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=4000)
for _name, _minimum in (
    ("SIGNUP_TOKENS", 0),
    ("MONTHLY_ALLOWANCE", 0),
    ("CHAT_MESSAGE_COST", 1),
    ("MAX_MESSAGE_CHARS", 1),
):
    if globals()[_name] < _minimum:
        refuse_to_start(f"{_name} must be at least {_minimum}.")

# How a chat is priced (docs/billing.md#pricing-by-usage): "flat", every chat
# CHAT_MESSAGE_COST; or "per_token", the model's reported usage at these
# prices, in tokens of balance per 1,000 model tokens (fractions allowed).
CHAT_PRICING = env.str("CHAT_PRICING", default="flat")
if CHAT_PRICING not in ("flat", "per_token"):
    refuse_to_start(f"CHAT_PRICING must be flat or per_token, not {CHAT_PRICING!r}.")
# The most a price may be and how finely it may be given: beyond these, a
# price is a typing slip rather than a price.
_MAX_PRICE_PER_1K = Decimal(1_000_000)
_PRICE_PLACES = 6


def _price(name: str, given: str) -> Decimal:
    try:
        price = Decimal(given)
    except InvalidOperation:
        price = Decimal("NaN")
    if (
        not price.is_finite()
        or not 0 <= price <= _MAX_PRICE_PER_1K
        or -price.as_tuple().exponent > _PRICE_PLACES  # type: ignore[operator]
    ):
        refuse_to_start(
            f"{name} must be a number from 0 to {_MAX_PRICE_PER_1K} with at most "
            f"{_PRICE_PLACES} decimal places, not {given!r}."
        )
    return price


CHAT_PROMPT_PRICE_PER_1K = _price(
    "CHAT_PROMPT_PRICE_PER_1K", env.str("CHAT_PROMPT_PRICE_PER_1K", default="10")
)
CHAT_COMPLETION_PRICE_PER_1K = _price(
    "CHAT_COMPLETION_PRICE_PER_1K", env.str("CHAT_COMPLETION_PRICE_PER_1K", default="30")
)
if CHAT_PRICING == "per_token" and not (CHAT_PROMPT_PRICE_PER_1K or CHAT_COMPLETION_PRICE_PER_1K):
    refuse_to_start(
        "CHAT_PRICING=per_token needs CHAT_PROMPT_PRICE_PER_1K or "
        "CHAT_COMPLETION_PRICE_PER_1K above 0."
    )

# --- The AI ----------------------------------------------------------------

# "echo" (answers at once, no network) or "openai": any server that speaks the
# OpenAI Chat Completions API, at AI_BASE_URL (OpenAI itself when empty).
AI_PROVIDER = env.str("AI_PROVIDER", default="echo")
AI_BASE_URL = env.str("AI_BASE_URL", default="") or None
AI_API_KEY = env.str("AI_API_KEY", default="")
AI_MODEL = env.str("AI_MODEL", default="")
# The longest wait for the model's server (connecting, each read), and for a
# whole streamed reply; a slower one is refunded.
AI_TIMEOUT_SECONDS = env.float("AI_TIMEOUT_SECONDS", default=60.0)
AI_MAX_OUTPUT_TOKENS = env.int("AI_MAX_OUTPUT_TOKENS", default=1024)
AI_SYSTEM_PROMPT = env.str("AI_SYSTEM_PROMPT", default="You are a helpful assistant.")
# The model sees this many earlier exchanges of the conversation, so a
# request costs the same however long the conversation grows.
AI_CONTEXT_EXCHANGES = env.int("AI_CONTEXT_EXCHANGES", default=10)
# While the model is silent, a streamed reply sends a comment this often, so
# that proxies and load balancers do not cut the connection as idle.
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=15.0)
if STREAM_HEARTBEAT_SECONDS <= 0:
    refuse_to_start("STREAM_HEARTBEAT_SECONDS must be more than 0.")
if AI_PROVIDER == "openai" and not (AI_API_KEY and AI_MODEL):
    refuse_to_start("AI_PROVIDER=openai needs AI_API_KEY and AI_MODEL.")
if AI_TIMEOUT_SECONDS <= 0:
    refuse_to_start("AI_TIMEOUT_SECONDS must be more than 0.")
for _name, _minimum in (("AI_MAX_OUTPUT_TOKENS", 1), ("AI_CONTEXT_EXCHANGES", 0)):
    if globals()[_name] < _minimum:
        refuse_to_start(f"{_name} must be at least {_minimum}.")
# A charge whose reply has neither arrived nor failed this long after it was
# reserved belongs to a request that died: `manage.py refund_expired_reservations`
# refunds it. Twice the timeout: a streamed reply's deadline is checked as
# pieces arrive, and a piece may come up to one timeout late. (If a live
# request is swept all the same, its reply is not stored: refunded, never
# charged twice.)
CHAT_RESERVATION_EXPIRY_SECONDS = env.float(
    "CHAT_RESERVATION_EXPIRY_SECONDS", default=2 * AI_TIMEOUT_SECONDS + 60
)

# --- Idempotent retries ------------------------------------------------------

IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", default=86400)
# A key still "in progress" after this long belongs to a request that died or
# outlived the AI's timeout: a retry may take it over (the first request's
# charge is refunded).
IDEMPOTENCY_LOCK_SECONDS = env.int(
    "IDEMPOTENCY_LOCK_SECONDS", default=math.ceil(AI_TIMEOUT_SECONDS) + 30
)
