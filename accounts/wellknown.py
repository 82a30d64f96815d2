"""``/.well-known/jwks.json``: the public keys that verify our access tokens, for backends
that verify a token offline instead of calling ``/api/public/verify``."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from accounts.signing_keys import jwks
from orgs.bases import PortalPublicView

# Verifiers cache the set; a new key is published (rotate_jwt_key's first step) well before
# it signs, so five minutes of staleness never refuses a fresh token.
JWKS_MAX_AGE_SECONDS = 300


class JWKSView(PortalPublicView):
    http_method_names = ["get"]  # nothing else, HEAD and OPTIONS included

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        response = JsonResponse(jwks())
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
        return response
