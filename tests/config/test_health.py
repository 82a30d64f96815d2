"""Liveness and readiness: what a load balancer and an orchestrator poll."""

import pytest
from django.core.cache import cache

from config import views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_readiness(monkeypatch):
    monkeypatch.setattr(views._Ready, "migrations_applied", False)


def test_ready_answers_200_when_database_cache_and_migrations_are_fine(api):
    response = api.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "migrations": "ok"},
    }


def test_ready_answers_503_in_the_error_shape_when_the_cache_is_down(api, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "set", broken)
    response = api.get("/api/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["details"] == {"database": "ok", "cache": "unreachable", "migrations": "ok"}
    assert "redis is down" not in response.content.decode()


def test_ready_answers_503_when_the_database_is_unreachable(api, monkeypatch):
    def broken(self, *args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", broken)
    response = api.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json()["details"]["database"] == "unreachable"


def test_ready_reports_pending_migrations(api, monkeypatch):
    monkeypatch.setattr(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        lambda self, targets: [("a migration", False)],
    )
    response = api.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json()["details"]["migrations"] == "pending"


def test_readiness_is_public_and_declares_its_503(api):
    operation = api.get("/api/docs.json").json()["paths"]["/api/health/ready"]["get"]
    assert operation["security"] == []
    assert operation["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
