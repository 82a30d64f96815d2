"""An authenticator app in tests: the codes it would show, and a person enrolled through the
real services."""

from base64 import b32decode

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from audit.actors import Actor


def _code(key: bytes, *, step: int = 30, digits: int = 6, drift: int = 0) -> str:
    return f"{totp(key, step=step, digits=digits, drift=drift):0{digits}d}"


def code_now(user) -> str:
    """The code the person's (newest) app shows now. A code is accepted once per 30-second
    step (django-otp keeps the last step used); forgetting that step here stands for the
    next 30 seconds passing, so every call yields a code the server accepts once."""
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    assert device is not None, "no authenticator app enrolled"
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return _code(device.bin_key, step=device.step, digits=device.digits, drift=device.drift)


def code_from_secret(secret: str) -> str:
    """What an app that was given ``secret`` (base32, as the page shows it) shows now."""
    padded = secret.strip().replace(" ", "").upper()
    padded += "=" * (-len(padded) % 8)
    return _code(b32decode(padded))


def wrong_code(user) -> str:
    """Six digits that are none of the codes of the current, previous or next step."""
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    assert device is not None
    valid = {
        _code(device.bin_key, drift=drift)
        for drift in (device.drift - 1, device.drift, device.drift + 1)
    }
    candidate = 0
    while f"{candidate:06d}" in valid:
        candidate += 1
    return f"{candidate:06d}"


def enroll(user) -> list[str]:
    """Turn the person's second factor on (start + confirm); returns the recovery codes."""
    actor = Actor.for_user(user)
    mfa.totp_enroll_start(user=user, actor=actor, org_id=None)
    return mfa.totp_enroll_confirm(user=user, code=code_now(user), actor=actor, org_id=None)
