"""The keys that sign access tokens: Ed25519, each with an id (``kid``), from settings.

``JWT_SIGNING_KEYS`` holds every key a token may be verified with
(``"j2:<base64url seed>,j1:<base64url seed>"``); ``JWT_SIGNING_KEY_ID`` names the one that
signs. Rotation adds a key, then switches the signing id, then drops the old key once the
tokens it signed have expired (``manage.py rotate_jwt_key`` prints the steps), so nobody is
signed out. ``/.well-known/jwks.json`` publishes the public halves so a backend can verify a
token offline.
"""

import base64
import functools
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "EdDSA"
SEED_BYTES = 32


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @functools.cached_property
    def public_key(self) -> Ed25519PublicKey:  # derived once: every token verification asks
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, SigningKey]
    current: SigningKey

    def verifying_key(self, kid: Any) -> Ed25519PublicKey | None:
        key = self.keys.get(kid) if isinstance(kid, str) else None
        return key.public_key if key else None


def keyring() -> Keyring:
    """The keyring the current settings describe (parsed once per distinct setting)."""
    return _parse(tuple(settings.JWT_SIGNING_KEYS.items()), settings.JWT_SIGNING_KEY_ID)


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk() for key in keyring().keys.values()]}


def new_seed() -> str:
    return _b64url(secrets.token_bytes(SEED_BYTES))


def seed_problem(seed: str) -> str | None:
    """Why ``seed`` is not a usable key (None when it is)."""
    try:
        raw = base64.urlsafe_b64decode(seed + "=" * (-len(seed) % 4))
    except ValueError:
        return "is not base64url"
    if len(raw) != SEED_BYTES:
        return f"must decode to {SEED_BYTES} bytes"
    return None


@functools.lru_cache(maxsize=8)
def _parse(items: tuple[tuple[str, str], ...], current_kid: str) -> Keyring:
    keys: dict[str, SigningKey] = {}
    for kid, seed in items:
        problem = seed_problem(seed)
        if problem:
            raise ImproperlyConfigured(f"JWT_SIGNING_KEYS: the key '{kid}' {problem}")
        raw = base64.urlsafe_b64decode(seed + "=" * (-len(seed) % 4))
        keys[kid] = SigningKey(kid, Ed25519PrivateKey.from_private_bytes(raw))
    if current_kid not in keys:
        raise ImproperlyConfigured("JWT_SIGNING_KEY_ID names no key in JWT_SIGNING_KEYS")
    return Keyring(keys=keys, current=keys[current_kid])


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
