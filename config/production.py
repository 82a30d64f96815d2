"""What production settings refuse to start with, one clear message each.

``config/settings.py`` calls :func:`refuse_unsafe` when ``DEBUG`` is off. Each rule names the
variable to fix; none of them echoes a secret back.
"""

from django.core.exceptions import ImproperlyConfigured

from accounts.signing_keys import seed_problem

# Values people paste from examples. Django's own deploy check uses the same length and
# variety thresholds (security.W009); a placeholder fails them or is named here.
_PLACEHOLDER_SECRETS = ("changeme", "change-me", "secret", "your-secret-key", "...", "xxx")
_INSECURE_PREFIXES = ("django-insecure", "insecure-local-development-key")
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
PEPPER_MIN_BYTES = 32
LOCAL_PORTAL_URL = "http://127.0.0.1:8000"


def refuse_unsafe(
    *,
    secret_key: str,
    peppers: dict[str, str],
    jwt_keys: dict[str, str],
    email_backend: str,
    portal_url: str,
    app_database_user: str = "",
    owner_database_user: str = "",
) -> None:
    """Raise ``ImproperlyConfigured`` for the first unsafe production setting found."""
    lowered = secret_key.strip().lower()
    if (
        len(secret_key) < SECRET_KEY_MIN_LENGTH
        or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or lowered in _PLACEHOLDER_SECRETS
        or lowered.startswith(_INSECURE_PREFIXES)
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY must be a random value of at least {SECRET_KEY_MIN_LENGTH} characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), not a placeholder"
        )
    for pepper_id, secret in peppers.items():
        if len(secret.encode()) < PEPPER_MIN_BYTES:
            raise ImproperlyConfigured(
                f"API_KEY_PEPPERS: the pepper '{pepper_id}' is shorter than {PEPPER_MIN_BYTES} "
                "bytes (python -c 'import secrets; print(secrets.token_hex(32))')"
            )
    for kid, seed in jwt_keys.items():
        problem = seed_problem(seed)
        if problem:
            raise ImproperlyConfigured(
                f"JWT_SIGNING_KEYS: the key '{kid}' {problem} (manage.py rotate_jwt_key prints one)"
            )
    if email_backend.endswith("console.EmailBackend"):
        raise ImproperlyConfigured(
            "EMAIL_BACKEND is the console backend: production would write invitation and "
            "password-reset links to its log. Set EMAIL_BACKEND (and EMAIL_URL) to a real one"
        )
    if owner_database_user and app_database_user == owner_database_user:
        raise ImproperlyConfigured(
            "DATABASE_URL connects as the owner role of DATABASE_OWNER_URL: the app must connect "
            "as a role that owns no table and cannot bypass row-level security "
            "(docs/deployment.md)"
        )
    if portal_url.rstrip("/") == LOCAL_PORTAL_URL:
        raise ImproperlyConfigured(
            "PORTAL_URL is the local default; set it to the portal's public address "
            "(e.g. https://portal.example.com): emailed links point there"
        )
