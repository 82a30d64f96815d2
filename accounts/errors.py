from rest_framework.exceptions import PermissionDenied


class InvalidCredentials(Exception):
    """Wrong email, password, org or token: one answer for all, so nothing is enumerated."""


class JwtDisabled(Exception):
    """The org has switched JWT sign-in off."""


def jwt_disabled_error() -> PermissionDenied:
    """The API's answer to JwtDisabled: 403 with the machine code ``jwt_disabled``."""
    return PermissionDenied(
        "JWT authentication is disabled for this organization", code="jwt_disabled"
    )
