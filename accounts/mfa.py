"""The second factor: an authenticator app (django-otp's TOTP device) and single-use recovery
codes, and the half-finished sign-in (``MfaChallenge``) that a code completes.

Every write here is atomic and audited. No code, secret or token ever reaches an audit row,
an error body or a log line: events name the method ("totp", "recovery_code"), never the
value. A wrong code is audited (``auth.mfa_failed``) and committed before the caller hears
of it, so a failure counts even though the request fails.

What a code is: six digits from the confirmed app (each accepted once: django-otp keeps the
last time step used), or one of the person's recovery codes (``xxxxx-xxxxx``, used once).
"""

import io
import secrets
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit_actions
from accounts.errors import InvalidCredentials
from accounts.models import MfaChallenge, RecoveryCode, User
from audit.actors import Actor, RequestContext
from audit.services import record
from orgs.errors import Conflict
from orgs.models import Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token

CHALLENGE_PREFIX = "mfa_"
DEVICE_NAME = "Authenticator app"
# No 0/o, 1/l/i: read off paper without doubt. 31 symbols, 10 per code: about 49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
TOTP = "totp"
RECOVERY_CODE = "recovery_code"
INVALID_CODE = "Invalid code"

_T = TypeVar("_T")


class InvalidCode(Exception):
    """A wrong (or already used) code. Already audited and counted when raised."""


class MfaRequired(Exception):
    """The password was right; the person's second factor is owed. Carries the raw token."""

    def __init__(self, mfa_token: str) -> None:
        super().__init__("a second factor is required")
        self.mfa_token = mfa_token


class MfaEnrollmentRequired(Exception):
    """The password was right, but the org requires a second factor the person lacks."""


# --- Reads ---------------------------------------------------------------------------------


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def orgs_requiring(user: User) -> list[Organization]:
    """The person's orgs (active memberships) that require a second factor.

    Spans orgs on purpose: one person's own memberships, keyed by that person.
    """
    return [
        m.org
        for m in Membership.dangerously_unscoped.select_related("org")
        .filter(user=user, status=Membership.Status.ACTIVE, org__mfa_required=True)
        .order_by("org__slug")
    ]


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    enrolled_at: datetime | None
    recovery_codes_remaining: int
    required_by: list[str]  # slugs of the person's orgs that require a second factor


def mfa_status(user: User) -> MfaStatus:
    device = confirmed_device(user)
    remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    return MfaStatus(
        enabled=device is not None,
        enrolled_at=device.created_at if device is not None else None,
        recovery_codes_remaining=remaining if device is not None else 0,
        required_by=[org.slug for org in orgs_requiring(user)],
    )


# --- Codes ---------------------------------------------------------------------------------


def recovery_code_digest(user_id: int, code: str) -> str:
    """HMAC-SHA-256 (keyed from SECRET_KEY) of one person's normalised recovery code."""
    digest = salted_hmac("tenantry.mfa.recovery-code", f"{user_id}:{code}", algorithm="sha256")
    return digest.hexdigest()


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _new_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes (inside the caller's transaction); the raw codes
    are returned once and never stored."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(settings.MFA_RECOVERY_CODES)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery_code_digest(user.pk, code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _check_code(user: User, code: str, *, device: TOTPDevice | None = None) -> str | None:
    """Inside the caller's transaction: which method ``code`` proves (spending it), or None.

    ``device``: an unconfirmed device being enrolled, whose code alone is accepted."""
    value = _normalise(code)
    if value.isdigit() and len(value) == 6:
        target = device or (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        )
        return TOTP if target is not None and target.verify_token(value) else None
    if device is not None or len(value) != RECOVERY_LENGTH:
        return None
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=recovery_code_digest(user.pk, value), used_at__isnull=True
    ).update(used_at=timezone.now())
    return RECOVERY_CODE if spent else None


def _record_failure(
    user: User, *, actor: Actor, org_id: int | None, during: str, **extra: Any
) -> None:
    record(
        org_id=org_id,
        action=audit_actions.AUTH_MFA_FAILED,
        actor=actor,
        target=user,
        metadata={"during": during, **extra},
    )


# --- Enrollment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    secret: str  # base32, for typing into an app by hand
    otpauth_uri: str
    qr_svg: str


