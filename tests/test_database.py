from django.db import connection


def test_suite_runs_on_real_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_connections_are_pooled(db):
    assert "pool" in connection.settings_dict["OPTIONS"]
