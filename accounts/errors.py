from rest_framework.exceptions import AuthenticationFailed, PermissionDenied


class InvalidCredentials(Exception):
    """Wrong email, password, org or token: one answer for all, so nothing is enumerated."""


class JwtDisabled(Exception):
    """The org has switched JWT sign-in off."""


def jwt_disabled_error() -> PermissionDenied:
    """The API's answer to JwtDisabled: 403 with the machine code ``jwt_disabled``."""
    return PermissionDenied(
        "JWT authentication is disabled for this organization", code="jwt_disabled"
    )


class MfaRequiredError(AuthenticationFailed):
    """The API login's answer when the password was right and a second factor is owed:
    401 ``mfa_required`` with ``details.mfa_token`` (Auth0's MFA API shape)."""

    def __init__(self, mfa_token: str) -> None:
        super().__init__(
            "A second factor is required: POST the code with this mfa_token to /api/auth/mfa",
            code="mfa_required",
        )
        self.error_details = {"mfa_token": mfa_token}


def mfa_enrollment_required_error() -> PermissionDenied:
    """403 ``mfa_enrollment_required``: the org requires a second factor and the person has
    none. Given only after a right password (a wrong one is the usual 401)."""
    return PermissionDenied(
        "This organization requires a second factor: sign in to the portal, which walks you "
        "through enrolling one, then sign in here again",
        code="mfa_enrollment_required",
    )