def enrollment_for(device: TOTPDevice) -> Enrollment:
    """What the person scans: the otpauth:// URI (issuer "Tenantry") as an SVG QR code,
    drawn here (segno): the secret never leaves for a QR service."""
    uri = device.config_url
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=4, border=2, dark="#000", light="#fff", xmldecl=False,
        svgns=True, omitsize=True, title="QR code for your authenticator app", svgclass="qr",
        lineclass=None,
    )  # fmt: skip
    return Enrollment(
        secret=b32encode(device.bin_key).decode().rstrip("="),
        otpauth_uri=uri,
        qr_svg=buffer.getvalue().decode(),
    )


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def totp_enroll_start(*, user: User, actor: Actor, org_id: int | None) -> Enrollment:
    """A new authenticator-app secret for ``user`` (unconfirmed until a first code proves
    the app has it; any earlier unconfirmed one is dropped). Refused (409) while a confirmed
    one exists: turn it off first. Atomic, audited (never the secret)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one enrollment at a time
        if has_second_factor(user):
            raise Conflict("A second factor is already on; turn it off first")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
        record(
            org_id=org_id,
            action=audit_actions.AUTH_MFA_ENROLLMENT_STARTED,
            actor=actor,
            target=user,
            metadata={"device_id": device.pk},
        )
    return enrollment_for(device)


def totp_enroll_confirm(*, user: User, code: str, actor: Actor, org_id: int | None) -> list[str]:
    """Confirm the pending device with its first code: the second factor is on, and the
    returned recovery codes (shown once) replace any old ones. Atomic, audited; a wrong code
    is audited as ``auth.mfa_failed`` and raises InvalidCode."""
    failed = False
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).last()
        if device is None:
            raise Conflict("Nothing to confirm: start enrolling first")
        codes = _confirm(device, code=code, actor=actor, org_id=org_id, during="enrollment")
        failed = codes is None
    if failed or codes is None:
        raise InvalidCode
    return codes


def _confirm(
    device: TOTPDevice, *, code: str, actor: Actor, org_id: int | None, during: str
) -> list[str] | None:
    """Inside the caller's transaction: confirm ``device`` with ``code`` and mint recovery
    codes; on a wrong code, audit the failure and return None."""
    user = device.user
    if _check_code(user, code, device=device) is None:
        _record_failure(user, actor=actor, org_id=org_id, during=during)
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    record(
        org_id=org_id,
        action=audit_actions.AUTH_MFA_ENROLLED,
        actor=actor,
        target=user,
        metadata={"device_id": device.pk, "recovery_codes": len(codes), "during": during},
    )
    return codes


def mfa_disable(*, user: User, password: str, code: str, actor: Actor, org_id: int | None) -> None:
    """Turn the second factor off: the password AND a code (app or recovery) are required.
    Devices and recovery codes are deleted. Atomic, audited; a wrong password is a 422 on
    ``password``, a wrong code an audited InvalidCode."""
    if not user.check_password(password):
        raise ValidationError({"password": ["Incorrect password"]})
    failed = False
    with transaction.atomic():
        if not has_second_factor(user):
            raise Conflict("No second factor is on")
        method = _check_code(user, code)
        if method is None:
            _record_failure(user, actor=actor, org_id=org_id, during="disable")
            failed = True
        else:
            devices, _ = TOTPDevice.objects.filter(user=user).delete()
            RecoveryCode.objects.filter(user=user).delete()
            record(
                org_id=org_id,
                action=audit_actions.AUTH_MFA_DISABLED,
                actor=actor,
                target=user,
                metadata={"method": method, "devices_removed": devices},
            )
    if failed:
        raise InvalidCode


def recovery_codes_regenerate(
    *, user: User, code: str, actor: Actor, org_id: int | None
) -> list[str]:
    """New recovery codes (shown once) for a code of the app; the old ones stop working.
    Atomic, audited; a wrong code is an audited InvalidCode."""
    codes: list[str] | None = None
    with transaction.atomic():
        if not has_second_factor(user):
            raise Conflict("No second factor is on")
        value = _normalise(code)
        method = _check_code(user, value) if value.isdigit() else None  # the app's code only
        if method is None:
            _record_failure(user, actor=actor, org_id=org_id, during="recovery_codes")
        else:
            codes = _new_recovery_codes(user)
            record(
                org_id=org_id,
                action=audit_actions.AUTH_MFA_RECOVERY_CODES_REGENERATED,
                actor=actor,
                target=user,
                metadata={"recovery_codes": len(codes)},
            )
    if codes is None:
        raise InvalidCode
    return codes


# --- The half-finished sign-in -------------------------------------------------------------


def challenge_open(
    *,
    user: User,
    channel: str,
    purpose: str = MfaChallenge.Purpose.VERIFY,
    login_org: Organization | None,
    context: RequestContext,
) -> str:
    """After a right password: a short-lived, single-use token that a code completes on
    ``channel`` (the raw token is returned once; its SHA-256 is stored). Atomic, audited as
    ``auth.mfa_challenged`` (never the token)."""
    raw, digest = new_opaque_token(CHALLENGE_PREFIX)
    with transaction.atomic():
        challenge = MfaChallenge.objects.create(
            token_hash=digest,
            user=user,
            login_org=login_org,
            channel=channel,
            purpose=purpose,
            expires_at=timezone.now() + settings.MFA_TOKEN_LIFETIME,
        )
        record(
            org_id=login_org.pk if login_org is not None else None,
            action=audit_actions.AUTH_MFA_CHALLENGED,
            actor=Actor.for_user(user, context=context),
            target=user,
            metadata={"channel": channel, "purpose": purpose, "challenge_id": challenge.pk},
        )
    return raw


def _live(challenge: MfaChallenge | None, channel: str) -> bool:
    return (
        challenge is not None
        and challenge.channel == channel
        and challenge.used_at is None
        and challenge.expires_at > timezone.now()
        and challenge.failures < settings.MFA_TOKEN_ATTEMPTS
        and challenge.user.is_active
    )


def challenge_peek(raw_token: str, *, channel: str) -> MfaChallenge | None:
    """The live challenge ``raw_token`` names on ``channel``, or None. Writes nothing."""
    if not raw_token.startswith(CHALLENGE_PREFIX):
        return None
    challenge = (
        MfaChallenge.objects.select_related("user", "login_org")
        .filter(token_hash=hash_opaque_token(raw_token))
        .first()
    )
    return challenge if _live(challenge, channel) else None


@dataclass(frozen=True)
class Redeemed:
    challenge: MfaChallenge
    method: str  # TOTP or RECOVERY_CODE
    recovery_codes: list[str] | None  # new codes, when the challenge enrolled the device


def challenge_redeem(
    *,
    raw_token: str,
    code: str,
    channel: str,
    context: RequestContext,
    then: Callable[[Redeemed], _T],
) -> tuple[_T, Redeemed]:
    """Complete a challenge with a code, then run ``then`` (open the session, issue the
    token pair) in the SAME transaction: the challenge is spent only if the sign-in opens.

    A dead token (unknown, used, expired, other channel, too many failures) raises
    InvalidCredentials. A wrong code counts against the token (MFA_TOKEN_ATTEMPTS), is
    audited, committed, and raises InvalidCode. A recovery code is spent and audited as
    ``auth.mfa_recovery_code_used``. An ENROLL challenge confirms the pending device with
    the code instead (``auth.mfa_enrolled``; the new recovery codes are in the result).
    """
    if not raw_token.startswith(CHALLENGE_PREFIX):
        raise InvalidCredentials
    failed = False
    with transaction.atomic():
        challenge = (
            MfaChallenge.objects.select_for_update(of=("self",))
            .select_related("user", "login_org")
            .filter(token_hash=hash_opaque_token(raw_token))
            .first()
        )
        if challenge is None or not _live(challenge, channel):
            raise InvalidCredentials
        user = challenge.user
        actor = Actor.for_user(user, context=context)
        org_id = challenge.login_org_id
        codes: list[str] | None = None
        if challenge.purpose == MfaChallenge.Purpose.ENROLL:
            device = (
                TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).last()
            )
            if device is None:
                raise InvalidCredentials
            codes = _confirm(device, code=code, actor=actor, org_id=org_id, during="sign_in")
            method: str | None = TOTP if codes is not None else None
        else:
            method = _check_code(user, code)
            if method is None:
                _record_failure(user, actor=actor, org_id=org_id, during="sign_in", channel=channel)
        if method is None:
            challenge.failures += 1
            challenge.save(update_fields=["failures"])
            failed = True
        else:
            challenge.used_at = timezone.now()
            challenge.save(update_fields=["used_at"])
            if method == RECOVERY_CODE:
                remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
                record(
                    org_id=org_id,
                    action=audit_actions.AUTH_MFA_RECOVERY_CODE_USED,
                    actor=actor,
                    target=user,
                    metadata={"channel": channel, "remaining": remaining},
                )
            redeemed = Redeemed(challenge=challenge, method=method, recovery_codes=codes)
            result = then(redeemed)
    if failed:
        raise InvalidCode
    return result, redeemed


def enroll_walk_start(*, user: User, login_org: Organization, context: RequestContext) -> str:
    """A right password of a person whose org (``login_org``, whose audit log shows it)
    requires a second factor they lack: the portal's ENROLL challenge and a pending app
    secret, in one transaction. Returns the raw
    challenge token (audited as ``auth.mfa_challenged`` and ``auth.mfa_enrollment_started``)."""
    with transaction.atomic():
        raw = challenge_open(
            user=user,
            channel=MfaChallenge.Channel.PORTAL,
            purpose=MfaChallenge.Purpose.ENROLL,
            login_org=login_org,
            context=context,
        )
        actor = Actor.for_user(user, context=context)
        totp_enroll_start(user=user, actor=actor, org_id=login_org.pk)
    return raw
