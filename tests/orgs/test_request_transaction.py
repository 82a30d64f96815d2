"""Stepping outside the request's transaction for a hook-guarded write
(``orgs.bases._RequestTransaction.outside_the_request_transaction``), on the portal and API
bases: no transaction is open in the block, the rest of the request runs in a fresh one of
the org, and a block some caller opened around the request is never committed early. And
the methods that answer from their credential alone (``credential_only``), which open none
and may run no statement."""

import json
from typing import Any

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.api import MeView
from apikeys.models import APIKey
from orgs.bases import SESSION_ORG_KEY, EnclosingTransactionError, OrgView, PortalOrgView
from orgs.context import OrgContext
from orgs.models import Membership
from orgs.roles import ANY_MEMBER
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


# --- credential_only: a method that answers from its credential opens no transaction -----


class CredentialOnlyView(OrgView):
    """GET answers from the credential (and, asked to, wrongly runs a statement); POST is an
    ordinary method of the same view."""

    required_actions = {"get": ANY_MEMBER, "post": ANY_MEMBER}
    credential_only = ("get",)
    seen: dict

    def get(self, request, *args, **kwargs):
        type(self).seen["blocks"] = len(_open_blocks())
        if request.query_params.get("query"):
            Membership.objects.for_org(self.org).count()
        return Response({"org": self.org.pk})

    def post(self, request, *args, **kwargs):
        type(self).seen["blocks"] = len(_open_blocks())
        type(self).seen["org_rows"] = Membership.objects.for_org(self.org).count()
        return Response({"org": self.org.pk})


def _api(method, membership, path="/credential-only/"):
    request = getattr(APIRequestFactory(), method)(path)
    context: Any = OrgContext(membership=membership, credential="jwt")  # DRF's stubs: a Token
    force_authenticate(request, user=membership.user, token=context)
    return CredentialOnlyView.as_view()(request)


def test_a_credential_only_method_runs_in_no_transaction_the_others_in_the_orgs(admin):
    CredentialOnlyView.seen = {}
    assert _api("get", admin).status_code == 200
    assert CredentialOnlyView.seen == {"blocks": 0}
    assert _api("post", admin).status_code == 200
    assert CredentialOnlyView.seen == {"blocks": 1, "org_rows": 2}
    assert _open_blocks() == []


def test_a_statement_in_a_credential_only_method_is_refused(admin, caplog):
    """Fails closed, before the statement is sent (outside the org's transaction, row-level
    security would show it no rows anyway)."""
    CredentialOnlyView.seen = {}
    with CaptureQueriesContext(connection) as captured:
        response = _api("get", admin, "/credential-only/?query=1")
    assert response.status_code == 500
    assert response.data["code"] == "internal_error"
    assert "StatementAfterCredentialError" in caplog.text
    # Refused by the innermost wrapper: the cursor never sent it (no SQL text was kept).
    assert [query["sql"] for query in captured.captured_queries] == [None]
    # The refusal ended with the request (and the test's transaction is not aborted).
    assert Membership.objects.for_org(admin.org).count() == 2


def test_credential_only_names_methods_the_view_serves():
    with pytest.raises(TypeError, match="credential_only 'post'"):

        class Wrong(OrgView):
            required_actions = {"get": ANY_MEMBER}
            credential_only = ("post",)

            def get(self, request):
                return Response({})


def test_users_me_answers_from_its_credential():
    assert MeView.credential_only == ("get",)


class MeThroughDrfsDispatch(MeView):
    """``/users/me`` with nothing declared credential_only: DRF's own dispatch, in a
    transaction, for comparing answers with the credential_only path."""

    credential_only = ()  # type: ignore[assignment]  # (MeView names ("get",))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_ACCEPT": "application/json; indent=2"},
        {"HTTP_ACCEPT": "text/html"},  # 406
        {"HTTP_AUTHORIZATION": "Bearer not-a-token"},  # 401
        {"HTTP_AUTHORIZATION": ""},  # no credential: 401
    ],
)
@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_the_credential_only_path_answers_as_drfs_dispatch(org, sign_in, headers, method):
    """Status, body (but the request id) and every header, for answers, refusals and
    errors, through the credential_only path and through DRF's dispatch."""
    membership = MembershipFactory.create(org=org, role="admin")
    pair = sign_in(membership)
    meta = {"HTTP_AUTHORIZATION": f"Bearer {pair.access_token}", **headers}
    answers = []
    for view_class in (MeView, MeThroughDrfsDispatch):
        request = getattr(APIRequestFactory(), method)("/api/users/me", **meta)
        request.request_id = "req_same"
        response = view_class.as_view()(request)
        if hasattr(response, "render"):
            response.render()
        answers.append((response.status_code, response.content, sorted(response.items())))
    assert answers[0] == answers[1]
    if method == "get" and not headers:
        assert answers[0][0] == 200


def test_the_credential_only_path_sends_drfs_allow_header(org, as_member):
    client = as_member(org)
    assert client.get("/api/users/me")["Allow"] == "GET, HEAD, OPTIONS"  # DRF's
    assert client.get("/api/users/me")["Allow"] == "GET, HEAD, OPTIONS"  # (made once, kept)


def test_the_credential_only_paths_shared_instances_keep_nothing_of_a_request(org, as_member):
    """Renderers, authenticators, parsers, permissions and the negotiator of a
    credential_only method are made once per view class (``_APIBase._made_once``): no
    request, of any credential, answered or refused, sets anything on them."""
    import copy

    from django.test import Client

    from orgs import bases
    from tests.ratelimits.keys import make_key

    client = as_member(org, role="admin")
    client.get("/api/users/me")
    made = [obj for objects in bases._MADE_ONCE.values() for obj in objects]
    assert made
    before = [copy.deepcopy(vars(obj)) for obj in made]  # (a change inside one shows too)
    _, raw = make_key(org)
    assert client.get("/api/users/me").status_code == 200
    assert Client().get("/api/users/me", HTTP_X_API_KEY=raw).status_code == 200
    assert Client().get("/api/users/me", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert client.get("/api/users/me", HTTP_ACCEPT="text/html").status_code == 406
    assert client.post("/api/users/me").status_code == 405
    made_after = [obj for objects in bases._MADE_ONCE.values() for obj in objects]
    assert made_after[: len(made)] == made  # the same instances
    assert [vars(obj) for obj in made] == before
