"""The configuration reference cannot drift from the settings."""

from scripts.config_reference import OUTPUT, SETTINGS, render, variables


def test_the_configuration_reference_matches_the_settings():
    expected = render(variables(SETTINGS.read_text()))
    assert OUTPUT.read_text() == expected, (
        "docs/configuration.md is stale: run `python scripts/config_reference.py`"
    )


def test_every_variable_the_settings_read_is_explained():
    found = variables(SETTINGS.read_text())
    assert len(found) > 50
    assert [v.name for v in found if not v.description] == []
    names = {v.name for v in found}
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SIGNING_KEYS",
        "RATE_LIMIT_KEY",
    } <= names
