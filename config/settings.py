"""Tenantry settings, read from the environment (12-factor).

Fail closed: without ``DEBUG=true`` these are production settings, which need
``SECRET_KEY``, a PostgreSQL ``DATABASE_URL`` and a ``REDIS_URL`` and refuse to start
without them. ``make run`` (and the test harness) set ``DEBUG=true`` for the local defaults:
an SQLite file under ``var/`` and a local-memory cache. See README.md.
"""

import base64
import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path

import csp.constants as csp
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)  # true: local development; off: production
SECRET_KEY = env.str("SECRET_KEY", default="")  # required in production: random, 50+ chars
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-" + "x" * 32

# The deployment's registrable domain: portal.<BASE_DOMAIN>, api.<BASE_DOMAIN> share a session.
BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
# Host headers served (comma-separated); the subdomains of BASE_DOMAIN by default.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", f".{BASE_DOMAIN}"])
# Unsafe requests from any of the deployment's subdomains (a form on portal.<base> posting to
# api.<base>) pass Django's Origin check; no other origin does.
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS",
    default=[] if BASE_DOMAIN == "localhost" else [f"https://*.{BASE_DOMAIN}"],
)

INSTALLED_APPS = [
    "tenancy.admin_site.AdminConfig",  # django.contrib.admin, spanning orgs (tenancy.rls)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "social_django",
    "tenancy",
    # TOTP devices of the second factor (accounts/mfa.py); before accounts, whose admin
    # takes django-otp's device admin back out (device writes go through our services).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "audit",
    "audit.webhooks",
    "hooks",
    "orgs",
    "accounts",
    "apikeys",
    "usage",
]

# Sessions, the session's user and messages are the browser's: config.middleware's versions
# of Django's classes pass API requests without a session cookie straight on. (CSRF stays
# Django's own: it costs a cookie lookup, and Django's deploy check looks for it by name.)
MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.request_log.RequestLogMiddleware",
    # Security headers wrap everything below, so the early answers (413, 401) carry them too.
    "django.middleware.security.SecurityMiddleware",
    # Static files (the portal's css/js) served by the app itself, compressed and cached.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    # django-csp's (building the settings' policy once, not per response); pages that post
    # to another origin widen form-action for themselves (the sign-in page, for the Google
    # form: accounts.views.allow_google_form).
    "config.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Rate-limit headers on every /api/ answer, the early ones below (413, 401) included;
    # what never reached the throttle is counted here, after the fact.
    "config.ratelimiting.RateLimitMiddleware",
    "config.middleware.BodySizeLimitMiddleware",
    "config.middleware.AmbiguousCredentialsMiddleware",
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionSlidingMiddleware",
    "config.middleware.MessageMiddleware",
    "apikeys.middleware.KeyUsageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "orgs.portal.portal_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    # PostgreSQL in production (postgres://user:pass@host:5432/db); SQLite for make run only
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{LOCAL_DIR / 'tenantry.sqlite3'}")
}
if not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production needs PostgreSQL: set DATABASE_URL (or DEBUG=true)")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 with Django's own connection pool; CONN_MAX_AGE must stay 0 with a pool.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),  # connections kept per process
        "max_size": env.int("DATABASE_POOL_MAX", default=10),  # connections at most per process
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),  # seconds to wait for one
    }
