"""The HTTP API: REST framework, rate limits, request and page sizes, the error
format, JWT lifetimes, and the OpenAPI schema."""

import re
from datetime import timedelta

from config.settings.environment import env, refuse_to_start

# --- Rate limits ------------------------------------------------------------

# Limits per client address, account or user, kept in the cache (see
# api/throttling.py and users/throttling.py): "<count>/<second|minute|hour|day>".
THROTTLE_RATES = {
    "login_ip": env.str("THROTTLE_LOGIN_IP", default="30/min"),
    "login_username": env.str("THROTTLE_LOGIN_USERNAME", default="10/min"),
    "register": env.str("THROTTLE_REGISTER", default="10/hour"),
    "chat": env.str("THROTTLE_CHAT", default="30/min"),
}
_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")
for _scope, _rate in THROTTLE_RATES.items():
    if not _RATE.fullmatch(_rate):
        refuse_to_start(
            f"THROTTLE_{_scope.upper()}={_rate!r} is not a rate like 10/min "
            "(1 or more per second, minute, hour or day)."
        )
# How many proxies in front of the app append to X-Forwarded-For. 0: the
# client's address is the socket's and X-Forwarded-For is ignored, since a
# client can write anything there.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    refuse_to_start("NUM_PROXIES must be at least 0.")

# --- REST framework ---------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    "NUM_PROXIES": NUM_PROXIES,
}

# A chat message is at most a few KB; larger bodies get 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=256 * 1024)

API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=20)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)

# The error responses the schema documents for every operation where they
# can occur (402 is documented on the chat operation itself; 429 on the
# throttled ones).
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "api.exceptions.ExceptionHandler",
    "ALLOWED_ERROR_STATUS_CODES": [
        *("400", "401", "403", "404", "405", "406", "415", "429", "500"),
    ],
    "ERROR_SCHEMAS": {"401": "api.openapi.ErrorResponse401Serializer"},
}

# --- JWT --------------------------------------------------------------------

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_SECONDS", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_REFRESH_LIFETIME_SECONDS", default=86400)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # SimpleJWT's AccessToken, refusing times out of range (users/tokens.py).
    "AUTH_TOKEN_CLASSES": ("users.tokens.SessionAccessToken",),
}

# --- OpenAPI ----------------------------------------------------------------

SPECTACULAR_SETTINGS = {
    "TITLE": "Metered AI Chat API",
    "DESCRIPTION": (
        "Register, log in for a JWT pair, and chat with an AI. Every message costs "
        "tokens from your balance; every exchange is kept in a conversation. "
        "Errors always have the shape `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Operations in URL order (register, log in, refresh, …), not alphabetical,
    # and the groups in the order a new integrator needs them.
    "SORT_OPERATIONS": False,
    # Operation ids (the generated clients' method names) are the path after
    # /api/; /readyz/, outside it, must not change the prefix they drop.
    "SCHEMA_PATH_PREFIX": "/api/",
    "TAGS": [
        {"name": "auth", "description": "Register, log in, refresh and log out."},
        {"name": "chat", "description": "Send messages; read the balance, history and ledger."},
        {"name": "conversations", "description": "The conversations exchanges belong to."},
        {"name": "keys", "description": "API keys for integrators (managed with a log-in)."},
        {"name": "users", "description": "Staff only."},
        {"name": "health", "description": "Readiness, for load balancers."},
        {"name": "openai", "description": "OpenAI-compatible: /v1/chat/completions, /v1/models."},
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The bearer token pasted into Authorize lives as long as the page: kept
    # in localStorage, any script of this origin could read it later.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
        for name in (
            "ValidationErrorEnum",
            "ClientErrorEnum",
            "ServerErrorEnum",
            "ErrorCode403Enum",
            "ErrorCode404Enum",
            "ErrorCode405Enum",
            "ErrorCode406Enum",
            "ErrorCode415Enum",
            "ErrorCode429Enum",
            "ErrorCode500Enum",
        )
    },
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums"],
    # api.converters.IdConverter: a UUID, in either case.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "string", "format": "uuid"}},
}
