from audit.registry import register

API_KEY_CREATED = register("api_key.created", "An API key was created")
API_KEY_UPDATED = register("api_key.updated", "An API key's name or allow-lists changed")
API_KEY_REVOKED = register("api_key.revoked", "An API key was revoked")
API_KEY_ROLLED = register(
    "api_key.rolled", "An API key was replaced; the old one ends after a grace period"
)
API_KEY_LEAK_REPORTED = register(
    "api_key.leak_reported", "An API key was reported exposed and was revoked"
)
API_KEY_PEPPER_GENERATED = register(
    "api_key.pepper_generated", "An operator generated a new API-key pepper (rotate_key_pepper)"
)
API_KEY_POLICY_UPDATED = register(
    "api_key_policy.updated", "The organization's API-key policy changed (owners only)"
)
API_KEY_REVOKED_UNUSED = register(
    "api_key.revoked_unused",
    "An API key unused for longer than the organization's policy allows was revoked",
)
API_KEY_UNUSED_WARNING_SENT = register(
    "api_key.unused_warning_sent",
    "The owners were told an unused API key will be revoked in a week unless it is used",
)
