"""The Django core: secrets and hosts, apps, middleware, templates, language
and time, static files."""

from api.web_client import web_client_headers
from config.settings.environment import BASE_DIR, DEBUG, env, refuse_to_start

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        refuse_to_start("set SECRET_KEY (or DEBUG=1 for local development).")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        refuse_to_start("set ALLOWED_HOSTS (or DEBUG=1 for local development).")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    # Django's admin, with its log-in within the API's log-in limits.
    "users.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
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
    # Before all the others: every answer, theirs included, gets its request
    # id, its log line and its metrics (api/middleware.py).
    "api.middleware.RequestMiddleware",
    # Next: every response gets the security headers, CORS preflights
    # answered by the next one included.
    "django.middleware.security.SecurityMiddleware",
    # A Content-Security-Policy on every response (the API's strict, the
    # pages' their own: api/csp.py), the answers of those below included.
    "api.csp.ContentSecurityPolicyMiddleware",
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
ASGI_APPLICATION = "config.asgi.application"
# Under the ASGI server (config/asgi.py), the threads of each worker process
# that run the synchronous views; each keeps its database connection.
SYNC_THREADS = env.int("SYNC_THREADS", default=16)
if SYNC_THREADS < 1:
    refuse_to_start("SYNC_THREADS must be at least 1.")
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
                # CSP_NONCE: this response's nonce, for a page's own script or style.
                "csp.context_processors.nonce",
            ],
        },
    },
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
# The web client (web/, docs/web-client.md): plain files that WhiteNoise serves
# at the site's root as they are in the repository (no collectstatic, no build
# step), with web/index.html at `/`. Its modules import each other by name, not
# by hashed name, so each load revalidates them (api/web_client.py).
WHITENOISE_ROOT = BASE_DIR / "web"
WHITENOISE_INDEX_FILE = True
WHITENOISE_ADD_HEADERS_FUNCTION = web_client_headers