# Row-level security (tenancy.rls, docs/deployment.md): DATABASE_URL's role owns no table and
# has NOBYPASSRLS; the owner role that runs migrations has a URL of its own.
# The owner role's URL (postgres://owner:pass@host/db): `manage.py migrate` runs as it when
# set; web processes and workers need not have it. Unset: migrate uses DATABASE_URL.
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
if DATABASE_OWNER_URL:
    DATABASES["owner"] = env.db_url("DATABASE_OWNER_URL")
    DATABASES["owner"]["CONN_MAX_AGE"] = 0
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}  # the same database under tests
# The role (NOLOGIN, BYPASSRLS, owns nothing; DATABASE_URL's role is a member) that code
# spanning orgs switches to for one transaction (tenancy.rls.cross_org); empty: no switch.
DATABASE_CROSS_ORG_ROLE = env.str(
    "DATABASE_CROSS_ORG_ROLE",
    default="tenantry_crossorg" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "",
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The per-request credential lookups (API key, JWT) are prepared once per connection on
# PostgreSQL. Behind PgBouncer in transaction mode that needs PgBouncer >= 1.21 with
# max_prepared_statements > 0; set false otherwise.
DATABASE_PREPARED_LOOKUPS = env.bool("DATABASE_PREPARED_LOOKUPS", default=True)

# --- Cache: Redis when REDIS_URL is set (shared rate limits), else local memory ---------
REDIS_URL = env.str("REDIS_URL", default="")  # required in production: redis://host:6379/0
if not DEBUG and not REDIS_URL:
    # A per-process cache would give every worker its own rate-limit counters.
    raise ImproperlyConfigured("Production needs Redis for shared rate limits: set REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.google.GoogleOIDC",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# --- Google sign-in (social-auth-app-django; accounts/google.py, accounts/pipeline.py) ---
# Without a client id the sign-in page offers the password form only. The endpoint is
# Google's; tests point it at a local OpenID provider (its discovery document gives the
# authorization, token, userinfo and JWKS URLs).
SOCIAL_AUTH_GOOGLE_OIDC_KEY = env.str("GOOGLE_CLIENT_ID", default="")
SOCIAL_AUTH_GOOGLE_OIDC_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
SOCIAL_AUTH_GOOGLE_OIDC_OIDC_ENDPOINT = env.str(
    "GOOGLE_OIDC_ENDPOINT", default="https://accounts.google.com"
)
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_URL_NAMESPACE = "social"
# The OAuth callback URL sent to Google is https (behind a TLS-terminating proxy too).
SOCIAL_AUTH_REDIRECT_IS_HTTPS = env.bool("SOCIAL_AUTH_REDIRECT_IS_HTTPS", default=not DEBUG)
# Only what the pipeline needs is kept: never the provider's access or id token.
SOCIAL_AUTH_GOOGLE_OIDC_EXTRA_DATA: list[str] = []
SOCIAL_AUTH_PIPELINE = [
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "accounts.pipeline.require_verified_email",
    "social_core.pipeline.social_auth.social_user",
    "accounts.pipeline.user_by_verified_email",
    "accounts.pipeline.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "accounts.pipeline.join_orgs",
]

# --- Sessions: one cookie across the deployment's subdomains ---------------------------
# accounts.BrowserSession rows (so a person's sessions can be listed and ended), read through
# Redis when REDIS_URL is set.
SESSION_ENGINE = "accounts.session_store"
SESSION_COOKIE_NAME = env.str("SESSION_COOKIE_NAME", default="tnt_session")
SESSION_COOKIE_DOMAIN = (
    # The cookie's Domain: every subdomain of BASE_DOMAIN shares the session.
    env.str(
        "SESSION_COOKIE_DOMAIN", default="" if BASE_DOMAIN == "localhost" else f".{BASE_DOMAIN}"
    )
    or None
)
# Seconds a session lives without use (it slides forward while used).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=7 * 24 * 3600)
# The expiry slides forward as the session is used, with one store write per this many
# seconds at most (accounts.middleware.SessionSlidingMiddleware).
SESSION_TOUCH_SECONDS = env.int("SESSION_TOUCH_SECONDS", default=300)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_DOMAIN = SESSION_COOKIE_DOMAIN
CSRF_FAILURE_VIEW = "config.views.csrf_failure"  # the error shape under /api/

# --- HTTPS and security headers (production) -------------------------------------------
# Clients sit behind this many trusted proxies (load balancers) that set X-Forwarded-For
# and X-Forwarded-Proto. With none, those headers come from the client and mean nothing.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain-http requests are redirected to https (the health probes excepted).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/health/ready$"]
# Strict-Transport-Security: max-age, includeSubDomains, and preload (a deployer's choice:
# preloading binds the domain into browsers' lists).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp) on every response: no inline script or style without
# the response's nonce ({{ request.csp_nonce }}), nothing from other origins, never framed.
# JSON answers carry it too; it costs nothing there and covers a browser that renders one.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

# --- Internationalisation, static ------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(LOCAL_DIR / "static"))  # collectstatic target
# WhiteNoise serves STATIC_ROOT (after `collectstatic`) in production, and the source
# folders through the finders when DEBUG is on: no CDN, no separate static server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Read here from the environment's DEBUG (the test runner turns settings.DEBUG off later):
# development and tests serve the source folders, with no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# EMAIL_URL (smtp://user:pass@host:587/?tls=True) configures SMTP in one variable; without it,
# EMAIL_BACKEND alone (the console by default: local mail is printed, and production refuses it).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        # Django's mail backend, when EMAIL_URL is unset (production refuses the console).
        "EMAIL_BACKEND",
        default="django.core.mail.backends.console.EmailBackend",
    )
# The From: of invitations, password resets and leak notices.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tenantry <no-reply@localhost>")

# --- REST API --------------------------------------------------------------------------
# Every collection's page: ?limit= defaults to PAGE_SIZE and is capped at MAX_PAGE_SIZE
# (config.pagination, and the audit log's cursor pages).
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "apikeys.authentication.APIKeyAuthentication",
        # The browser's session cookie (CSRF enforced on unsafe methods); last, so an
        # explicit Authorization header decides when both are sent.
        "accounts.session_auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    # DRF's, with a shortcut for no Accept header, */* or the first renderer's type.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.ContentNegotiation",
    # OPTIONS answers 405 like any other method a route does not serve (no CORS here).
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["config.pagination.SortFilter"],
    "PAGE_SIZE": PAGE_SIZE,
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["config.ratelimiting.NestedRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tenantry API",
    "DESCRIPTION": (
        "Multi-tenant identity and API keys. Authenticate with `Authorization: Bearer <jwt>` "
        "or an API key (`Authorization: Bearer <key>`, `Authorization: <key>` or "
        "`X-API-Key: <key>`). In a browser, the session cookie of the portal's sign-in "
        "authenticates too (unsafe methods need the `X-CSRFToken` header)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.0.3",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from our own static files, not a third-party CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: null keeps Swagger UI from sending our document to swagger.io's online
    # validator (its default on any non-localhost host).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "GET_LIB_DOC_EXCLUDES": "config.openapi.doc_excludes",
    # securitySchemes come from the authentication classes' extensions (accounts/schema.py,
    # apikeys/schema.py), declared once there.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
        "config.ratelimiting.add_rate_limit_headers",
    ],
}

# --- Metrics: /metrics answers these networks only (a 404 to anyone else) ----------------
# Networks (CIDR) whose REMOTE_ADDR may read /metrics; anyone else gets a 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_network!r} is not a network") from None

# --- Logging: every line carries the request id -----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            # One JSON object a line in production (LOG_FORMAT=json|plain); text locally.
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),  # json|plain
        }
    },
    "root": {
        "handlers": ["console"],
        # The root logger's level: DEBUG, INFO, WARNING, ERROR.
        "level": env.str("LOG_LEVEL", default="INFO"),
    },
    "loggers": {
        # Django's own request logger would log the 4xx/5xx a second time, without our id.
        "django.request": {"handlers": [], "level": "ERROR", "propagate": False},
    },
}

