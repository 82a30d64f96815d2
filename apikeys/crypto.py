"""Key material: generate, check offline, digest. No database, no Django models.

Format ``<prefix>_<env>_<64 hex secret><8 hex CRC32>``, e.g. ``tnt_live_9f…c1a0b2c3d4``.
The CRC32 (of everything before it) lets a scanner tell a real key from noise offline and
lets us refuse a mistyped key before any query. Stored: HMAC-SHA-256 of the whole key
under a server-side pepper, tagged with the pepper's id so peppers can rotate. Verifying
costs two HMACs and one indexed lookup: microseconds, never a password hash.
"""

import functools
import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

from django.conf import settings

ENVIRONMENTS = ("live", "test")
_SHAPE = re.compile(
    r"^(?P<prefix>[a-z][a-z0-9]{0,15})_(?P<env>live|test)_(?P<secret>[0-9a-f]{64})(?P<crc>[0-9a-f]{8})$"
)
DISPLAY_PREFIX_LENGTH = 4  # hex characters of the secret shown after "<prefix>_<env>_"


@dataclass(frozen=True)
class ParsedKey:
    raw: str
    prefix: str
    env: str

    @property
    def display_prefix(self) -> str:
        head = f"{self.prefix}_{self.env}_"
        return self.raw[: len(head) + DISPLAY_PREFIX_LENGTH]

    @property
    def last_four(self) -> str:
        return self.raw[-4:]


def generate(env: str = "live") -> ParsedKey:
    if env not in ENVIRONMENTS:
        raise ValueError(f"env must be one of {ENVIRONMENTS}")
    body = f"{settings.API_KEY_PREFIX}_{env}_{secrets.token_hex(32)}"
    return ParsedKey(raw=body + _checksum(body), prefix=settings.API_KEY_PREFIX, env=env)


def parse(raw: str) -> ParsedKey | None:
    """The key if its shape, deployment prefix and checksum are right; else None."""
    match = _SHAPE.match(raw)
    if match is None or match["prefix"] != settings.API_KEY_PREFIX:
        return None
    if not hmac.compare_digest(match["crc"], _checksum(raw[:-8])):
        return None
    return ParsedKey(raw=raw, prefix=match["prefix"], env=match["env"])


def looks_like_key(raw: str) -> bool:
    """Cheap test for "this was meant to be one of our keys" (right prefix)."""
    return raw.startswith(f"{settings.API_KEY_PREFIX}_")


def digest(raw: str, pepper_id: str) -> str:
    """HMAC-SHA-256 of the whole key under the pepper, hex.

    The standard library's HMAC, keyed once per pepper and copied per key: OpenSSL 3 looks
    the HMAC algorithm up by name on every ``hmac.new`` or ``hmac.digest`` call (~20k
    instructions, most of a key's verification outside its statement); copying a keyed
    HMAC looks nothing up. The same digest as ``hmac.new(pepper, raw, sha256)`` (tests
    compare them)."""
    keyed = _keyed(settings.API_KEY_PEPPERS[pepper_id]).copy()
    keyed.update(raw.encode())
    return keyed.hexdigest()


@functools.lru_cache(maxsize=16)
def _keyed(pepper: str) -> hmac.HMAC:
    """An HMAC-SHA-256 keyed with the pepper and fed nothing, to be copied (never fed
    itself). A handful of peppers: the configured ones."""
    return hmac.new(pepper.encode(), digestmod=hashlib.sha256)


def current_pepper_id() -> str:
    return str(settings.API_KEY_PEPPER_ID)


def candidate_digests(raw: str) -> list[str]:
    """The key's digest under every configured pepper: a key made before a rotation still
    verifies, in the same single indexed query."""
    return [digest(raw, pepper_id) for pepper_id in settings.API_KEY_PEPPERS]


def _checksum(body: str) -> str:
    return f"{zlib.crc32(body.encode()) & 0xFFFFFFFF:08x}"
