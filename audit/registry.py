"""The audit actions: a contract. Registered once, never renamed, never reused.

Each app declares its actions in its own ``audit_actions.py``; registering an id twice is an
error at import time, and ``record`` refuses an action that was never registered.
"""

import re
from dataclasses import dataclass

_ACTION_FORMAT = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class AuditAction:
    name: str
    description: str

    def __str__(self) -> str:
        return self.name


_registry: dict[str, AuditAction] = {}


class DuplicateAuditAction(ValueError):
    pass


def register(name: str, description: str) -> AuditAction:
    if not _ACTION_FORMAT.match(name):
        raise ValueError(f"audit action {name!r} must be named resource.verb")
    if name in _registry:
        raise DuplicateAuditAction(f"audit action {name!r} is already registered")
    action = AuditAction(name, description)
    _registry[name] = action
    return action


def is_registered(action: AuditAction) -> bool:
    return _registry.get(action.name) is action


def all_actions() -> list[AuditAction]:
    return sorted(_registry.values(), key=lambda a: a.name)
