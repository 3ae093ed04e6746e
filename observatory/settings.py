"""Settings: one module, every value from the environment with a safe local default.

APP_ENV=local (the default) is for a laptop: embedded PostgreSQL when DATABASE_URL is unset,
a generated secret key kept under .data/. APP_ENV=production refuses to start without
SECRET_KEY and ALLOWED_HOSTS.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from observatory.embedded import embedded_database_settings
from observatory.env import env_bool, env_choice, env_int, env_int_map, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")) or BASE_DIR / ".data")

APP_ENV = env_choice("APP_ENV", ("local", "production"), "local")
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    if APP_ENV == "production":
        raise ImproperlyConfigured("SECRET_KEY must be set when APP_ENV=production")
    # Local use: one random key per checkout, kept so that tokens survive restarts.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

if APP_ENV == "production" and not env_str("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when APP_ENV=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "accounts",
    "metrics",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "observatory.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves admin and Swagger assets from the app server itself: nothing else to run.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "observatory.middleware.RateLimitHeadersMiddleware",
    "observatory.middleware.ApiErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "observatory.urls"
WSGI_APPLICATION = "observatory.wsgi.application"
ASGI_APPLICATION = "observatory.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -----------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
else:
    _default_db = embedded_database_settings(DATA_DIR / "pg")
    _default_db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
# Off by default: the check is a round trip at the start of every request (~6 % of a cached
# answer). After a database restart each worker then answers one request with a 503 (a
# retryable error) and reconnects for the next; set DB_CONN_HEALTH_CHECKS=true to trade the
# round trip for not even that.
_default_db["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", False)
_default_db.setdefault("OPTIONS", {})
# A down or unreachable database must turn into a quick 503, not a hung worker.
_default_db["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3))
# Django turns psycopg's prepared statements off unless asked (for connection poolers that
# cannot keep them), and psycopg then ignores `prepare=True` too: the membership check on
# every request was planned each time (0.3 ms of its 0.5). With them on, the statements asked
# to be prepared (the authentication lookups, the ingest statement) are planned once per
# connection; metrics queries opt out (metrics.query.runner). Set DB_PREPARED_STATEMENTS=false
# behind a pooler in transaction mode that does not support them (PgBouncer before 1.21).
_default_db["OPTIONS"].setdefault("prepare_threshold", 5 if env_bool("DB_PREPARED_STATEMENTS", True) else None)
# Metrics queries hash-aggregate many rollup rows; the 4 MB default spills them to disk.
_default_db["OPTIONS"].setdefault("options", f"-c work_mem={env_str('DB_WORK_MEM', '64MB')}")
_default_db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_observatory")}
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and the rate-limit store) -----------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "obs") or "obs"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: a Redis outage must degrade to "uncached", not stall requests.
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "observatory",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
CACHE_DEFAULT_TTL = env_int("CACHE_DEFAULT_TTL", 60, minimum=0)

# --- Auth ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1, minimum=1)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

# Requests per minute, per role for users and for every API key (SPEC §7).
RATE_LIMITS = env_int_map(
    "RATE_LIMITS",
    {
        "admin": 6000,
        "developer": 3000,
        "viewer": 600,
        "billing": 600,
        "api_key": 6000,
        "default": 600,
        # Unauthenticated calls (the login endpoint), per client address.
        "anonymous": 120,
    },
)
RATE_LIMIT_WINDOW_SECONDS = env_int("RATE_LIMIT_WINDOW_SECONDS", 60, minimum=1)
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.MembershipJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RequiredPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.PrincipalRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["observatory.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "observatory.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LLM Observatory API",
    "DESCRIPTION": (
        "Metrics for LLM calls: ingest one span per call, then ask what you spent, how fast, "
        "how often it failed, per model, user and environment.\n\n"
        "Authenticate with a JWT from `POST /api/v1/auth/token` (`Authorization: Bearer <access>`) "
        "or with an API key (`Authorization: Bearer obs_...` or `x-api-key: obs_...`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Enums shared by several fields get one name each (from the metrics catalog).
    "ENUM_NAME_OVERRIDES": {
        "DimensionEnum": "metrics.query.catalog.DIMENSION_CHOICES",
        "MetricEnum": "metrics.query.catalog.METRIC_CHOICES",
        "AggregationEnum": "metrics.query.catalog.AGGREGATION_CHOICES",
    },
    # The docs pages work offline: assets come from drf-spectacular-sidecar, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayRequestDuration": True},
}

# --- Ingest and request limits ---------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=1024)
INGEST_MAX_SPANS = env_int("INGEST_MAX_SPANS", 5000, minimum=1)
# The cap applies after decompression too (a gzip bomb is refused, not inflated).
INGEST_MAX_DECOMPRESSED_BYTES = env_int("INGEST_MAX_DECOMPRESSED_BYTES", 64 * 1024 * 1024, minimum=1024)
# Longest an ingest transaction may wait or run before the client is told to retry (503).
INGEST_STATEMENT_TIMEOUT_MS = env_int("INGEST_STATEMENT_TIMEOUT_MS", 15000, minimum=100)
# Client clocks drift; spans further in the future than this are refused.
INGEST_MAX_FUTURE_HOURS = env_int("INGEST_MAX_FUTURE_HOURS", 24, minimum=0)

# --- Metrics query limits (SPEC §11) -------------------------------------------------------
METRICS_MAX_RANGE_DAYS = env_int("METRICS_MAX_RANGE_DAYS", 90, minimum=1)
METRICS_MAX_METRICS = env_int("METRICS_MAX_METRICS", 20, minimum=1)
METRICS_MAX_GROUP_BY = env_int("METRICS_MAX_GROUP_BY", 5, minimum=1)
METRICS_MAX_ROWS = env_int("METRICS_MAX_ROWS", 10_000, minimum=1)
METRICS_MAX_BUCKETS = env_int("METRICS_MAX_BUCKETS", 10_000, minimum=1)
METRICS_MAX_FILTERS = env_int("METRICS_MAX_FILTERS", 20, minimum=1)
METRICS_MAX_FILTER_VALUES = env_int("METRICS_MAX_FILTER_VALUES", 100, minimum=1)

# --- Operations -----------------------------------------------------------------------
PROMETHEUS_TOKEN = env_str("PROMETHEUS_TOKEN")
PROMETHEUS_EXPORT_MIGRATIONS = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if APP_ENV == "production":
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "observatory.request_context.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "pgserver": {"level": "WARNING"},
    },
}
