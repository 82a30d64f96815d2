"""A key's org, remembered per process after its first request, names the org of the next
lookups itself (no SECURITY DEFINER call); everything else is still read every time."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys.authentication import key_orgs
from apikeys.crypto import candidate_digests
from apikeys.models import APIKey
from orgs.models import Membership
from tests.apikeys.conftest import with_key
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

ROW_SECURITY = connection.vendor == "postgresql"


def _me(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/users/me")
    # (the key's lookups; the first request's last-used write runs after the response)
    return response, [q["sql"] for q in queries.captured_queries if "k.key_hash IN" in q["sql"]]


@pytest.mark.skipif(not ROW_SECURITY, reason="the definer lookup exists on PostgreSQL only")
def test_the_first_request_asks_the_definer_the_next_name_the_org_in_one_query(org, make_key):
    _key, raw = make_key(org)
    client = with_key(raw)
    response, first = _me(client)
    assert response.status_code == 200
    assert len(first) == 1
    assert "tenantry_enter_org_by_key_hash" in first[0]
    assert key_orgs.get(tuple(candidate_digests(raw))) == org.pk
    response, second = _me(client)
    assert response.status_code == 200
    assert response.json()["org"]["id"] == org.pk
    assert len(second) == 1
    assert "tenantry_enter_org_by_key_hash" not in second[0]
    assert "set_config('app.org_id'" in second[0]


def test_a_known_key_revoked_or_its_member_removed_fails_on_the_very_next_request(org, make_key):
    key, raw = make_key(org)
    other_key, other_raw = make_key(org)
    assert with_key(raw).get("/api/users/me").status_code == 200
    assert with_key(other_raw).get("/api/users/me").status_code == 200
    APIKey.objects.for_org(org).filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert with_key(raw).get("/api/users/me").status_code == 401
    Membership.objects.for_org(org).filter(pk=other_key.membership_id).delete()
    assert with_key(other_raw).get("/api/users/me").status_code == 401


def test_a_known_key_deleted_is_401_and_forgotten(org, make_key):
    key, raw = make_key(org)
    client = with_key(raw)
    assert client.get("/api/users/me").status_code == 200
    APIKey.objects.for_org(org).filter(pk=key.pk).delete()
    response = client.get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    assert key_orgs.get(tuple(candidate_digests(raw))) is None


@pytest.mark.skipif(not ROW_SECURITY, reason="row-level security exists on PostgreSQL only")
def test_a_wrong_org_remembered_reads_nothing_there_and_the_definer_answers(
    org, other_org, make_key
):
    """Naming another org finds no row (row-level security decides, not the memory): the
    key is then looked up the definer's way, and its true org remembered."""
    MembershipFactory.create(org=other_org)
    _key, raw = make_key(org)
    digests = tuple(candidate_digests(raw))
    key_orgs.remember(digests, other_org.pk)
    response, queries = _me(with_key(raw))
    assert response.status_code == 200
    assert response.json()["org"]["id"] == org.pk
    assert len(queries) == 2
    assert "tenantry_enter_org_by_key_hash" in queries[1]
    assert key_orgs.get(digests) == org.pk
