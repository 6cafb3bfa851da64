"""Settings, read from the environment (and an optional `.env` file).

Every setting an operator may change is listed in the README's settings table.
Development needs none: `make run` sets DEBUG=1, which allows the built-in
development secret and local host names. With DEBUG off, the app refuses to
start until SECRET_KEY and ALLOWED_HOSTS are given.
"""

import math
import re
import sys
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ

# Lets classes like ModelAdmin[Conversation] be subscripted at run time, as
# the type checker wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------

# Off unless asked for: a forgotten variable must never expose debug pages.
DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105


def _refuse_to_start(reason: str) -> None:
    # One clear line instead of a traceback: this is an operator's mistake.
    sys.exit(f"Refusing to start: {reason}")


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _refuse_to_start("set SECRET_KEY (or DEBUG=1 for local development).")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        _refuse_to_start("set ALLOWED_HOSTS (or DEBUG=1 for local development).")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "api",
    "users",
    "conversations",
]

MIDDLEWARE = [
    # Outermost: every response gets the security headers, CORS preflights
    # answered by the next one included.
    "django.middleware.security.SecurityMiddleware",
    # Before anything that answers on its own (WhiteNoise, CommonMiddleware),
    # so those answers carry CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    # Serves the admin's, Swagger UI's and ReDoc's files from this process,
    # so the docs work offline and behind any server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The admin's flash messages live in its session; the default cookie storage
# builds a signer on every request, API requests included.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "users.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- HTTPS and cookies -------------------------------------------------------

# On by default whenever DEBUG is off; `make serve` turns the redirect off to
# serve plain HTTP on loopback. Behind a TLS-terminating proxy, set
# TRUST_X_FORWARDED_PROTO=1 so Django knows the original request was HTTPS.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# A commitment for the whole domain: the operator opts in.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
X_FRAME_OPTIONS = "DENY"
# On every response (Django's defaults, stated because we rely on them).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]

# --- Browser clients (CORS) ---------------------------------------------------

# Web apps on other origins may call the API only from the origins listed
# (scheme://host[:port], comma-separated); none by default. The API is
# authenticated by bearer tokens, never cookies, so credentials stay off.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "idempotency-key")
CORS_EXPOSE_HEADERS = ("Retry-After", "Idempotent-Replayed")
CORS_ALLOW_CREDENTIALS = False

# --- Database ---------------------------------------------------------------

# An empty DATABASE_URL counts as unset: the SQLite file.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# The health check replaces a connection the database has dropped.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
# PostgreSQL: a pool per server process. A server holds hundreds of threads
# (each waiting seconds on the AI); a connection each would exhaust the
# database's max_connections, so threads borrow one for their queries and give
# it back while the model is thinking. DATABASE_POOL_MAX_SIZE=0 turns the pool
# off for persistent connections, one per thread, kept DATABASE_CONN_MAX_AGE.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.int("DATABASE_POOL_TIMEOUT_SECONDS", default=30),
    }
else:
    # Persistent connections (one per server thread) save a connect per request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for each other instead of failing with
    # "database is locked": WAL lets readers run beside the writer, and
    # BEGIN IMMEDIATE takes the write lock up front, so the busy timeout
    # applies (a deferred transaction that upgrades to a write cannot wait).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------

# Redis when several server processes must share one cache; otherwise each
# process keeps its own in memory.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Passwords --------------------------------------------------------------

# Argon2 (memory-hard) for every new hash, as Django recommends. The others
# still verify older hashes, which Django re-hashes with Argon2 at the next
# successful log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation and time ------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names, compressed copies: browsers may cache them for ever.
    # Needs `manage.py collectstatic` before serving with DEBUG off.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- REST framework ---------------------------------------------------------

# Limits per client address, account or user, kept in the cache (see
# config/throttling.py): "<count>/<second|minute|hour|day>".
THROTTLE_RATES = {
    "login_ip": env.str("THROTTLE_LOGIN_IP", default="30/min"),
    "login_username": env.str("THROTTLE_LOGIN_USERNAME", default="10/min"),
    "register": env.str("THROTTLE_REGISTER", default="10/hour"),
    "chat": env.str("THROTTLE_CHAT", default="30/min"),
}
_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")
for _scope, _rate in THROTTLE_RATES.items():
    if not _RATE.fullmatch(_rate):
        _refuse_to_start(
            f"THROTTLE_{_scope.upper()}={_rate!r} is not a rate like 10/min "
            "(1 or more per second, minute, hour or day)."
        )
# How many proxies in front of the app append to X-Forwarded-For. 0: the
# client's address is the socket's and X-Forwarded-For is ignored, since a
# client can write anything there.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    _refuse_to_start("NUM_PROXIES must be at least 0.")

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
    "TAGS": [
        {"name": "auth", "description": "Register, log in, refresh and log out."},
        {"name": "chat", "description": "Send messages; read the balance, history and ledger."},
        {"name": "conversations", "description": "The conversations exchanges belong to."},
        {"name": "users", "description": "Staff only."},
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ChatStreamEventEnum": "conversations.serializers.STREAM_EVENTS",
    }
    | {
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
}

# --- The product ------------------------------------------------------------

SIGNUP_TOKENS = env.int("SIGNUP_TOKENS", default=4000)
CHAT_MESSAGE_COST = env.int("CHAT_MESSAGE_COST", default=100)
MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=4000)
for _name, _minimum in (("SIGNUP_TOKENS", 0), ("CHAT_MESSAGE_COST", 1), ("MAX_MESSAGE_CHARS", 1)):
    if globals()[_name] < _minimum:
        _refuse_to_start(f"{_name} must be at least {_minimum}.")

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
if AI_PROVIDER == "openai" and not (AI_API_KEY and AI_MODEL):
    _refuse_to_start("AI_PROVIDER=openai needs AI_API_KEY and AI_MODEL.")
if AI_TIMEOUT_SECONDS <= 0:
    _refuse_to_start("AI_TIMEOUT_SECONDS must be more than 0.")
for _name, _minimum in (("AI_MAX_OUTPUT_TOKENS", 1), ("AI_CONTEXT_EXCHANGES", 0)):
    if globals()[_name] < _minimum:
        _refuse_to_start(f"{_name} must be at least {_minimum}.")
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

# --- Logging ----------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The OpenAI SDK's HTTP client logs every request it makes at INFO: a
    # second access log, one line per chat.
    "loggers": {"httpx2": {"level": "WARNING"}},
}
