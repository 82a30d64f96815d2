"""/invitations/<token>/: the emailed link's accept page."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from accounts.models import User
from audit.actors import Actor
from audit.models import AuditEvent
from orgs.models import Membership
from orgs.services import invitation_create
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


def test_the_link_moves_the_token_out_of_the_url_without_a_referrer(client, org):
    token = _invite(org)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 302
    assert response["Location"] == "/invitations/accept/"
    assert token not in response["Location"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    page = client.get("/invitations/accept/")
    assert page.status_code == 200
    assert org.name in page.content.decode()
    assert token not in page.content.decode()


def test_a_new_person_sets_a_password_and_joins_signed_in(client, org):
    client.get(f"/invitations/{_invite(org)}/")
    response = client.post(
        "/invitations/accept/", {"name": "Nia", "password": "a long new passphrase"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.test")
    assert Membership.objects.for_org(org).get(user=user).role == "developer"
    assert client.get("/api/users/me").json()["email"] == "new@example.test"
    assert AuditEvent.objects.for_org(org).filter(action="invitation.accepted").exists()


def test_signed_in_as_the_invited_email_one_button_joins(client, org):
    user = UserFactory.create(email="new@example.test")
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    client.get(f"/invitations/{_invite(org)}/")
    assert client.post("/invitations/accept/").status_code == 302
    assert Membership.objects.for_org(org).filter(user=user).exists()
    assert client.get("/api/org").json()["slug"] == org.slug


def test_signed_in_as_someone_else_is_told_so_and_not_joined(client, org, user):
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    client.get(f"/invitations/{_invite(org)}/")
    page = client.get("/invitations/accept/").content.decode()
    assert f"signed in as <strong>{user.email}</strong>" in page
    assert "this invitation is for <strong>new@example.test</strong>" in page
    response = client.post("/invitations/accept/")
    assert response.status_code == 400
    assert not Membership.objects.for_org(org).filter(user=user).exists()
    assert not AuditEvent.objects.for_org(org).filter(action="invitation.accepted").exists()


def test_a_used_or_unknown_token_says_it_no_longer_works(client, org):
    token = _invite(org)
    first = Client()
    first.get(f"/invitations/{token}/")
    first.post("/invitations/accept/", {"password": "a long new passphrase"})
    for url in (f"/invitations/{token}/", "/invitations/inv_unknown/"):
        response = client.get(url, follow=True)
        assert response.status_code == 404
        assert "no longer works" in response.content.decode()
    assert Client().get("/invitations/accept/").status_code == 404  # no token in the session


def test_an_existing_account_must_give_its_password(client, org):
    UserFactory.create(email="new@example.test")
    client.get(f"/invitations/{_invite(org)}/")
    assert client.post("/invitations/accept/", {"password": "wrong"}).status_code == 400
    assert client.post("/invitations/accept/", {"password": PASSWORD}).status_code == 302
