"""Guarantees over EVERY API route, found by walking the URLconf: a new route is covered
or this file fails."""

from typing import Any

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.factories import MembershipFactory
from tests.routes import api_routes, portal_routes

pytestmark = pytest.mark.django_db

# The public allow-list of DESIGN.md. Anything else must refuse a request without credentials.
PUBLIC = {
    "GET /api/health",
    "GET /api/health/ready",
    "GET /api/docs.json",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
    "POST /api/auth/mfa",
    "POST /api/invitations/accept",
    "POST /api/public/leaked-keys",
}


def test_the_walk_finds_the_routes():
    found = {str(r) for r in api_routes()}
    assert {"GET /api/users/me", "PATCH /api/members/{pk}", "DELETE /api/members/{pk}"} <= found
    assert found >= PUBLIC


@pytest.mark.parametrize("route", [r for r in api_routes() if str(r) not in PUBLIC], ids=str)
def test_every_non_public_route_refuses_anonymous_requests(route):
    response = APIClient().generic(
        route.method, route.path(), data="{}", content_type="application/json"
    )
    assert response.status_code == 401, f"{route} answered {response.status_code}"
    body = response.json()
    assert body["code"] == "unauthorized"
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize("route", [r for r in api_routes() if str(r) not in PUBLIC], ids=str)
def test_every_non_public_route_refuses_a_garbage_bearer_token(route):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.e30.garbage")
    response = client.generic(
        route.method, route.path(), data="{}", content_type="application/json"
    )
    assert response.status_code == 401, f"{route} answered {response.status_code}"


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy",
    "RateLimit",
}  # fmt: skip
UNLIMITED = {"GET /api/health", "GET /api/health/ready"}  # probes of load balancers


@pytest.mark.parametrize("route", [r for r in api_routes() if str(r) not in UNLIMITED], ids=str)
def test_every_route_answers_with_rate_limit_headers(route, org, as_member):
    """Whoever asks and whatever the answer (401, 403, 404, 422, 2xx), a limited route says
    how much is left: anonymous callers by address, keys and people by their own bucket."""
    from apikeys.services import api_key_create
    from audit.actors import Actor

    owner = as_member(org, role="owner")
    _, raw_key = api_key_create(org=org, actor=Actor.system(), creator=owner.membership, name="k")
    as_key = APIClient()
    as_key.credentials(HTTP_X_API_KEY=raw_key)
    as_key.raise_request_exception = owner.raise_request_exception = False
    path = route.path(pk=owner.membership.pk, user_id=owner.membership.user_id)
    for client in (APIClient(), owner, as_key):
        response = client.generic(route.method, path, data="{}", content_type="application/json")
        missing = RATE_LIMIT_HEADERS - set(response.headers)
        assert not missing, f"{route} answered {response.status_code} without {missing}"
        assert int(response["X-RateLimit-Remaining"]) >= 0


def test_the_openapi_document_declares_the_rate_limit_headers_and_retry_after():
    spec = APIClient().get("/api/docs.json").json()
    validate(spec)
    for route in api_routes():
        if route.template == "/api/docs.json" or str(route) in UNLIMITED:
            continue
        template = route.template.replace("{pk}", "{id}")
        responses = spec["paths"][template][route.method.lower()]["responses"]
        for status_code, answer in responses.items():
            assert set(answer.get("headers", {})) >= RATE_LIMIT_HEADERS, (route, status_code)
        assert "Retry-After" in responses["429"]["headers"], route


def test_the_health_check_is_not_limited(api):
    response = api.get("/api/health")
    assert not RATE_LIMIT_HEADERS & set(response.headers)


def test_public_routes_are_exactly_the_allow_list():
    anonymous = APIClient()
    public = set()
    for route in api_routes():
        response = anonymous.generic(
            route.method, route.path(), data="{}", content_type="application/json"
        )
        if response.status_code != 401:
            public.add(str(route))
    assert public == PUBLIC


def test_every_route_is_in_the_openapi_document_with_its_errors():
    spec = APIClient().get("/api/docs.json").json()
    validate(spec)
    for route in api_routes():
        if route.template == "/api/docs.json":
            continue  # the document does not describe itself
        template = route.template.replace("{pk}", "{id}")  # drf-spectacular names pk "id"
        operation = spec["paths"].get(template, {}).get(route.method.lower())
        assert operation is not None, f"{route} is missing from /api/docs.json"
        responses = operation["responses"]
        assert {"400", "404", "422", "429", "500"} <= set(responses), route
        if str(route) not in PUBLIC:
            assert {"401", "403"} <= set(responses), route
            schemes = {
                name for requirement in operation.get("security", []) for name in requirement
            }
            expected = (
                {"apiKeyAuth"}
                if route.template.startswith("/api/public/")
                else {"jwtAuth", "apiKeyAuth", "cookieAuth"}
            )
            assert expected <= schemes, f"{route} declares {schemes or 'no'} security schemes"
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{route} documents no success response"