# --- Tokens ----------------------------------------------------------------------------
# Access tokens are JWTs (simplejwt encodes and verifies them); refresh tokens are opaque,
# one-time, stored hashed, and grouped in families for reuse detection (accounts/tokens.py).
# Access tokens are signed with Ed25519 keys that carry an id (accounts/signing_keys.py):
# JWT_SIGNING_KEYS="j2:<base64url 32-byte seed>,j1:<old>" verify; JWT_SIGNING_KEY_ID signs.
# Production must set them; the local run derives one from SECRET_KEY.
if not DEBUG and not env.str("JWT_SIGNING_KEYS", default=""):
    raise ImproperlyConfigured(
        "Production needs JWT_SIGNING_KEYS (manage.py rotate_jwt_key prints a new one)"
    )
JWT_SIGNING_KEYS = dict(
    item.split(":", 1)
    for item in env.list(
        "JWT_SIGNING_KEYS",
        default=[
            "j1:"
            + base64.urlsafe_b64encode(hashlib.sha256(("jwt:" + SECRET_KEY).encode()).digest())
            .rstrip(b"=")
            .decode()
        ],
    )
)
# The id of the key in JWT_SIGNING_KEYS that signs new tokens (the first by default).
JWT_SIGNING_KEY_ID = env.str("JWT_SIGNING_KEY_ID", default=next(iter(JWT_SIGNING_KEYS)))
SIMPLE_JWT = {
    "ALGORITHM": "EdDSA",
    "ISSUER": env.str("JWT_ISSUER", default="tenantry"),  # the tokens' iss claim
    # An access token's lifetime in seconds.
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("ACCESS_TOKEN_SECONDS", default=900)),
    "USER_ID_CLAIM": "user_id",
    "LEEWAY": 0,
}
# A sign-in (token family) dies after this many days without a refresh...
REFRESH_TOKEN_IDLE_LIFETIME = timedelta(days=env.int("REFRESH_TOKEN_IDLE_DAYS", default=14))
# A spent refresh token presented again within this many seconds of its use is refused
# (401) without revoking its sign-in: concurrent refreshes by one client. Later, it revokes.
REFRESH_TOKEN_REUSE_LEEWAY = timedelta(
    # Seconds after its use during which a spent refresh token is refused without revoking.
    seconds=env.int("REFRESH_TOKEN_REUSE_LEEWAY_SECONDS", default=10)
)
# ...and after this many days in any case.
REFRESH_TOKEN_ABSOLUTE_LIFETIME = timedelta(days=env.int("REFRESH_TOKEN_ABSOLUTE_DAYS", default=30))
# --- API keys ---------------------------------------------------------------------------
# Keys read <prefix>_live_... or <prefix>_test_...; one prefix per deployment.
API_KEY_PREFIX = env.str("API_KEY_PREFIX", default="tnt")
# Peppers as "id:secret,id:secret"; new keys use API_KEY_PEPPER_ID, old ones keep theirs.
# Production must set them: a pepper derived from SECRET_KEY would tie every key's life to
# that key's (rotate it and every API key breaks) and make one leak expose both.
if not DEBUG and not env.str("API_KEY_PEPPERS", default=""):
    raise ImproperlyConfigured("Production needs API_KEY_PEPPERS (e.g. k1:<64 random hex>)")
