class InvalidCredentials(Exception):
    """Wrong email, password, org or token: one answer for all, so nothing is enumerated."""


class JwtDisabled(Exception):
    """The org has switched JWT sign-in off."""
