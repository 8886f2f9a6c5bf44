"""One settings module, driven by the environment.

Every setting a deployment may change is read from an environment variable here;
the README lists them all. App settings (``HITL_CRM_*``) are read lazily by each
app's ``conf.py`` so that ``override_settings`` works in tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false).")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from exc


# --- Core ------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# Where the embedded default keeps its SQLite file, outgoing mail and uploads.
VAR_DIR = Path(os.environ.get("HITL_CRM_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (DEBUG=true uses a development key)."
        )
    SECRET_KEY = "dev-only-key-never-used-in-production-8f3b2c71d9e04a6b"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    # the kernel
    "hitl_crm.web",
    "hitl_crm.accounts",
    "hitl_crm.contacts",
    "hitl_crm.ai",
    "hitl_crm.delivery",
    # the gate and the feature apps
    "approvals",
    "leads",
    "service",
    "marketing",
    "commerce",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "hitl_crm.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "approvals.audit.audit_actor_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "hitl_crm.web.middleware.HtmxSessionMiddleware",
    "hitl_crm.web.middleware.PrivateCacheMiddleware",
]

ROOT_URLCONF = "hitl_crm.urls"
WSGI_APPLICATION = "hitl_crm.wsgi.application"

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
                "hitl_crm.web.context_processors.navigation",
            ],
            # {% partialdef %} everywhere: one template per page, HTMX renders "page.html#part".
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Database --------------------------------------------------------------------------
if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default keeps its SQLite file here
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the demo's web process and eager tasks share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Redis when REDIS_URL is set; throttling and badges use it) -------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hitl-crm"}
    )
}

# --- Auth ------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
CSRF_FAILURE_VIEW = "hitl_crm.web.views.csrf_failure"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "login"
# guardian: no anonymous user row; permissions are for signed-in staff only.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# --- i18n / time -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise from our own files; never a CDN) -----------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Email -----------------------------------------------------------------------------
# Default: every message is written as one .eml file to var/mail, which the demo's
# Outbox page shows. Set EMAIL_BACKEND to Django's SMTP backend for real delivery.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "hitl_crm.delivery.EmlFileBackend")
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Northwind Support <support@northwind.example>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# --- Security --------------------------------------------------------------------------
# HTTPS defaults to on whenever DEBUG is off; set HTTPS=false only behind a proxy you trust
# to terminate TLS and set SECURE_PROXY_SSL_HEADER accordingly.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
# A policy with no inline scripts: every script is one of our static files.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
)

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes an unauthenticated call a 401.
        "hitl_crm.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hitl_crm.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "hitl_crm.api.filters.SearchFilter",
    ],
    # JSON, form and multipart parsers that answer 400 for a NUL character PostgreSQL cannot store.
    "DEFAULT_PARSER_CLASSES": [
        "hitl_crm.api.parsers.JSONParser",
        "hitl_crm.api.parsers.FormParser",
        "hitl_crm.api.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "hitl_crm.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "30/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hitl_crm.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "hitl-crm API",
    "DESCRIPTION": (
        "Partner API of hitl-crm. Authenticate with `Authorization: Token <key>` "
        "(keys are issued by an admin and stored hashed) or a staff session."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # System fonts only (the page loads no web fonts); no search box, whose worker would start
    # from a blob: URL the Content-Security-Policy refuses.
    "REDOC_UI_SETTINGS": {
        "disableSearch": True,
        "theme": {
            "typography": {
                "fontFamily": 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif',
                "headings": {"fontFamily": 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif'},
                "code": {"fontFamily": 'ui-monospace, "DejaVu Sans Mono", monospace'},
            },
        },
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # The shared Error component and 400/401/403/404/409/429 on every operation.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hitl_crm.api.schema.add_error_responses",
    ],
    # Several models have a "status"; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "ApprovalStatusEnum": "approvals.models.ApprovalRequest.Status",
        "CaseStatusEnum": "service.models.Case.Status",
        "RefundStatusEnum": "service.models.RefundRequest.Status",
        "LabelSourceEnum": "service.models.Case.Source",
        "CampaignStatusEnum": "marketing.models.Campaign.Status",
        "VariantStatusEnum": "marketing.models.Variant.Status",
        "SendStatusEnum": "marketing.models.Send.Status",
        "LeadTierEnum": "leads.models.Lead.Tier",
        "LeadStatusEnum": "leads.models.Lead.Status",
        "LeadEventKindEnum": "leads.models.LeadEvent.Kind",
        "AccountTierEnum": "hitl_crm.contacts.models.Account.Tier",
        "ActivityKindEnum": "hitl_crm.contacts.models.Activity.Kind",
    },
}

# --- Celery ----------------------------------------------------------------------------
# With no broker configured, tasks run eagerly in the calling process (the demo default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("ai"), Queue("default"), Queue("dispatch"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redelivery of unacknowledged (acks_late) tasks after a worker dies.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work for `celery beat` (stored in the database by django-celery-beat, where
# admins can pause or reschedule each entry).
CELERY_BEAT_SCHEDULE = {
    **{
        f"worker-heartbeat-{queue}": {
            "task": "hitl_crm.web.tasks.worker_heartbeat_task",
            "schedule": 60.0,
            "args": [queue],
            "options": {"queue": queue, "expires": 55},
        }
        for queue in ("ai", "default", "dispatch")
    },
    "approvals-escalate-overdue": {
        "task": "approvals.tasks.approval_escalate_overdue_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "default"},
    },
    "approvals-refresh-overdue": {
        "task": "approvals.tasks.approval_refresh_overdue_task",
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 55},
    },
    "approvals-reviewer-digest": {
        "task": "approvals.tasks.approval_digest_task",
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 55},
    },
    "service-pipeline-sweep": {
        "task": "service.tasks.message_pipeline_sweep_task",
        "schedule": 300.0,
        "options": {"queue": "default", "expires": 290},
    },
    "marketing-dispatch-due": {
        "task": "marketing.tasks.campaign_dispatch_due_task",
        "schedule": 60.0,
        "options": {"queue": "dispatch", "expires": 55},
    },
    "marketing-retrain": {
        "task": "marketing.tasks.predictive_retrain_task",
        "schedule": crontab(hour=3, minute=15),
        "options": {"queue": "default"},
    },
    "leads-rescore-dirty": {
        "task": "leads.tasks.lead_rescore_dirty_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "default"},
    },
    "leads-retrain-nightly": {
        "task": "leads.tasks.scoring_model_train_task",
        "schedule": crontab(hour=2, minute=30),
        "options": {"queue": "default"},
    },
    "leads-rescore-all-nightly": {
        # Recency features decay with time even when nothing happens to a lead.
        "task": "leads.tasks.lead_rescore_all_task",
        "schedule": crontab(hour=3, minute=15),
        "options": {"queue": "default"},
    },
    "commerce-stock-alerts": {
        "task": "commerce.tasks.stock_alerts_refresh_task",
        "schedule": crontab(hour=4, minute=0),
        "options": {"queue": "default"},
    },
    "commerce-price-suggestions": {
        "task": "commerce.tasks.price_suggestions_refresh_task",
        "schedule": crontab(minute=20),
        "options": {"queue": "default"},
    },
    "commerce-baskets": {
        "task": "commerce.tasks.baskets_mine_task",
        "schedule": crontab(hour=4, minute=30),
        "options": {"queue": "default"},
    },
    "approvals-reap-stuck": {
        "task": "approvals.tasks.approval_reap_stuck_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "dispatch"},
    },
    "approvals-audit-anchor": {
        # Pins the audit chain's head (database, log, optional email) so truncation is detected.
        "task": "approvals.tasks.audit_anchor_task",
        "schedule": crontab(minute="*/15"),
        "options": {"queue": "default", "expires": 840},
    },
}

# --- Logging (JSON lines in production, readable text with DEBUG) -----------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "hitl_crm": {"level": LOG_LEVEL, "propagate": True},
    },
}

# --- hitl-crm app settings (defaults live in each app's conf.py) -------------------------
HITL_CRM_COMPANY_NAME = os.environ.get("HITL_CRM_COMPANY_NAME", "Northwind Outfitters")
HITL_CRM_SITE_URL = os.environ.get("HITL_CRM_SITE_URL", "http://127.0.0.1:8000")
HITL_CRM_AUDIT_KEY = os.environ.get("HITL_CRM_AUDIT_KEY", "")
HITL_CRM_AUDIT_ANCHOR_EMAILS = os.environ.get("HITL_CRM_AUDIT_ANCHOR_EMAILS", "")
# Serve the API schema and its docs pages (/api/schema/, /api/docs/, /api/redoc/) without sign-in.
HITL_CRM_API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)
# Region for national-format phone numbers the trust layer redacts (contacts' own phones win).
HITL_CRM_AI_DEFAULT_REGION = os.environ.get("HITL_CRM_AI_DEFAULT_REGION", "")
HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS = int(os.environ.get("HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS", "900"))
# Undo window: a person's approval is carried out this many seconds later (0: at once).
HITL_CRM_APPROVALS_UNDO_SECONDS = int(os.environ.get("HITL_CRM_APPROVALS_UNDO_SECONDS", "10"))
# One digest per reviewer per this many minutes (sent by beat); without a broker there is no
# beat, so reviewers then get one email per item (0) unless this is set.
HITL_CRM_APPROVALS_DIGEST_MINUTES = int(
    os.environ.get("HITL_CRM_APPROVALS_DIGEST_MINUTES", "0" if CELERY_TASK_ALWAYS_EAGER else "15")
)
# Dashboard and badge counters may be this many seconds stale (cached; 0: counted per request).
HITL_CRM_COUNTER_SECONDS = int(os.environ.get("HITL_CRM_COUNTER_SECONDS", "30"))
