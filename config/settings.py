"""Settings for the creditor-answer analysis product.

Every environment variable the product reads is read here, through django-environ.
The defaults make `bin/start` work on a fresh machine (SQLite, ORM broker, DEBUG on);
production sets DATABASE_URL, SECRET_KEY, DEBUG=False, ALLOWED_HOSTS and usually Q_REDIS_URL.
"""

import warnings
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)

# A development key is acceptable only while DEBUG is on; production must bring its own.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=False the product refuses to start without one: "
            "set SECRET_KEY in the environment or in .env (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'`)."
        )
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Production is served over HTTPS only (usually behind a TLS-terminating proxy).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    # The stock admin with the operators' site (performance and operations pages, index overview).
    "dashboard.apps.OperatorsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "prompts",
    "metrics",
    "extraction",
    "evaluation",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before everything that queries the database: the whole request runs under the timeout.
    "config.middleware.StatementTimeoutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session, before CommonMiddleware: the language comes from the header's switch (a cookie) or the
    # browser's Accept-Language, else LANGUAGE_CODE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

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
            # `money` and `percentage` on every page without a {% load %}: one way to write 1.234,56 € and 98,2 %.
            "builtins": ["config.template_formats"],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"


# Database -------------------------------------------------------------------------------------

def _without_password(url):
    """`url` with the password of its user:password@ part masked, for error messages."""
    before, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, slashes, userinfo = before.rpartition("//")
    return f"{scheme}{slashes}{userinfo.split(':', 1)[0]}:***@{host}"


def _database_from_env():
    raw = env.str("DATABASE_URL", default="sqlite:///" + str(BASE_DIR / "db.sqlite3"))
    # django-environ turns an empty or schemeless URL into a bare KeyError('ENGINE'); say what is wrong.
    try:
        with warnings.catch_warnings():
            # django-environ's own warning prints the whole parsed URL, password included.
            warnings.filterwarnings("ignore", message="Engine not recognized")
            database = env.db_url_config(raw)
        # An unknown scheme ("erika:pw@host/db" reads as scheme "erika") comes back as a bare, undotted engine.
        if "." not in database["ENGINE"]:
            raise ValueError(f"unknown database scheme {database['ENGINE']!r}")
    except (KeyError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a usable database URL ({_without_password(raw)!r}). Use e.g. "
            "sqlite:///db.sqlite3 or postgres://user:password@host:5432/name, or unset it "
            "for the SQLite default."
        ) from exc
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # A web server and a worker write at the same time: WAL, a write lock taken at BEGIN
        # and a generous busy timeout turn "database is locked" errors into short waits.
        database.setdefault("OPTIONS", {}).update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
    else:
        database.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        database.setdefault("CONN_HEALTH_CHECKS", True)
    return database


DATABASES = {"default": _database_from_env()}
# PostgreSQL: longest a web request's query may run (ms; 0: no limit). The worker and nightly jobs keep
# the database's own setting.
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=5000)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Auth, i18n, static ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The operators are a German practice: German unless their browser or the header's switch asks for English.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="de")
LANGUAGES = [("de", _("German")), ("en", _("English"))]
# The project's own catalogue (config/, templates/); each app keeps its strings in <app>/locale/.
LOCALE_PATHS = [BASE_DIR / "locale"]
# 20.11.2026 and 20.11.2026 17:45 rather than Django's "20. November 2026" (config/formats/de/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_THOUSAND_SEPARATOR = True
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies, no manifest: tests and DEBUG runs need no collectstatic step.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FIXTURE_DIRS = [BASE_DIR / "fixtures"]


# Task queue (django-q2) -----------------------------------------------------------------------

Q_REDIS_URL = env.str("Q_REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="creditor-mail"),
    "workers": env.int("Q_WORKERS", default=2),
    # retry must exceed timeout, or a slow task is handed out twice.
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 250,
    # Seconds the ORM broker waits after finding its queue empty, i.e. how late it may see a new task (Redis
    # hands one out at once). 0.2: an experiment's tasks start at once (issue 13) for 5 cheap queries a second.
    "poll": env.float("Q_POLL", default=0.2),
    "sync": env.bool("Q_SYNC", default=False),
}
if Q_REDIS_URL:
    Q_CLUSTER["redis"] = Q_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"


