"""GET /api/users/me answers with ``me_representation``, built without DRF's serializer
machinery; ``MeSerializer`` stays its schema. The two must never drift apart."""

import pytest

from accounts.serializers import MeSerializer, me_representation
from orgs.context import OrgContext
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("credential", "scopes"),
    [
        ("jwt", None),
        ("session", None),
        ("api_key", None),
        ("api_key", frozenset({"org:read", "member:read", "not-an-action"})),
        ("api_key", frozenset()),
    ],
)
@pytest.mark.parametrize("role", ["owner", "developer", "no-longer-a-role"])
def test_the_body_is_the_serializers(org, credential, scopes, role):
    user = UserFactory.create(name="Zoë \u2603", email="Mixed.Case@Example.test")
    membership = MembershipFactory.create(org=org, user=user, role=role)
    context = OrgContext(
        membership=membership, credential=credential, scopes=scopes, credential_id=7
    )
    body = me_representation(context)
    assert body == MeSerializer(context).data
    assert list(body) == list(MeSerializer(context).data)  # the same key order, too


def test_the_view_answers_with_it(org, as_member):
    client = as_member(org, role="admin", name="Ada")
    body = client.get("/api/users/me").json()
    context = OrgContext(membership=client.membership, credential="jwt")
    assert body == MeSerializer(context).data


def test_the_answer_is_what_drfs_response_would_render(org, as_member):
    client = as_member(org)
    response = client.get("/api/users/me")
    assert response["Content-Type"] == "application/json"
    assert b'":"' in response.content  # DRF's compact separators
    assert b"\n" not in response.content
    pretty = client.get("/api/users/me", HTTP_ACCEPT="application/json; indent=2")
    assert pretty.content.startswith(b'{\n  "id": ')
    assert pretty.json() == response.json()


@pytest.mark.parametrize(
    "name",
    [
        "Ada",
        "Zoë \u2603 \U0001f600",
        'quote " backslash \\ slash /',
        "line\u2028para\u2029end",
        "\x00\x1f\t\n",
    ],
)
def test_the_bytes_are_drfs_jsonrenderers(name):
    from rest_framework.renderers import JSONRenderer

    from accounts.api import _compact_json

    body = {"id": 1, "name": name, "org": {"id": 2, "slug": "a"}, "actions": ["x", "y"]}
    assert _compact_json(body) == JSONRenderer().render(body, "application/json")


def test_the_view_sends_drfs_bytes(org, as_member):
    from rest_framework.renderers import JSONRenderer

    client = as_member(org, name="Line\u2028Sep \u2603")
    response = client.get("/api/users/me")
    context = OrgContext(membership=client.membership, credential="jwt")
    expected = JSONRenderer().render(MeSerializer(context).data, "application/json")
    assert response.content == expected
    assert response["Content-Type"] == "application/json"
    assert b"\\u2028" in response.content


def test_a_body_made_once_still_shows_every_change_on_the_next_request(org, as_member):
    """The view keeps the bytes it made for the same values (``_me_json``); each request
    reads the values fresh, so any change shows on the very next answer."""
    from accounts.api import _me_json
    from orgs.models import Membership

    client = as_member(org, role="admin", name="Ada")
    first = client.get("/api/users/me")
    hits = _me_json.cache_info().hits
    assert client.get("/api/users/me").content == first.content
    assert _me_json.cache_info().hits == hits + 1  # the same values: the same bytes
    user = client.membership.user
    user.name = "Ada Lovelace"
    user.save(update_fields=["name"])
    assert client.get("/api/users/me").json()["name"] == "Ada Lovelace"
    org.name = "Renamed"
    org.save(update_fields=["name"])
    assert client.get("/api/users/me").json()["org"]["name"] == "Renamed"
    Membership.objects.for_org(org).filter(pk=client.membership.pk).update(role="viewer")
    body = client.get("/api/users/me").json()
    assert body["role"] == "viewer"
    assert body["actions"] == ["org:read"]
