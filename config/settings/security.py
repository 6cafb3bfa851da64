"""HTTPS and cookies, what browsers may load (CSP) and who may call (CORS), and
how passwords are hashed and checked. docs/security.md says what each protects."""

from csp.constants import NONCE, NONE, SELF

from config.settings.environment import DEBUG, env

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
# Load balancers probe health, and Prometheus scrapes each server, over plain
# HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]

# --- Content-Security-Policy --------------------------------------------------

# Every response of the API: JSON, which loads nothing and is framed nowhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "base-uri": [NONE],
        "form-action": [NONE],
        "frame-ancestors": [NONE],
    },
}
# The admin, Swagger UI and ReDoc (api/csp.py): this site's files only; a
# script or style written into the page runs only with the response's nonce.
# Images may be data: URLs (the pages' icons); ReDoc searches in a blob: worker.
CONTENT_SECURITY_POLICY_PAGES = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# The web client at `/` (web/, api/csp.py): its own files only, no inline
# script or style (so no nonce), requests to this site only, and no form that
# submits without its script. Trusted Types make every assignment of a string
# to innerHTML and its like throw: the client writes text only.
CONTENT_SECURITY_POLICY_WEB_CLIENT = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "base-uri": [NONE],
        "form-action": [NONE],
        "frame-ancestors": [NONE],
        "require-trusted-types-for": ["'script'"],
        "trusted-types": [NONE],
    },
}

# --- Browser clients (CORS) ---------------------------------------------------

# Web apps on other origins may call the API only from the origins listed
# (scheme://host[:port], comma-separated); none by default. The API is
# authenticated by bearer tokens, never cookies, so credentials stay off.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ("Retry-After", "Idempotent-Replayed", "X-Request-ID", "X-Tokens-Remaining")
CORS_ALLOW_CREDENTIALS = False

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