API_KEY_PEPPERS = dict(
    item.split(":", 1)
    for item in env.list(
        # "id:secret,id:secret": every listed pepper verifies the keys hashed under it.
        "API_KEY_PEPPERS",
        default=[f"k1:{hashlib.sha256(('api-key-pepper:' + SECRET_KEY).encode()).hexdigest()}"],
    )
)
# The pepper new keys are hashed under (the first listed by default).
API_KEY_PEPPER_ID = env.str("API_KEY_PEPPER_ID", default=next(iter(API_KEY_PEPPERS)))
if API_KEY_PEPPER_ID not in API_KEY_PEPPERS:
    raise ImproperlyConfigured("API_KEY_PEPPER_ID names no pepper in API_KEY_PEPPERS")
API_KEY_LAST_USED_INTERVAL = 60  # seconds: last_used_at is written at most this often
# --- Rate limits (orgs/ratelimits.py; README "Rate limits") ---------------------------------
# Every API route: per principal (key, person in an org, or client address when anonymous),
# nested in a per-org ceiling. Orgs override in Organization.settings["rate_limits"]
# ({"org", "key", "user", "public"}); a key narrows its own with APIKey.rate_limit.
RATE_LIMIT_ORG = env.str("RATE_LIMIT_ORG", default="3000/m")  # all of an org's credentials
RATE_LIMIT_KEY = env.str("RATE_LIMIT_KEY", default="600/m")  # per API key
RATE_LIMIT_USER = env.str("RATE_LIMIT_USER", default="600/m")  # per person (JWT/session) per org
RATE_LIMIT_ANONYMOUS = env.str("RATE_LIMIT_ANONYMOUS", default="120/m")  # per client address
PUBLIC_API_RATE = env.str("PUBLIC_API_RATE", default="300/15m")  # per key, /api/public/*
# Each process reserves a fast bucket's tokens from Redis in batches of at most this many
# seconds of its rate (and 1/16 of what is left, and 100), then spends them without a round
# trip; no window ever admits more than its limit. 0: one Redis round trip per request.
# Sign-in and other abuse limits are always counted one by one (orgs/ratelimits.py).
RATE_RESERVATION_SECONDS = env.int("RATE_RESERVATION_SECONDS", default=1)
# The audit log's "own events" (audit:read_own) ask apikeys, which audit stands below.
AUDIT_OWN_API_KEY_IDS = "apikeys.selectors.api_key_ids_created_by"
# Abuse limits on top: invitations (they send email) per org and per inviter; organizations
# created per person; Django admin sign-in attempts per client address and per username.
INVITATION_RATE_ORG = env.str("INVITATION_RATE_ORG", default="100/h")
INVITATION_RATE_INVITER = env.str("INVITATION_RATE_INVITER", default="30/h")
ORG_CREATE_RATE = env.str("ORG_CREATE_RATE", default="5/d")
ADMIN_LOGIN_RATE_IP = env.str("ADMIN_LOGIN_RATE_IP", default="10/m")
ADMIN_LOGIN_RATE_USERNAME = env.str("ADMIN_LOGIN_RATE_USERNAME", default="10/h")
# Usage counters (usage/counters.py) live in Redis this long; run `manage.py rollup_usage`
# more often than that (hourly is plenty) to copy them into PostgreSQL.
USAGE_REDIS_DAYS = env.int("USAGE_REDIS_DAYS", default=8)
# The credentials /api/public/* accepts (orgs.bases.PublicKeyView): an org's API key only.
PUBLIC_KEY_AUTHENTICATION_CLASSES = ["apikeys.authentication.APIKeyAuthentication"]
LEAK_REPORT_RATE = env.str("LEAK_REPORT_RATE", default="60/m")  # per IP
RATELIMIT_IP_META_KEY = "orgs.ratelimits.ratelimit_ip"  # never empty, never junk

