"""Roles and what each may do: the one table every permission check asks.

Actions are ``resource:verb``. An API key's scopes are drawn from the same actions, and a
credential's effective actions are its scopes intersected with its holder's CURRENT role.

| role      | seeds' names                                                        |
|-----------|---------------------------------------------------------------------|
| owner     | Wapka superadmin (level 10)                                         |
| admin     | WorqHat Admin / Leader, Authworx org_admin, Wapka admin (8-9)       |
| developer | WorqHat Developer                                                   |
| member    | Wapka user (1-5); Wapka moderator (6-7) maps here too               |
| viewer    | Wapka public (0), guest tokens with ``public:read``                 |
"""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def outranks_or_equals(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANK = {
    Role.OWNER: 50,
    Role.ADMIN: 40,
    Role.DEVELOPER: 30,
    Role.MEMBER: 20,
    Role.VIEWER: 10,
}

# Every action, with what it lets a credential do. Documented in the API reference.
ACTIONS: dict[str, str] = {
    "org:read": "Read the organization's profile",
    "org:write": "Change the organization's name and settings",
    "security:read": (
        "Read the organization's security settings (sign-in, key policy, second factor, hooks)"
    ),
    "security:write": "Change the organization's security settings: owners only",
    "member:read": "List members and their roles",
    "member:write": "Invite members, change roles (up to one's own), remove members",
    "owner:write": "Grant or remove the owner role",
    "api_key:read": "List and read API keys (never their secret)",
    "api_key:write": "Create API keys and revoke or roll one's own",
    "api_key:manage": "Revoke, roll and edit anyone's API keys",
    "audit:read": "Read the whole audit log",
    "audit:read_own": "Read the audit events of one's own keys",
    "usage:read": "Read request counts of the organization and of every API key",
    "usage:read_own": "Read request counts of one's own API keys",
    "webhook:read": "List webhook endpoints and deliveries",
    "webhook:write": "Create, change and delete webhook endpoints",
}

# What a route needs when no action of the table applies (``x-required-action`` shows it).
PUBLIC = "public"  # nothing: the route is on the public allow-list
SIGNED_IN = "signed_in"  # a person's own sign-in (JWT or session), never an API key
ANY_MEMBER = "any_member"  # any credential of an active member of the org
ACCESS_LEVELS: dict[str, str] = {
    PUBLIC: "Nothing: public",
    SIGNED_IN: "A person's own sign-in (JWT or session); API keys are refused",
    ANY_MEMBER: "Any credential of an active member of the organization",
}
# A route's requirement: one action (or access level), or a tuple of alternatives (any one).
RequiredAction = str | tuple[str, ...]

_ADMIN = frozenset(
    {
        "org:read",
        "org:write",
        "security:read",
        "member:read",
        "member:write",
        "api_key:read",
        "api_key:write",
        "api_key:manage",
        "audit:read",
        "usage:read",
        "webhook:read",
        "webhook:write",
    }
)

ROLE_ACTIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset(ACTIONS),
    Role.ADMIN: _ADMIN,
    Role.DEVELOPER: frozenset(
        {
            "org:read",
            "member:read",
            "api_key:read",
            "api_key:write",
            "audit:read_own",
            "usage:read_own",
        }
    ),
    Role.MEMBER: frozenset({"org:read", "member:read"}),
    Role.VIEWER: frozenset({"org:read"}),
}


def actions_for(role: str) -> frozenset[str]:
    try:
        return ROLE_ACTIONS[Role(role)]
    except ValueError:
        return frozenset()  # an unknown role (data drift) may do nothing


def roles_table_markdown() -> str:
    """The table, as the API reference renders it."""
    roles = list(Role)
    header = "| action | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---" * (len(roles) + 1) + "|"
    rows = [
        f"| `{action}` | "
        + " | ".join("✓" if action in ROLE_ACTIONS[r] else "" for r in roles)
        + " |"
        for action in ACTIONS
    ]
    return "\n".join([header, rule, *rows])
