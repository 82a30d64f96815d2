"""The audit log in the portal: the API's selector, visibility rule and export."""

from datetime import UTC, datetime

import pytest

from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from tests.audit.helpers import emit, record_at
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/settings/audit-log/"


def _new_actions(before):
    return [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")[before:]]


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(URL)["Location"] == "/login/?next=/settings/audit-log/"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_who_to_ask(org, portal_member, role):
    assert portal_member(org, role=role).get(URL).status_code == 403
    assert portal_member(org, role=role).get(f"{URL}export/").status_code == 403


def test_admin_sees_events_filters_narrow_them(org, portal_member):
    admin = portal_member(org, role="admin")
    record_at(datetime(2026, 1, 1, tzinfo=UTC), org_id=org.pk, metadata={"n": 1})
    emit(org, action=__import__("orgs.audit_actions").audit_actions.MEMBER_ADDED)
    page = admin.get(URL).content.decode()
    assert "org.updated" in page
    assert "member.added" in page
    narrowed = admin.get(URL, {"action": "member.added"}).content.decode()
    assert "<code>member.added</code>" in narrowed
    assert "<code>org.updated</code>" not in narrowed
    in_range = admin.get(
        URL, {"since": "2025-12-31T00:00", "until": "2026-01-02T00:00"}
    ).content.decode()
    assert "<code>org.updated</code>" in in_range
    assert "<code>member.added</code>" not in in_range


def test_bad_filters_re_render_with_the_message(org, portal_member):
    admin = portal_member(org, role="admin")
    response = admin.get(URL, {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"})
    assert response.status_code == 422
    assert response.context["form"].errors["until"] == ["Must be later than From"]
    response = admin.get(URL, {"action": "no.such", "since": "yesterday"})
    assert response.status_code == 422
    assert {"action", "since"} <= set(response.context["form"].errors)
    assert admin.get(URL, {"cursor": "garbage"}).status_code == 200  # restarts at the newest


def test_cursor_paging_older_and_newer(org, portal_member):
    admin = portal_member(org, role="admin")
    for n in range(30):
        record_at(datetime(2026, 1, 1, 0, n, tzinfo=UTC), org_id=org.pk, metadata={"n": n})
    first = admin.get(URL, {"action": "org.updated"})
    assert len(first.context["events"]) == 25
    older_url = first.context["older_url"]
    assert first.context["newer_url"] is None
    second = admin.get(URL + older_url)
    assert len(second.context["events"]) == 5
    assert second.context["older_url"] is None
    back = admin.get(URL + second.context["newer_url"])
    assert [e.pk for e in back.context["events"]] == [e.pk for e in first.context["events"]]


def test_event_detail_and_another_orgs_event_is_404(org, other_org, portal_member):
    admin = portal_member(org, role="admin")
    ours = emit(org, note="hello")
    theirs = emit(other_org)
    detail = admin.get(f"{URL}{ours.pk}/").content.decode()
    assert "&quot;note&quot;: &quot;hello&quot;" in detail
    assert admin.get(f"{URL}{theirs.pk}/").status_code == 404


def test_developer_sees_only_their_part(org, portal_member):
    developer = portal_member(org, role="developer")
    other = MembershipFactory.create(org=org, role="admin")
    mine, _ = api_key_create(
        org=org,
        actor=Actor.for_user(developer.membership.user),
        creator=developer.membership,
        name="mine",
    )
    api_key_create(org=org, actor=Actor.for_user(other.user), creator=other, name="theirs")
    page = developer.get(URL)
    assert page.status_code == 200
    assert [e.target_id for e in page.context["events"]] == [str(mine.pk)]
    theirs_event = AuditEvent.objects.for_org(org).order_by("-id")[0]
    assert developer.get(f"{URL}{theirs_event.pk}/").status_code == 404


def test_export_downloads_and_is_audited_once(org, portal_member):
    admin = portal_member(org, role="admin")
    emit(org)
    before = AuditEvent.dangerously_unscoped.count()
    response = admin.get(f"{URL}export/", {"format": "csv", "action": "org.updated"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("id,occurred_at,action")
    assert "org.updated" in body
    assert _new_actions(before) == ["audit.exported"]
    jsonl = admin.get(f"{URL}export/", {"format": "jsonl"})
    assert jsonl["Content-Type"].startswith("application/x-ndjson")
    assert admin.get(f"{URL}export/", {"format": "xlsx"}).status_code == 422