LOGIN_RATE = env.str("LOGIN_RATE", default="10/m")  # per IP and per email, each
REFRESH_RATE = env.str("REFRESH_RATE", default="60/m")  # per IP
INVITATION_LIFETIME = timedelta(days=env.int("INVITATION_DAYS", default=7))  # then it expires
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000")  # emailed links point here

# --- Second factor (accounts/mfa.py; README "Second factor") ----------------------------------
# Code attempts (right or wrong) per person, the API and the portal together (per client
# address: LOGIN_RATE).
MFA_RATE = env.str("MFA_RATE", default="10/15m")
MFA_TOKEN_ATTEMPTS = env.int("MFA_TOKEN_ATTEMPTS", default=5)  # wrong codes: the mfa_token dies
# How long the password step's mfa_token (and the portal's code page) stays usable.
MFA_TOKEN_LIFETIME = timedelta(seconds=env.int("MFA_TOKEN_SECONDS", default=300))
MFA_ISSUER = "Tenantry"  # the issuer authenticator apps show (otpauth:// URI)
MFA_RECOVERY_CODES = 10  # single-use recovery codes per enrollment
# django-otp's own per-device backoff is off: the limits above (Redis, every host) replace it.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = MFA_ISSUER
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Lifecycle events and webhooks ---
# Audit events are kept this many days unless the org's settings["audit_retention_days"] says
# otherwise; `manage.py purge_audit` (run it daily) deletes older ones.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Webhook and pre-write hook targets must be https, and may not resolve to private or
# reserved addresses (SSRF); both are relaxed in local development only.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=DEBUG)
# Pre-write hooks: how long a write waits for ALL its hooks' verdicts together (asked one
# after another, each gets what the ones before left; resolving and connecting included).
# A hook not answered, or not reached, in time counts as timed out and its own failure mode
# (open or closed) decides. The person and a sync worker are waiting: well under
# gunicorn's --timeout.
PRE_WRITE_HOOK_TIMEOUT_SECONDS = env.float("PRE_WRITE_HOOK_TIMEOUT_SECONDS", default=3.0)
# `manage.py deliver_events`: per-request timeout, and retries with exponential backoff
# (base, doubling, capped, +/- jitter) until the delivery is dead after MAX_ATTEMPTS.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=12)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
WEBHOOK_BACKOFF_JITTER = env.float("WEBHOOK_BACKOFF_JITTER", default=0.1)
# GET /api/events/stream (Server-Sent Events, served under ASGI): each open stream polls the
# outbox this often, sends a keep-alive comment after this long without an event (proxies
# drop idle connections), and re-authenticates its request this often, ending the stream
# once the credential or the role no longer allows it.
EVENT_STREAM_POLL_SECONDS = env.float("EVENT_STREAM_POLL_SECONDS", default=1.0)
EVENT_STREAM_KEEPALIVE_SECONDS = env.float("EVENT_STREAM_KEEPALIVE_SECONDS", default=15.0)
EVENT_STREAM_RECHECK_SECONDS = env.float("EVENT_STREAM_RECHECK_SECONDS", default=30.0)

# --- Production refuses what is only safe on a laptop (config/production.py) -------------
if not DEBUG:
    from config.production import refuse_unsafe

    refuse_unsafe(
        secret_key=SECRET_KEY,
        peppers=API_KEY_PEPPERS,
        jwt_keys=JWT_SIGNING_KEYS,
        email_backend=EMAIL_BACKEND,
        portal_url=PORTAL_URL,
        app_database_user=str(DATABASES["default"].get("USER") or ""),
        owner_database_user=str(DATABASES.get("owner", {}).get("USER") or ""),
    )
