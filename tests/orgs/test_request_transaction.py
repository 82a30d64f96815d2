"""Stepping outside the request's transaction for a hook-guarded write
(``orgs.bases._RequestTransaction.outside_the_request_transaction``), on the portal and API
bases: no transaction is open in the block, the rest of the request runs in a fresh one of
the org, and a block some caller opened around the request is never committed early."""

import json

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from apikeys.models import APIKey
from orgs.bases import SESSION_ORG_KEY, EnclosingTransactionError, PortalOrgView
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _open_blocks():
    """The atomic blocks open now, the test case's own left out."""
    return [b for b in connection.atomic_blocks if not getattr(b, "_from_testcase", False)]


class GuardedPage(PortalOrgView):
    """A page whose POST makes a guarded write: it records what it sees on the way."""

    required_actions = {"post": "member:write"}
    seen: dict

    def post(self, request, *args, **kwargs):
        seen = type(self).seen
        seen["before"] = len(_open_blocks())
        with self.outside_the_request_transaction():
            seen["inside"] = len(_open_blocks())
            if request.POST.get("fail"):
                raise ValueError("the service refused")
        seen["after"] = len(_open_blocks())
        seen["org_rows"] = self.scoped(Membership).count()
        return HttpResponse("ok")


class NestingPage(PortalOrgView):
    """A page that (wrongly) opens a block of its own around the guarded write."""

    required_actions = {"post": "member:write"}

    def post(self, request, *args, **kwargs):
        with transaction.atomic(), self.outside_the_request_transaction():
            pass
        return HttpResponse("never")


def _post(view_class, membership, data=None):
    request = RequestFactory().post("/guarded/", data or {}, HTTP_HOST="portal.localhost")
    request.user = membership.user
    request.session = SessionStore()
    request.session[SESSION_ORG_KEY] = membership.org_id
    return view_class.as_view()(request)


@pytest.fixture
def admin(org, settings):
    settings.BASE_DOMAIN = "localhost"
    settings.ALLOWED_HOSTS = [".localhost"]
    MembershipFactory.create(org=org, role="member")
    return MembershipFactory.create(org=org, role="admin")


def test_the_block_runs_with_no_transaction_and_the_page_goes_on_in_the_orgs(admin):
    GuardedPage.seen = {}
    assert _post(GuardedPage, admin).status_code == 200
    assert GuardedPage.seen == {"before": 1, "inside": 0, "after": 1, "org_rows": 2}
    assert _open_blocks() == []


def test_after_an_error_in_the_block_the_page_is_in_the_orgs_transaction_again(admin):
    GuardedPage.seen = {}
    with pytest.raises(ValueError, match="refused"):
        _post(GuardedPage, admin, {"fail": "1"})
    assert GuardedPage.seen == {"before": 1, "inside": 0}
    assert _open_blocks() == []  # the page's fresh transaction ended with the page


def test_a_block_opened_around_the_request_is_never_committed_early(admin):
    GuardedPage.seen = {}
    with transaction.atomic():
        with pytest.raises(EnclosingTransactionError, match="would commit it"):
            _post(GuardedPage, admin)
        assert len(_open_blocks()) == 1  # the caller's block, still open
    assert "inside" not in GuardedPage.seen


def test_a_block_opened_inside_the_request_is_refused(admin):
    with pytest.raises(EnclosingTransactionError, match="innermost"):
        _post(NestingPage, admin)
    assert _open_blocks() == []


def test_the_api_refuses_a_guarded_write_inside_a_callers_transaction(org, as_member, caplog):
    """A programming error, answered as any (500, logged), before anything is written."""
    owner = as_member(org, role="owner")
    with transaction.atomic():
        response = owner.post(
            "/api/api-keys", data=json.dumps({"name": "ci"}), content_type="application/json"
        )
        assert len(_open_blocks()) == 1  # the caller's block, still open
    assert response.status_code == 500
    assert "EnclosingTransactionError" in caplog.text
    assert APIKey.dangerously_unscoped.filter(org_id=org.pk).count() == 0
