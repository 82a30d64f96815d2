"""The configuration reference and the Postman collection cannot drift from their sources."""

import json

import pytest

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


@pytest.mark.django_db
def test_the_postman_collection_is_in_sync_with_the_openapi_document(api):
    from scripts.postman import OUTPUT as COLLECTION
    from scripts.postman import render

    document = api.get("/api/docs.json").json()
    assert COLLECTION.read_text() == render(document), (
        "docs/tenantry.postman_collection.json is stale: run "
        "`DEBUG=true .venv/bin/python scripts/postman.py`"
    )
    operations = sum(1 for item in document["paths"].values() for method in item)
    collection = json.loads(COLLECTION.read_text())
    assert sum(len(folder["item"]) for folder in collection["item"]) == operations
