"""An API key and a client presenting it, for the rate-limit tests."""

from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor
from tests.factories import MembershipFactory


def make_key(org, **fields):
    creator = MembershipFactory.create(org=org, role="admin")
    return api_key_create(org=org, actor=Actor.system(), creator=creator, name="k", **fields)


def with_key(raw):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client
