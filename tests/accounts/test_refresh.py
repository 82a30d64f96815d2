import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import RefreshToken, TokenFamily
from audit.models import AuditEvent
from tests.factories import MembershipFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def membership(org):
    return MembershipFactory.create(org=org, role="member")


def refresh(api, token):
    return api.post("/api/auth/refresh", {"refresh_token": token}, format="json")


def me(token):
    client = APIClient()
    return client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.django_db
def test_refresh_returns_a_new_pair_and_spends_the_old_token(api, membership, sign_in):
    pair = sign_in(membership)
    response = refresh(api, pair.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "user"}
    assert body["refresh_token"] != pair.refresh_token
    assert me(body["access_token"]).status_code == 200
    assert AuditEvent.dangerously_unscoped.filter(action="auth.token_refreshed").count() == 1


def spend_long_ago(raw_token):
    """Move a spent token's use back past the reuse leeway, as if the replay came later."""
    from orgs.opaque_tokens import hash_opaque_token

    RefreshToken.dangerously_unscoped.filter(token_hash=hash_opaque_token(raw_token)).update(
        used_at=timezone.now() - timedelta(minutes=5)
    )


@pytest.mark.django_db
def test_replaying_a_spent_token_revokes_the_whole_family(api, membership, sign_in):
    first = sign_in(membership)
    second = refresh(api, first.refresh_token).json()
    spend_long_ago(first.refresh_token)
    replay = refresh(api, first.refresh_token)
    assert replay.status_code == 401
    assert replay.json()["code"] == "unauthorized"
    # The newest refresh token and the newest access token of that sign-in die with it.
    assert refresh(api, second["refresh_token"]).status_code == 401
    assert me(second["access_token"]).status_code == 401
    event = AuditEvent.dangerously_unscoped.get(action="auth.refresh_reuse_detected")
    assert event.org_id == membership.org_id
    assert TokenFamily.objects.for_org(membership.org).get().revoked_reason == "reuse_detected"


@pytest.mark.django_db
def test_replay_does_not_touch_other_sign_ins(api, membership, sign_in):
    stolen, other = sign_in(membership), sign_in(membership)
    refresh(api, stolen.refresh_token)
    spend_long_ago(stolen.refresh_token)
    assert refresh(api, stolen.refresh_token).status_code == 401
    assert refresh(api, other.refresh_token).status_code == 200


@pytest.mark.django_db
def test_unknown_refresh_token_is_401(api):
    assert refresh(api, "rt_made-up").status_code == 401


@pytest.mark.django_db
def test_missing_refresh_token_is_422(api):
    response = api.post("/api/auth/refresh", {}, format="json")
    assert response.status_code == 422
    assert "refresh_token" in response.json()["details"]["fieldErrors"]


@pytest.mark.django_db
def test_idle_lifetime_ends_a_family(api, membership, sign_in, settings):
    pair = sign_in(membership)
    RefreshToken.objects.for_org(membership.org).update(
        created_at=timezone.now() - settings.REFRESH_TOKEN_IDLE_LIFETIME - timedelta(seconds=1)
    )
    assert refresh(api, pair.refresh_token).status_code == 401


@pytest.mark.django_db
def test_absolute_lifetime_ends_a_family_however_active(api, membership, sign_in, settings):
    pair = sign_in(membership)
    TokenFamily.objects.for_org(membership.org).update(
        created_at=timezone.now() - settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME
    )
    assert refresh(api, pair.refresh_token).status_code == 401


@pytest.mark.django_db
def test_removed_member_cannot_refresh(api, membership, sign_in):
    pair = sign_in(membership)
    membership.delete()
    assert refresh(api, pair.refresh_token).status_code == 401


@pytest.mark.django_db
def test_refresh_with_jwt_disabled_is_403_and_keeps_the_token(api, membership, sign_in):
    pair = sign_in(membership)
    membership.org.jwt_enabled = False
    membership.org.save()
    response = refresh(api, pair.refresh_token)
    assert (response.status_code, response.json()["code"]) == (403, "jwt_disabled")
    membership.org.jwt_enabled = True
    membership.org.save()
    assert refresh(api, pair.refresh_token).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_refresh_makes_at_most_6_queries(api, membership, sign_in, max_data_queries):
    pair = sign_in(membership)
    # 5, and the switch to the cross-org role (a refresh token is found by its hash, before
    # any org is known: tenancy.rls.cross_org).
    with max_data_queries(6):
        assert refresh(api, pair.refresh_token).status_code == 200


@pytest.mark.django_db
def test_a_replay_within_the_leeway_is_refused_and_the_family_lives(api, membership, sign_in):
    first = sign_in(membership)
    second = refresh(api, first.refresh_token).json()
    replay = refresh(api, first.refresh_token)
    assert replay.status_code == 401
    assert replay.json()["code"] == "unauthorized"
    assert me(second["access_token"]).status_code == 200
    assert refresh(api, second["refresh_token"]).status_code == 200
    assert TokenFamily.objects.for_org(membership.org).get().revoked_at is None
    assert not AuditEvent.dangerously_unscoped.filter(action="auth.refresh_reuse_detected").exists()


@pytest.mark.django_db
def test_with_no_leeway_an_immediate_replay_revokes(api, membership, sign_in, settings):
    settings.REFRESH_TOKEN_REUSE_LEEWAY = timedelta(0)
    first = sign_in(membership)
    second = refresh(api, first.refresh_token).json()
    assert refresh(api, first.refresh_token).status_code == 401
    assert me(second["access_token"]).status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("contenders", [2, 20])
def test_of_concurrent_refreshes_of_one_token_exactly_one_succeeds_and_keeps_working(
    membership, sign_in, contenders
):
    pair = sign_in(membership)
    barrier = threading.Barrier(contenders)
    responses: list = []
    lock = threading.Lock()

    def contend():
        try:
            client = APIClient()
            barrier.wait()
            response = refresh(client, pair.refresh_token)
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in responses) == [200] + [401] * (contenders - 1)
    # The losers raced the winner within the reuse leeway: an error for them, nothing more.
    # The winner's pair works; the sign-in was not revoked.
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert me(winner["access_token"]).status_code == 200
    assert refresh(APIClient(), winner["refresh_token"]).status_code == 200
    assert TokenFamily.objects.for_org(membership.org).get().revoked_at is None
    assert AuditEvent.dangerously_unscoped.filter(action="auth.token_refreshed").count() == 2
    assert not AuditEvent.dangerously_unscoped.filter(action="auth.refresh_reuse_detected").exists()
