"""Guarantees over EVERY API route, found by walking the URLconf: a new route is covered
or this file fails."""

from typing import Any

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.factories import MembershipFactory
from tests.routes import api_routes

pytestmark = pytest.mark.django_db

# The public allow-list of DESIGN.md. Anything else must refuse a request without credentials.
PUBLIC = {
    "GET /api/health",
    "GET /api/health/ready",
    "GET /api/docs.json",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
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
    from orgs.invitations import invitation_create

    def other_webhook():
        from tests.audit.helpers import make_endpoint

        return make_endpoint(other_org, "https://hooks.example.test/theirs")

    def other_sign_in():
        """Another person's API sign-in (token family), by the id the sessions list shows."""
        from accounts.models import TokenFamily
        from accounts.signin import open_session
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

    from accounts.sessions import browser_session_open
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

    from accounts.sessions import browser_session_open
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
