"""Access tokens are signed with Ed25519 keys that carry a kid; several verify at once, the
public halves are published as a JWKS, and rotation signs nobody out."""

import json
import re
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.signing_keys import keyring, new_seed
from accounts.tokens import AccessToken
from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def printed(pattern, out):
    match = re.search(pattern, out)
    assert match, out
    return match.group(1)


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_tokens_are_eddsa_and_name_their_key(org, as_member, settings):
    token = as_member(org).pair.access_token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == settings.JWT_SIGNING_KEY_ID


def test_jwks_publishes_public_keys_only(client, settings):
    settings.JWT_SIGNING_KEYS = {"old": new_seed(), "new": new_seed()}
    settings.JWT_SIGNING_KEY_ID = "new"
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    keys = response.json()["keys"]
    assert {k["kid"] for k in keys} == {"old", "new"}
    for key in keys:
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert "d" not in key  # never the private half
        for seed in settings.JWT_SIGNING_KEYS.values():
            assert seed not in json.dumps(key)


def test_a_backend_verifies_a_token_offline_against_the_jwks(org, as_member, client):
    token = as_member(org).pair.access_token
    published = client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in published["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], issuer="tenantry")
    assert claims["org_id"] == org.pk


def test_a_token_signed_with_the_old_key_verifies_after_rotation_until_the_key_is_dropped(
    org, as_member, settings
):
    settings.JWT_SIGNING_KEYS = {"j1": new_seed()}
    settings.JWT_SIGNING_KEY_ID = "j1"
    client = as_member(org)
    old_token = client.pair.access_token

    # Rotation: j2 added and signing, j1 still verifying.
    settings.JWT_SIGNING_KEYS = {"j2": new_seed(), **settings.JWT_SIGNING_KEYS}
    settings.JWT_SIGNING_KEY_ID = "j2"
    assert bearer(old_token).get("/api/users/me").status_code == 200
    new_token = as_member(org).pair.access_token
    assert jwt.get_unverified_header(new_token)["kid"] == "j2"
    assert bearer(new_token).get("/api/users/me").status_code == 200

    # After the token lifetime the old key is dropped; its tokens no longer verify.
    settings.JWT_SIGNING_KEYS = {"j2": settings.JWT_SIGNING_KEYS["j2"]}
    response = bearer(old_token).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    assert bearer(new_token).get("/api/users/me").status_code == 200


def test_an_expired_token_of_a_verifying_key_is_expired_not_invalid(org, as_member):
    membership = as_member(org).membership
    token = AccessToken()
    token.set_exp(lifetime=-timedelta(seconds=1))
    token.payload.update({"user_id": membership.user_id, "org_id": org.pk, "sid": 1})
    response = bearer(str(token)).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "expired")


@pytest.mark.parametrize(
    ("signing_key", "header"),
    [
        (lambda: Ed25519PrivateKey.generate(), {"kid": "nobody"}),
        # Our own current key, but no kid: a verifier could not pick a key, so it is refused.
        (lambda: keyring().current.private_key, {}),
    ],
    ids=["unknown-kid", "no-kid"],
)
def test_a_token_naming_an_unknown_key_or_none_is_refused(org, as_member, signing_key, header):
    membership = as_member(org).membership
    forged = jwt.encode(
        {"user_id": membership.user_id, "org_id": org.pk, "sid": 1, "token_type": "access",
         "iss": "tenantry", "exp": 9999999999, "jti": "x"},
        signing_key(), algorithm="EdDSA", headers=header,
    )  # fmt: skip
    response = bearer(forged).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


def test_rotate_jwt_key_prints_a_usable_key_and_audits_only_its_id(
    capsys, settings, org, as_member
):
    call_command("rotate_jwt_key")
    out = capsys.readouterr().out
    keys_line = printed(r"JWT_SIGNING_KEYS=(\S+)", out)
    new_kid = printed(r"JWT_SIGNING_KEY_ID=(j\d{8}[0-9a-f]{4})\n", out)
    keys = dict(item.split(":", 1) for item in keys_line.split(","))
    assert set(settings.JWT_SIGNING_KEYS) < set(keys)  # the old keys stay, for verification

    event = AuditEvent.dangerously_unscoped.get(org_id=None, action="jwt_key.generated")
    assert event.actor_type == "system"
    assert event.metadata == {"kid": new_kid}
    assert keys[new_kid] not in json.dumps(event.metadata)

    settings.JWT_SIGNING_KEYS = keys
    settings.JWT_SIGNING_KEY_ID = new_kid
    token = as_member(org).pair.access_token
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert bearer(token).get("/api/users/me").status_code == 200


def test_a_key_hashed_under_the_old_pepper_works_after_pepper_rotation(capsys, settings, org):
    membership = MembershipFactory.create(org=org, role="owner")
    _, old_raw = api_key_create(
        org=org, actor=Actor.system(), creator=membership, name="before rotation"
    )
    call_command("rotate_key_pepper")
    out = capsys.readouterr().out
    peppers_line = printed(r"API_KEY_PEPPERS=(\S+)", out)
    new_id = printed(r"API_KEY_PEPPER_ID=(\S+)", out)
    settings.API_KEY_PEPPERS = dict(item.split(":", 1) for item in peppers_line.split(","))
    settings.API_KEY_PEPPER_ID = new_id

    new_key, new_raw = api_key_create(
        org=org, actor=Actor.system(), creator=membership, name="after rotation"
    )
    assert new_key.pepper_id == new_id
    for raw in (old_raw, new_raw):
        response = APIClient().get("/api/users/me", HTTP_X_API_KEY=raw)
        assert response.status_code == 200, response.json()
    event = AuditEvent.dangerously_unscoped.get(org_id=None, action="api_key.pepper_generated")
    assert event.metadata == {"pepper_id": new_id}
