"""The org's API-key policy: its rules, what a new key must meet, which existing keys fall
outside it. Pure functions over a policy and a key's fields; the services decide when to
apply them (``apikeys.services``), the selectors read the policy (``apikeys.selectors``).

Each rule has a stable code, named in refusals (``details.rules``) and in the flags of the
key list:

| code | policy field | a new key (create, roll) must |
|---|---|---|
| ``max_lifetime`` | ``max_lifetime_days`` | expire within N days |
| ``scope_ceiling`` | ``scope_ceilings[role]`` | hold only these actions (explicit scopes) |
| ``max_active_keys`` | ``max_active_keys_per_member`` | leave its creator at most N active keys |
| ``environment`` | ``allowed_environments[role]`` | be of an environment the role may create |
| ``live_ip_allowlist`` | ``require_ip_allowlist_for_live`` | carry an IP allow-list if live |
| ``revoke_unused`` | ``revoke_unused_after_days`` | (existing keys) be used every N days |
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apikeys.models import APIKey, APIKeyPolicy
from orgs.errors import Violation
from orgs.roles import actions_for

RULES = (
    "max_lifetime",
    "scope_ceiling",
    "max_active_keys",
    "environment",
    "live_ip_allowlist",
    "revoke_unused",
)
# The owners hear of a key's coming revocation for disuse this long before it.
UNUSED_NOTICE = timedelta(days=7)
POLICY_FIELDS = (
    "max_lifetime_days",
    "revoke_unused_after_days",
    "scope_ceilings",
    "max_active_keys_per_member",
    "allowed_environments",
    "require_ip_allowlist_for_live",
)


def describe(policy: APIKeyPolicy) -> dict[str, Any]:
    """The policy as the API and the audit trail show it."""
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def is_unrestricted(policy: APIKeyPolicy) -> bool:
    return describe(policy) == describe(APIKeyPolicy())


@dataclass(frozen=True)
class NewKey:
    """What create or roll is about to make."""

    role: str
    env: str
    scopes: list[str] | None  # None: whatever the role allows
    expires_at: datetime | None
    allowed_ips: list[str]


def new_key_violations(policy: APIKeyPolicy, key: NewKey, *, now: datetime) -> list[Violation]:
    """The rules a new key would break (all of them, so one answer says what to fix).
    ``max_active_keys`` needs a count and is checked by the service, under a lock."""
    found: list[Violation] = []
    days = policy.max_lifetime_days
    if days is not None and (key.expires_at is None or key.expires_at > now + timedelta(days=days)):
        found.append(
            Violation(
                "max_lifetime",
                "expires_at",
                f"Keys must expire within {days} days (policy rule max_lifetime)",
            )
        )
    ceiling = policy.scope_ceilings.get(key.role)
    if ceiling is not None:
        held = set(key.scopes) if key.scopes is not None else set(actions_for(key.role))
        beyond = sorted(held - set(ceiling))
        if beyond:
            allowed = ", ".join(sorted(ceiling)) or "none"
            found.append(
                Violation(
                    "scope_ceiling",
                    "scopes",
                    f"A {key.role}'s keys may hold only these scopes: {allowed}; "
                    f"not {', '.join(beyond)} (policy rule scope_ceiling)",
                )
            )
    environments = policy.allowed_environments.get(key.role)
    if environments is not None and key.env not in environments:
        may = " or ".join(environments) + " keys only" if environments else "no keys"
        found.append(
            Violation(
                "environment",
                "env",
                f"A {key.role} may create {may}, not {key.env} (policy rule environment)",
            )
        )
    if policy.require_ip_allowlist_for_live and key.env == "live" and not key.allowed_ips:
        found.append(live_ip_allowlist_violation())
    return found


def live_ip_allowlist_violation() -> Violation:
    return Violation(
        "live_ip_allowlist",
        "allowed_ips",
        "Live keys must carry an IP allow-list (policy rule live_ip_allowlist)",
    )


def max_active_keys_violation(limit: int) -> Violation:
    return Violation(
        "max_active_keys",
        None,
        f"Each member may hold at most {limit} active keys; revoke one first "
        "(policy rule max_active_keys)",
    )


def idle_since(key: APIKey) -> datetime:
    """Since when a key has not been used: its last use, else its creation."""
    return key.last_used_at or key.created_at


def existing_key_rules(
    policy: APIKeyPolicy, key: APIKey, *, role: str | None, over_limit: bool, now: datetime
) -> list[str]:
    """The codes of the rules an existing, active key is outside of (inactive keys: none).
    ``role`` is its creator's current role (None: the creator left; the key is dead);
    ``over_limit``: its creator holds more active keys than the policy allows."""
    if key.status_at(now) != "active":
        return []
    rules: list[str] = []
    days = policy.max_lifetime_days
    if days is not None and (
        key.expires_at is None or key.expires_at > key.created_at + timedelta(days=days)
    ):
        rules.append("max_lifetime")
    if role is not None:
        new = NewKey(
            role=role,
            env=key.env,
            scopes=key.scopes,
            expires_at=None,
            allowed_ips=key.allowed_ips,
        )
        rules += [
            v.rule
            for v in new_key_violations(policy, new, now=now)
            if v.rule in ("scope_ceiling", "environment")
        ]
    if over_limit:
        rules.append("max_active_keys")
    if policy.require_ip_allowlist_for_live and key.env == "live" and not key.allowed_ips:
        rules.append("live_ip_allowlist")
    unused = policy.revoke_unused_after_days
    if unused is not None and idle_since(key) <= now - timedelta(days=unused):
        rules.append("revoke_unused")
    return rules
