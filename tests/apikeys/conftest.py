import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apikeys.authentication import key_orgs, use_throttle
from apikeys.services import api_key_create
from audit.actors import Actor
from tests.factories import MembershipFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters and last-used throttles
    use_throttle.clear()
    key_orgs.clear()  # the org each key was seen in, per process


@pytest.fixture
def make_key():
    """Create a key through the service; returns (key, raw)."""

    def _make(org, role="admin", membership=None, **fields):
        creator = membership or MembershipFactory.create(org=org, role=role)
        fields.setdefault("name", "test key")
        return api_key_create(org=org, actor=Actor.system(), creator=creator, **fields)

    return _make


def with_key(raw, style="x-api-key"):
    client = APIClient()
    headers = {
        "x-api-key": {"HTTP_X_API_KEY": raw},
        "bearer": {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        "bare": {"HTTP_AUTHORIZATION": raw},
    }[style]
    client.credentials(**headers)
    return client