def _other_org_id(name, other_org):
    """The id of another org's object for each route that takes one. A new such route
    must be added here, or the isolation test below fails for it."""
    from apikeys.services import api_key_create
    from audit.actors import Actor
    from orgs.services import invitation_create

    def other_webhook():
        from tests.audit.helpers import make_endpoint

        return make_endpoint(other_org, "https://hooks.example.test/theirs")

    def other_hook():
        from tests.hooks.conftest import make_hook

        return make_hook(other_org, "https://policy.example.test/theirs")

    def other_sign_in():
        """Another person's API sign-in (token family), by the id the sessions list shows."""
        from accounts.models import TokenFamily
        from accounts.services import open_session
        from audit.actors import RequestContext

        membership = MembershipFactory.create(org=other_org)
        open_session(membership=membership, context=RequestContext(), via="test")
        return TokenFamily.objects.for_org(other_org).get(user=membership.user)

    def other_key():
        creator = MembershipFactory.create(org=other_org, role="owner")
        return api_key_create(org=other_org, actor=Actor.system(), creator=creator, name="k")[0]

    factories = {
        "members-detail": lambda: MembershipFactory.create(org=other_org).pk,
        "invitations-detail": lambda: (
            invitation_create(
                org=other_org, actor=Actor.system(), by=None, email="x@example.test", role="member"
            )[0].pk
        ),
        "api-keys-detail": lambda: other_key().pk,
        "api-keys-roll": lambda: other_key().pk,
        "public-user": lambda: MembershipFactory.create(org=other_org).user_id,
        "webhooks-detail": lambda: other_webhook().pk,
        "webhooks-deliveries": lambda: other_webhook().pk,
        # Sessions are a person's, not an org's: another person's sign-in is not found.
        "users-me-sessions-detail": lambda: f"tf_{other_sign_in().pk}",
        "webhooks-send-test": lambda: other_webhook().pk,
        "hooks-detail": lambda: other_hook().pk,
        "hooks-send-test": lambda: other_hook().pk,
        "webhooks-retry-delivery": lambda: other_webhook().pk,
        "invitations-resend": lambda: (
            invitation_create(
                org=other_org, actor=Actor.system(), by=None, email="x@example.test", role="member"
            )[0].pk
        ),
    }
    assert name in factories, f"route {name!r} takes an id but has no isolation factory"
    return factories[name]()


CREDENTIAL_KINDS = ("jwt", "api_key", "session")


def _reaches(route, kind):
    """Whether a credential of ``kind`` may call ``route`` at all: /api/public/* takes an
    org's key only; a person's own cross-org routes take a person's sign-in only."""
    from orgs.bases import SignedInView

    if route.template.startswith("/api/public/"):
        return kind == "api_key"
    view_class = getattr(route.view, "cls", None) or getattr(route.view, "view_class", None)
    if view_class is not None and issubclass(view_class, SignedInView):
        return kind != "api_key"
    return True


@pytest.fixture
def owner_as(org, as_member):
    """An APIClient for one owner of ``org``, carrying ONE credential of the kind asked."""
    from django.test import Client

    from accounts.services import browser_session_open
    from apikeys.services import api_key_create
    from audit.actors import Actor, RequestContext

    owner = as_member(org, role="owner")
    _, raw_key = api_key_create(
        org=org, actor=Actor.system(), creator=owner.membership, name="matrix"
    )

    def _client(kind):
        client: Any
        if kind == "session":
            client = Client()
            client.cookies["tnt_session"] = browser_session_open(
                user=owner.membership.user, org_id=org.pk, context=RequestContext()
            )
        else:
            client = APIClient()
            if kind == "jwt":
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.pair.access_token}")
            else:
                client.credentials(HTTP_X_API_KEY=raw_key)
        client.membership = owner.membership
        return client

    return _client


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
@pytest.mark.parametrize("route", [r for r in api_routes() if r.has_id], ids=str)
def test_another_orgs_id_is_404_on_every_route_that_takes_one(route, kind, other_org, owner_as):
    client = owner_as(kind)
    theirs = _other_org_id(route.name, other_org)
    response = client.generic(
        route.method,
        route.path(pk=theirs, user_id=theirs),
        data="{}",
        content_type="application/json",
    )
    if not _reaches(route, kind):
        assert response.status_code in (401, 403), f"{route} as {kind}: {response.status_code}"
        return
    assert response.status_code == 404, f"{route} as {kind} answered {response.status_code}"
    assert response.json()["code"] == "not_found"