# Product settings -----------------------------------------------------------------------------

# How long a process may serve a cached active prompt before asking the database again.
PROMPT_CACHE_TTL_SECONDS = env.float("PROMPT_CACHE_TTL_SECONDS", default=1.0)
# A render running longer is stopped with a TemplateRenderError (a preview or the worker never hangs).
PROMPT_RENDER_DEADLINE_SECONDS = env.float("PROMPT_RENDER_DEADLINE_SECONDS", default=2.0)

# Safe release (issue 14). The activation gate: validators every activation and canary must pass, like
# AUTH_PASSWORD_VALIDATORS ({"NAME": dotted path, "OPTIONS": {...}}); see prompts/gate.py. An operator with
# prompts.override_activation_gate may override it with a reason.
PROMPT_ACTIVATION_VALIDATORS = []
# What the activation confirmation shows about how well a version answers (its latest experiment against the active
# version's, both versions' accuracy on the reviews): functions (*, template, active) -> HTML; see prompts/evidence.py.
PROMPT_ACTIVATION_EVIDENCE = ["evaluation.evidence.activation_evidence"]
# Four-eyes: activations and canaries are requested by one operator and approved by another. On in production.
PROMPT_FOUR_EYES = env.bool("PROMPT_FOUR_EYES", default=False)
# Who is told about requests, decisions and canary rollbacks/promotions (comma-separated e-mail addresses).
PROMPT_ALERT_EMAILS = env.list("PROMPT_ALERT_EMAILS", default=[])
# Prefix of the admin links in those e-mails, e.g. https://admin.example.org (empty: paths only).
PROMPT_ADMIN_BASE_URL = env.str("PROMPT_ADMIN_BASE_URL", default="").rstrip("/")
# The canary monitor (evaluation.sequential documents the rule): bound on false rollbacks of an equal candidate,
# candidate calls before promotion, the early rule (roll back at once after this share of failures among the
# first calls), and how much dearer per call (a fraction) a candidate may be; empty: no cost test.
PROMPT_ROLLOUT_ALPHA = env.float("PROMPT_ROLLOUT_ALPHA", default=0.01)
PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS = env.int("PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS", default=500)
PROMPT_ROLLOUT_EARLY_CALLS = env.int("PROMPT_ROLLOUT_EARLY_CALLS", default=20)
PROMPT_ROLLOUT_EARLY_FAILURE_SHARE = env.float("PROMPT_ROLLOUT_EARLY_FAILURE_SHARE", default=0.5)
_cost_tolerance = env.str("PROMPT_ROLLOUT_COST_TOLERANCE", default="0.25")
PROMPT_ROLLOUT_COST_TOLERANCE = float(_cost_tolerance) if _cost_tolerance else None

# Outgoing mail (release notifications): EMAIL_URL like smtp+tls://user:password@host:587, or consolemail://
# (the default: mails are printed to the console). DEFAULT_FROM_EMAIL is the sender.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="prompts@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Metrics: raw rows older than this are deleted, but only for days already rolled up.
METRICS_RAW_RETENTION_DAYS = env.int("METRICS_RAW_RETENTION_DAYS", default=30)
# The nightly job re-aggregates this many recent days, so late rows are picked up.
METRICS_REAGGREGATE_DAYS = env.int("METRICS_REAGGREGATE_DAYS", default=3)
METRICS_CLEANUP_BATCH_SIZE = env.int("METRICS_CLEANUP_BATCH_SIZE", default=5000)

# Anthropic API. The key is only needed for real LLM calls; it is never logged or shown.
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="") or None
ANTHROPIC_TIMEOUT_SECONDS = env.float("ANTHROPIC_TIMEOUT_SECONDS", default=60.0)
ANTHROPIC_MAX_RETRIES = env.int("ANTHROPIC_MAX_RETRIES", default=2)

