"""`manage.py check --deploy` under production settings prints only the accepted warning."""

import os
import subprocess
import sys

import pytest

# A production-like environment: every setting that production refuses to guess is given.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "pr0duction-like-secret-" + "abcdefghij" * 4,
    "API_KEY_PEPPERS": "k1:" + "0123456789abcdef" * 4,
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "PORTAL_URL": "https://portal.tenantry.test",
    "JWT_SIGNING_KEYS": "j1:" + "A" * 22 + "b" * 21,
}

# Documented in README.md: HSTS preload is a deployer's decision (it binds the domain into
# browsers' lists), so it defaults to off and Django's W021 reminder is expected.
ACCEPTED = {"security.W021"}


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DEBUG": "false",
        **PRODUCTION,
        "ALLOWED_HOSTS": "api.tenantry.test,portal.tenantry.test",
        "BASE_DOMAIN": "tenantry.test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    reported = {
        line.split(")")[0].split("(")[-1]
        for line in output.splitlines()
        if line.startswith("?: (") or ": (" in line
    }
    assert reported <= ACCEPTED, output


def test_production_refuses_to_start_without_secret_key():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def _check(env_overrides):
    env = {**os.environ, **PRODUCTION, **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )


def test_debug_is_off_unless_asked_for():
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env["SECRET_KEY"] = ""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_refuses_sqlite():
    result = _check({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"})
    assert result.returncode != 0
    assert "Production needs PostgreSQL" in result.stderr


def test_production_refuses_a_per_process_cache():
    result = _check({"REDIS_URL": ""})
    assert result.returncode != 0
    assert "Production needs Redis" in result.stderr


def test_forwarded_proto_is_trusted_only_behind_declared_proxies():
    code = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    base = {**os.environ, **PRODUCTION}
    direct = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env=base, check=False,
    )  # fmt: skip
    proxied = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env={**base, "TRUSTED_PROXY_COUNT": "1"}, check=False,
    )  # fmt: skip
    assert direct.stdout.strip().splitlines()[-1] == "None", direct.stderr
    assert proxied.stdout.strip().splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https')", (
        proxied.stderr
    )


def test_production_refuses_a_pepper_derived_from_the_secret_key():
    result = _check({"API_KEY_PEPPERS": ""})
    assert result.returncode != 0
    assert "Production needs API_KEY_PEPPERS" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": "short-but-random-9f3a"}, "SECRET_KEY must be a random value"),
        ({"SECRET_KEY": "x" * 64}, "SECRET_KEY must be a random value"),
        ({"SECRET_KEY": "django-insecure-" + "abcdefghij" * 5}, "SECRET_KEY must be a random"),
        ({"API_KEY_PEPPERS": "k1:tooshort"}, "the pepper 'k1' is shorter than 32 bytes"),
        (
            {
                "API_KEY_PEPPERS": "k2:" + "0123456789abcdef" * 4 + ",k1:old",
                "API_KEY_PEPPER_ID": "k2",
            },
            "the pepper 'k1' is shorter than 32 bytes",
        ),
        (
            {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
            "EMAIL_BACKEND is the console backend",
        ),
        ({"PORTAL_URL": "http://127.0.0.1:8000/"}, "PORTAL_URL is the local default"),
        (
            {
                "DATABASE_URL": "postgres://tenantry_owner@db.internal/tenantry",
                "DATABASE_OWNER_URL": "postgres://tenantry_owner@db.internal/tenantry",
            },
            "DATABASE_URL connects as the owner role",
        ),
        ({"JWT_SIGNING_KEYS": ""}, "Production needs JWT_SIGNING_KEYS"),
        ({"JWT_SIGNING_KEYS": "j1:tooshort"}, "the key 'j1' must decode to 32 bytes"),
    ],
)
def test_production_refuses_an_unsafe_setting_with_one_clear_message(overrides, message):
    result = _check(overrides)
    assert result.returncode != 0
    assert message in result.stderr
    # The message names the variable; it never echoes the secret it refused.
    for value in overrides.values():
        if "tooshort" in value or "short-but" in value:
            assert value not in result.stderr


def test_email_url_configures_smtp_in_one_variable():
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.EMAIL_HOST)"
    env = {**os.environ, **PRODUCTION, "EMAIL_URL": "smtp://mailer:pw@mail.internal:587/?tls=True"}
    env.pop("EMAIL_BACKEND")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "django.core.mail.backends.smtp.EmailBackend mail.internal"
    )


def test_seed_demo_refuses_a_production_configuration():
    env = {**os.environ, **PRODUCTION}
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "seed_demo runs only with DEBUG=true" in result.stderr