JUNK_BODIES = [
    "{not json",
    "[1, 2, 3]",
    '"a string"',
    '{"name": null, "role": 12, "email": ["x"], "scopes": "all", "expires_at": "tomorrow"}',
    '{"grace_seconds": 1e400, "token": {"nested": true}, "slug": "\\u0000"}',
]


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
@pytest.mark.parametrize("route", api_routes(), ids=str)
def test_bad_input_is_never_a_500_on_any_route(route, kind, owner_as):
    owner = owner_as(kind)
    owner.raise_request_exception = False
    junk_queries = ["?page=x&limit=-1", "?sort=,", "?sort=-nope", "?page=99999999999999999999", ""]
    for body, query in zip(JUNK_BODIES, junk_queries, strict=True):
        path = route.path(pk=owner.membership.pk, user_id=owner.membership.user_id)
        response = owner.generic(
            route.method, f"{path}{query}", data=body, content_type="application/json"
        )
        assert response.status_code < 500, f"{route} {query} {body!r}: {response.status_code}"
        if response.status_code >= 400 and response.get("Content-Type", "").startswith(
            "application/json"
        ):
            assert set(response.json()) == {"error", "code", "details", "request_id"}, route


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in api_routes()
        if r.method in UNSAFE and str(r) not in PUBLIC and not r.template.startswith("/api/public/")
    ],
    ids=str,
)
def test_every_unsafe_route_refuses_a_session_cookie_without_the_csrf_token(route, org):
    from django.test import Client

    from accounts.services import browser_session_open
    from audit.actors import RequestContext

    owner = MembershipFactory.create(org=org, role="owner").user
    client = Client(enforce_csrf_checks=True)
    client.cookies["tnt_session"] = browser_session_open(
        user=owner, org_id=org.pk, context=RequestContext()
    )
    response = client.generic(
        route.method, route.path(), data="{}", content_type="application/json"
    )
    assert response.status_code == 403, f"{route} answered {response.status_code}"
    assert response.json()["code"] == "forbidden"


# --- The portal's pages: the same guarantees, in the browser's terms ---------------------

# Portal routes anyone may open: the sign-in pages (accounts.page_urls), and sign-out,
# which sends whoever is not signed in to the sign-in page. Everything else sends an
# anonymous visitor to the sign-in page and back afterwards (?next=).
PORTAL_PUBLIC: set[str] = {
    "GET /login/",
    "POST /login/",
    # The sign-in's second-factor steps: a half-finished sign-in (anonymous session).
    "GET /login/code/",
    "POST /login/code/",
    "GET /login/enroll/",
    "POST /login/enroll/",
    "POST /logout/",
    "GET /password-reset/",
    "POST /password-reset/",
    "PUT /password-reset/",
    "GET /password-reset/sent/",
    "GET /reset/{uidb64}/{token}/",
    "POST /reset/{uidb64}/{token}/",
    "PUT /reset/{uidb64}/{token}/",
    "GET /reset/done/",
    "POST /oauth/login/{backend}/",
    "GET /oauth/complete/{backend}/",
    "GET /invitations/{token}/",
    "GET /invitations/accept/",
    "POST /invitations/accept/",
}


def _portal_client(org, role="owner"):
    from django.test import Client

    from orgs.portal import SESSION_ORG_KEY

    membership = MembershipFactory.create(org=org, role=role)
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    session = client.session
    session[SESSION_ORG_KEY] = org.pk
    session.save()
    return client, membership


def test_the_portal_walk_finds_the_pages():
    found = {str(r) for r in portal_routes()}
    assert {"GET /settings/api-keys/", "POST /settings/api-keys/new/", "GET /"} <= found


@pytest.mark.parametrize(
    "route", [r for r in portal_routes() if str(r) not in PORTAL_PUBLIC], ids=str
)
def test_every_portal_page_sends_anonymous_visitors_to_sign_in(route, client):
    path = route.path()
    response = client.generic(route.method, path)
    assert response.status_code == 302, f"{route} answered {response.status_code}"
    assert response["Location"].startswith("/login/?next="), route


