"""Settings > Hooks in the portal: owners register, test, switch and delete hooks; admins
read them; the secret is shown once."""

import pytest

from audit.models import AuditEvent
from hooks.models import PreWriteHook
from tests.hooks.conftest import deny, make_hook

pytestmark = pytest.mark.django_db

URL = "https://policy.example.test/hook"


@pytest.fixture(autouse=True)
def _production_url_rules(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


def test_an_owner_registers_a_hook_and_sees_the_secret_once(org, portal_member):
    owner = portal_member(org, role="owner")
    form = {"url": URL, "actions": ["api_key.create", "api_key.roll"], "failure_mode": "open"}
    response = owner.post("/settings/hooks/new/", {**form, "enabled": "on"})
    hook = PreWriteHook.objects.for_org(org).get()
    assert response.status_code == 302
    assert response["Location"] == f"/settings/hooks/{hook.pk}/"
    assert hook.actions == ["api_key.create", "api_key.roll"]
    assert hook.failure_mode == "open"
    first = owner.get(response["Location"])
    assert hook.secret in first.content.decode()
    assert first["Cache-Control"] == "no-store"
    again = owner.get(response["Location"])
    assert hook.secret not in again.content.decode()
    assert AuditEvent.dangerously_unscoped.filter(action="hook.created").count() == 1


def test_the_form_shows_the_ssrf_rules(org, portal_member):
    owner = portal_member(org, role="owner")
    form = {"url": "https://192.168.1.10/hook", "actions": ["member.invite"]}
    response = owner.post("/settings/hooks/new/", {**form, "failure_mode": "closed"})
    assert response.status_code == 422
    assert "Private and reserved addresses are not allowed" in response.content.decode()
    assert not PreWriteHook.objects.for_org(org).exists()


def test_an_admin_reads_the_hooks_page_but_cannot_change_anything(org, portal_member):
    hook = make_hook(org, URL)
    admin = portal_member(org, role="admin")
    page = admin.get("/settings/hooks/")
    assert page.status_code == 200
    text = page.content.decode()
    assert URL in text
    assert 'href="/settings/hooks/"' in text  # in the navigation
    assert "Add hook" not in text
    detail = admin.get(f"/settings/hooks/{hook.pk}/").content.decode()
    assert "Send test call" not in detail
    assert hook.secret not in detail
    assert admin.get("/settings/hooks/new/").status_code == 403
    form = {"url": URL, "actions": ["member.invite"], "failure_mode": "closed"}
    assert admin.post("/settings/hooks/new/", form).status_code == 403
    assert admin.post(f"/settings/hooks/{hook.pk}/enabled/", {}).status_code == 403
    assert admin.get(f"/settings/hooks/{hook.pk}/edit/").status_code == 403
    assert admin.post(f"/settings/hooks/{hook.pk}/edit/", form).status_code == 403
    assert admin.post(f"/settings/hooks/{hook.pk}/delete/").status_code == 403
    assert admin.post(f"/settings/hooks/{hook.pk}/test/").status_code == 403
    assert PreWriteHook.objects.for_org(org).get().enabled is True


def test_a_developer_neither_sees_nor_opens_the_page(org, portal_member):
    developer = portal_member(org, role="developer")
    assert 'href="/settings/hooks/"' not in developer.get("/").content.decode()
    assert developer.get("/settings/hooks/").status_code == 403


def test_the_test_button_shows_the_hooks_answer(org, portal_member, hook_receiver):
    hook = make_hook(org, hook_receiver(deny("not on Fridays")).url)
    owner = portal_member(org, role="owner")
    response = owner.post(f"/settings/hooks/{hook.pk}/test/", follow=True)
    assert "The hook denied the sample write: not on Fridays" in response.content.decode()


def test_an_owner_disables_and_deletes_a_hook(org, portal_member):
    hook = make_hook(org, URL)
    owner = portal_member(org, role="owner")
    owner.post(f"/settings/hooks/{hook.pk}/enabled/", {})
    hook.refresh_from_db()
    assert hook.enabled is False
    confirm = owner.get(f"/settings/hooks/{hook.pk}/delete/")
    assert "Delete the pre-write hook" in confirm.content.decode()
    assert owner.post(f"/settings/hooks/{hook.pk}/delete/").status_code == 302
    assert not PreWriteHook.objects.for_org(org).exists()


def test_an_owner_edits_a_hook_and_keeps_its_secret(org, portal_member):
    hook = make_hook(org, URL, actions=["member.invite"])
    owner = portal_member(org, role="owner")
    form = owner.get(f"/settings/hooks/{hook.pk}/edit/").content.decode()
    assert URL in form
    assert hook.secret not in form
    changed = {"url": URL, "actions": ["member.invite", "api_key.roll"], "failure_mode": "open"}
    response = owner.post(f"/settings/hooks/{hook.pk}/edit/", {**changed, "enabled": "on"})
    assert response.status_code == 302
    secret = hook.secret
    hook.refresh_from_db()
    assert (hook.actions, hook.failure_mode, hook.secret) == (
        ["api_key.roll", "member.invite"],
        "open",
        secret,
    )
    [event] = AuditEvent.dangerously_unscoped.filter(action="hook.updated")
    assert event.metadata["after"]["failure_mode"] == "open"


def test_an_edit_is_held_to_the_ssrf_rules(org, portal_member):
    hook = make_hook(org, URL)
    owner = portal_member(org, role="owner")
    form = {"url": "https://127.0.0.1/", "actions": ["member.invite"], "failure_mode": "open"}
    response = owner.post(f"/settings/hooks/{hook.pk}/edit/", form)
    assert response.status_code == 422
    assert "Private and reserved addresses are not allowed" in response.content.decode()
    hook.refresh_from_db()
    assert hook.url == URL


def test_another_orgs_hook_is_not_found(org, other_org, portal_member):
    theirs = make_hook(other_org, URL)
    owner = portal_member(org, role="owner")
    assert owner.get(f"/settings/hooks/{theirs.pk}/").status_code == 404
    assert owner.post(f"/settings/hooks/{theirs.pk}/delete/").status_code == 404
