"""/invitations/<token>/: the emailed link's accept page."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from accounts.models import User
from audit.actors import Actor
from audit.models import AuditEvent
from orgs.invitations import invitation_create
from orgs.models import Membership
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    from django.core.cache import cache

    cache.clear()


def _invite(org, email="new@example.test", role="developer"):
    return invitation_create(org=org, actor=Actor.system(), by=None, email=email, role=role)[1]


def test_the_email_links_to_the_accept_page(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        token = _invite(org)
    assert f"{settings.PORTAL_URL}/invitations/{token}/" in mail.outbox[0].body


def test_the_page_sends_no_referrer_and_is_not_cached(client, org):
    response = client.get(f"/invitations/{_invite(org)}/")
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert org.name in response.content.decode()


def test_a_new_person_sets_a_password_and_joins_signed_in(client, org):
    token = _invite(org)
    response = client.post(
        f"/invitations/{token}/", {"name": "Nia", "password": "a long new passphrase"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.test")
    assert Membership.objects.for_org(org).get(user=user).role == "developer"
    assert client.get("/api/users/me").json()["email"] == "new@example.test"
    assert AuditEvent.objects.for_org(org).filter(action="invitation.accepted").exists()


def test_signed_in_as_the_invited_email_one_button_joins(client, org):
    user = UserFactory.create(email="new@example.test")
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    token = _invite(org)
    assert client.post(f"/invitations/{token}/").status_code == 302
    assert Membership.objects.for_org(org).filter(user=user).exists()
    assert client.get("/api/org").json()["slug"] == org.slug


def test_signed_in_as_someone_else_is_told_so_and_not_joined(client, org, user):
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    token = _invite(org)
    page = client.get(f"/invitations/{token}/").content.decode()
    assert f"signed in as <strong>{user.email}</strong>" in page
    assert "this invitation is for <strong>new@example.test</strong>" in page
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 400
    assert not Membership.objects.for_org(org).filter(user=user).exists()
    assert not AuditEvent.objects.for_org(org).filter(action="invitation.accepted").exists()


def test_a_used_or_unknown_token_says_it_no_longer_works(client, org):
    token = _invite(org)
    Client().post(f"/invitations/{token}/", {"password": "a long new passphrase"})
    for url in (f"/invitations/{token}/", "/invitations/inv_unknown/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "no longer works" in response.content.decode()


def test_an_existing_account_must_give_its_password(client, org):
    UserFactory.create(email="new@example.test")
    token = _invite(org)
    assert client.post(f"/invitations/{token}/", {"password": "wrong"}).status_code == 400
    assert client.post(f"/invitations/{token}/", {"password": PASSWORD}).status_code == 302