def test_portal_posts_need_the_csrf_token(org):
    from django.test import Client

    _, membership = _portal_client(org)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(membership.user)
    for route in portal_routes():
        if route.method == "POST" and str(route) not in PORTAL_PUBLIC:
            response = strict.post(route.path(pk=1, delivery_pk=1), {"name": "x"})
            assert response.status_code == 403, route


def _other_org_portal_ids(name, other_org):
    """Another org's object for each portal route that takes an id. A new such route must be
    added here, or the isolation test below fails for it."""
    from audit.actors import Actor
    from orgs.services import invitation_create
    from tests.audit.helpers import emit, make_endpoint

    def key():
        from apikeys.services import api_key_create

        creator = MembershipFactory.create(org=other_org, role="owner")
        return {"pk": api_key_create(org=other_org, actor=Actor.system(), creator=creator,
                                     name="theirs")[0].pk}  # fmt: skip

    def invitation():
        invitation, _ = invitation_create(
            org=other_org, actor=Actor.system(), by=None, email="t@example.test", role="member"
        )
        return {"pk": invitation.pk}

    def webhook():
        return {"pk": make_endpoint(other_org, "https://hooks.example.test/theirs").pk}

    def hook():
        from tests.hooks.conftest import make_hook

        return {"pk": make_hook(other_org, "https://policy.example.test/theirs").pk}

    def delivery():
        from audit.webhooks.services import webhook_endpoint_send_test

        endpoint = make_endpoint(other_org, "https://hooks.example.test/theirs")
        sent = webhook_endpoint_send_test(org=other_org, actor=Actor.system(), endpoint=endpoint)
        return {"pk": endpoint.pk, "delivery_pk": sent.pk}

    factories = {
        "portal-member-role": lambda: {"pk": MembershipFactory.create(org=other_org).pk},
        "portal-member-remove": lambda: {"pk": MembershipFactory.create(org=other_org).pk},
        "portal-invitation-resend": invitation,
        "portal-invitation-revoke": invitation,
        "portal-api-key-revoke": key,
        "portal-api-key-roll": key,
        "portal-audit-event": lambda: {"pk": emit(other_org).pk},
        "portal-webhook": webhook,
        "portal-webhook-test": webhook,
        "portal-webhook-delete": webhook,
        "portal-webhook-enabled": webhook,
        "portal-webhook-retry": delivery,
        "portal-hook": hook,
        "portal-hook-test": hook,
        "portal-hook-enabled": hook,
        "portal-hook-edit": hook,
        "portal-hook-delete": hook,
    }
    assert name in factories, f"portal route {name!r} takes an id but has no isolation factory"
    return factories[name]()


def test_the_public_portal_routes_are_exactly_the_allow_list(client):
    public = set()
    for route in portal_routes():
        response = client.generic(route.method, route.path())
        if not response.get("Location", "").startswith("/login/?next="):
            public.add(str(route))
    assert public == PORTAL_PUBLIC


@pytest.mark.parametrize(
    "route", [r for r in portal_routes() if r.has_id and r.acts_in_an_org], ids=str
)
def test_another_orgs_id_is_404_on_every_portal_route_that_takes_one(route, org, other_org):
    client, _ = _portal_client(org, role="owner")
    ids = _other_org_portal_ids(route.name, other_org)
    response = client.generic(route.method, route.path(**ids), "role=viewer&grace_seconds=0",
                              content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 404, f"{route} answered {response.status_code}"


JUNK_FORMS: list[dict[str, Any]] = [
    {"name": "x" * 5000, "role": "emperor", "email": "@", "grace_seconds": "1e400"},
    {"scopes": ["nope"], "expires_at": "tomorrow", "allowed_ips": "\x00", "url": "javascript:1"},
    {"org_id": "abc", "next": "//evil.test", "event_types": ["x"], "since": "0000-00-00"},
]


@pytest.mark.parametrize("route", portal_routes(), ids=str)
def test_bad_input_is_never_a_500_on_any_portal_route(route, org):
    client, membership = _portal_client(org, role="owner")
    for junk in JUNK_FORMS:
        path = route.path(pk=membership.pk, delivery_pk=membership.pk)
        if route.method == "GET":
            response = client.get(path, {k: v for k, v in junk.items() if isinstance(v, str)})
        else:
            response = client.post(path, junk)
        assert response.status_code < 500, f"{route} {junk}: {response.status_code}"
