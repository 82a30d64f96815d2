from audit.registry import register

USER_CREATED = register("user.created", "A user account was created")
USER_UPDATED = register("user.updated", "A user account was changed")
USER_DELETED = register("user.deleted", "A user account was deleted")
USER_PASSWORD_CHANGED = register("user.password_changed", "A user changed their password")
AUTH_LOGIN = register("auth.login", "A user signed in and received a token pair")
AUTH_TOKEN_REFRESHED = register("auth.token_refreshed", "A refresh token was exchanged")
AUTH_REFRESH_REUSE_DETECTED = register(
    "auth.refresh_reuse_detected", "A spent refresh token was replayed; its family was revoked"
)
AUTH_LOGOUT = register("auth.logout", "A sign-in (token family) was ended")
AUTH_LOGOUT_ALL = register("auth.logout_all", "Every sign-in of a user was ended")
JWT_KEY_GENERATED = register(
    "jwt_key.generated", "An operator generated a new JWT signing key (rotate_jwt_key)"
)
AUTH_SESSION_STARTED = register(
    "auth.session_started", "A person signed in in a browser (a session cookie was issued)"
)
AUTH_SESSION_ENDED = register(
    "auth.session_ended", "A browser session was ended (signed out, or ended from another)"
)
USER_PASSWORD_RESET = register(
    "user.password_reset", "A user set a new password through an emailed reset link"
)
AUTH_EXPIRED_FLUSHED = register(
    "auth.expired_flushed",
    "Dead sign-ins and expired browser sessions were deleted (flush_expired)",
)
# The second factor (accounts/mfa.py). No event ever carries a code, secret or token.
AUTH_MFA_ENROLLMENT_STARTED = register(
    "auth.mfa_enrollment_started", "A person began enrolling an authenticator app (not yet used)"
)
AUTH_MFA_ENROLLED = register(
    "auth.mfa_enrolled", "A person confirmed an authenticator app: their second factor is on"
)
AUTH_MFA_DISABLED = register(
    "auth.mfa_disabled", "A person turned their second factor off (password and a code given)"
)
AUTH_MFA_RECOVERY_CODES_REGENERATED = register(
    "auth.mfa_recovery_codes_regenerated", "New recovery codes replaced a person's old ones"
)
AUTH_MFA_CHALLENGED = register(
    "auth.mfa_challenged", "A right password was given; a second factor was asked for"
)
AUTH_MFA_FAILED = register("auth.mfa_failed", "A wrong second-factor code was given")
AUTH_MFA_RECOVERY_CODE_USED = register(
    "auth.mfa_recovery_code_used", "A single-use recovery code stood in for the second factor"
)
