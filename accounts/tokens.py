"""Token material: JWT access tokens (via simplejwt) and opaque one-time refresh tokens."""

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken as SimpleAccessToken

from accounts.signing_keys import ALGORITHM, Keyring, keyring

REFRESH_PREFIX = "rt_"


class AccessTokenExpired(Exception):
    pass


class AccessTokenInvalid(Exception):
    pass


class KeyringBackend(TokenBackend):
    """simplejwt's backend over our keyring: signs with the current key and names it in the
    header (``kid``); verifies with the key the header names, so several keys verify at once."""

    def __init__(self) -> None:
        super().__init__(ALGORITHM, issuer=jwt_settings.ISSUER, leeway=jwt_settings.LEEWAY)

    def encode(self, payload: dict[str, Any]) -> str:
        current = keyring().current
        claims = {**payload, "iss": self.issuer}
        return jwt.encode(
            claims, current.private_key, algorithm=ALGORITHM, headers={"kid": current.kid}
        )

    def get_verifying_key(self, token: Any) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        key = keyring().verifying_key(kid)
        if key is None:
            raise TokenBackendError("Token is signed with an unknown key")
        return key


class AccessToken(SimpleAccessToken):
    def get_token_backend(self) -> TokenBackend:
        return KeyringBackend()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    org_id: int
    family_id: int


def issue_access_token(*, user_id: int, org_id: int, family_id: int) -> str:
    """A signed JWT: iss, sub, user_id, org_id, sid (the sign-in family), jti, iat, exp."""
    token = AccessToken()
    token["sub"] = str(user_id)
    token["user_id"] = user_id
    token["org_id"] = org_id
    token["sid"] = family_id
    return str(token)  # simplejwt adds iss from settings when it encodes


def access_token_lifetime_seconds() -> int:
    return int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds())


def read_access_token(raw: str) -> AccessClaims:
    """Verify signature, issuer, type and expiry; raise AccessTokenExpired/Invalid.

    A token that verified once is remembered with its claims (``_verified``): what a
    signature proves about a string never changes under the same keys, so the next request
    with it checks only the expiry again (~70 µs of Ed25519 and simplejwt spared). Nothing
    that can be revoked is remembered: whether the sign-in is live and the membership
    active is read from the database on every request (``membership_for_access_token``)."""
    ring = keyring()
    known = _verified.get(raw)
    if known is not None and known[0] is ring:
        if known[2] <= time.time() - _leeway_seconds():  # as PyJWT compares it
            raise AccessTokenExpired
        return known[1]
    claims, expires = _verify(raw)
    if len(_verified) >= VERIFIED_TOKENS_KEPT:
        _verified.clear()
    _verified[raw] = (ring, claims, expires)
    return claims


# Access tokens that verified, with the keyring that verified them: raw -> (keyring, claims,
# exp). A few thousand live tokens per process at most (~0.5 kB each); cleared when full.
VERIFIED_TOKENS_KEPT = 10_000
_verified: dict[str, tuple[Keyring, AccessClaims, float]] = {}


@receiver(setting_changed)
def _forget_verified(**kwargs: Any) -> None:
    _verified.clear()  # tests change keys, issuer and leeway


def _leeway_seconds() -> float:
    leeway = jwt_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway or 0)


def _verify(raw: str) -> tuple[AccessClaims, float]:
    try:
        token = AccessToken(raw)  # type: ignore[arg-type]
    except ExpiredTokenError as exc:
        raise AccessTokenExpired from exc
    except TokenError as exc:
        raise AccessTokenInvalid from exc
    payload: dict[str, Any] = token.payload
    try:
        claims = AccessClaims(
            user_id=int(payload["user_id"]),
            org_id=int(payload["org_id"]),
            family_id=int(payload["sid"]),
        )
        return claims, float(payload["exp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AccessTokenInvalid from exc


def looks_like_jwt(raw: str) -> bool:
    return raw.count(".") == 2 and raw.startswith("eyJ")
