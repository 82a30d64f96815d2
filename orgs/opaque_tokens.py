"""Random bearer secrets that we store only as a digest (refresh tokens, invitations)."""

import hashlib
import secrets


def new_opaque_token(prefix: str) -> tuple[str, str]:
    """A random token (256 bits) and the SHA-256 hex digest we store instead of it."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, hash_opaque_token(raw)


def hash_opaque_token(raw: str) -> str:
    # Plain SHA-256 suffices: the token has 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()
