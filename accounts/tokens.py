"""Token material: JWT access tokens (via simplejwt) and opaque one-time refresh tokens."""

from dataclasses import dataclass
from typing import Any

import jwt
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken as SimpleAccessToken

from accounts.signing_keys import ALGORITHM, keyring

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
    """Verify signature, issuer, type and expiry; raise AccessTokenExpired/Invalid."""
    try:
        token = AccessToken(raw)  # type: ignore[arg-type]
    except ExpiredTokenError as exc:
        raise AccessTokenExpired from exc
    except TokenError as exc:
        raise AccessTokenInvalid from exc
    payload: dict[str, Any] = token.payload
    try:
        return AccessClaims(
            user_id=int(payload["user_id"]),
            org_id=int(payload["org_id"]),
            family_id=int(payload["sid"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AccessTokenInvalid from exc


def looks_like_jwt(raw: str) -> bool:
    return raw.count(".") == 2 and raw.startswith("eyJ")