# Extraction: answers below this confidence go to manual review.
REVIEW_CONFIDENCE_THRESHOLD = env.float("REVIEW_CONFIDENCE_THRESHOLD", default=0.7)
# Share of e-mails finished automatically (extracted/classified) drawn into the review queue's QA sample.
REVIEW_SAMPLE_RATE = env.float("REVIEW_SAMPLE_RATE", default=0.05)
# An e-mail opened in the review workstation is held for its operator this long ("next in queue" passes it by).
REVIEW_CLAIM_MINUTES = env.int("REVIEW_CLAIM_MINUTES", default=10)
# Attachments larger than this are stored as refused, never sent to the LLM.
MAX_ATTACHMENT_BYTES = env.int("MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)
# A sender controls how many calls an e-mail costs: only its first PDFs and images are analysed
# (the rest are listed and the e-mail goes to review), and a run stops calling once it has cost this much.
MAX_ANALYSED_ATTACHMENTS = env.int("MAX_ANALYSED_ATTACHMENTS", default=5)


def _usd_amount(name, *, default):
    text = env.str(name, default=default)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"{name} must be an amount in USD such as {default}, not {text!r}.")
    return amount


MAX_COST_PER_EMAIL_USD = _usd_amount("MAX_COST_PER_EMAIL_USD", default="0.50")

# Intake from the practice's IMAP mailbox (extraction.intake): empty IMAP_URL, no fetching and no schedule.
# imaps://user:password@host:993/INBOX (user and password URL-encoded); the password is never logged or shown.
IMAP_URL = env.str("IMAP_URL", default="")
# A private CA's certificate (PEM) to verify the server with; empty: the system's CAs.
IMAP_CA_FILE = env.str("IMAP_CA_FILE", default="")
# Ingested messages are moved here (created if missing); empty, or a server without MOVE: flagged instead.
IMAP_PROCESSED_FOLDER = env.str("IMAP_PROCESSED_FOLDER", default="Processed")
# Messages fetched at a time: at most this many, and at most this many bytes (a larger message comes alone).
IMAP_BATCH_SIZE = env.int("IMAP_BATCH_SIZE", default=100)
IMAP_BATCH_MAX_BYTES = env.int("IMAP_BATCH_MAX_BYTES", default=20 * 1024 * 1024)
IMAP_FETCH_MINUTES = env.int("IMAP_FETCH_MINUTES", default=1)
IMAP_TIMEOUT_SECONDS = env.float("IMAP_TIMEOUT_SECONDS", default=30.0)
# How long a fetch holds the mailbox without a sign of life; a killed worker's fetch blocks no longer.
IMAP_LOCK_SECONDS = env.int("IMAP_LOCK_SECONDS", default=300)
# Largest .eml file the admin upload accepts.
EMAIL_UPLOAD_MAX_BYTES = env.int("EMAIL_UPLOAD_MAX_BYTES", default=25 * 1024 * 1024)
# Experiments (evaluation.experiments): cases answered at once per worker task (threads; the task's own thread
# claims them for the free threads and writes the answers), and how long a claim (and a run's heartbeat) lasts
# before a killed worker's cases are taken up again. A claim must outlast the slowest case: its calls with
# their retries.
EXPERIMENT_CONCURRENCY = env.int("EXPERIMENT_CONCURRENCY", default=4)
# A run is spread over this many worker tasks (each with EXPERIMENT_CONCURRENCY threads), by default one per worker.
EXPERIMENT_TASKS_PER_RUN = env.int("EXPERIMENT_TASKS_PER_RUN", default=Q_CLUSTER["workers"])
EXPERIMENT_CLAIM_SECONDS = env.int("EXPERIMENT_CLAIM_SECONDS", default=600)
# Error pages and reports list the settings: hide IMAP_URL (it carries the mailbox password) too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.SecretHidingExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The HTTP client logs every API request at INFO; the pipeline's own metrics already count them.
    "loggers": {"httpx2": {"level": "WARNING"}, "httpcore2": {"level": "WARNING"}},
}
