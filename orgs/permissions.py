"""DRF permission classes of the API bases (``orgs.bases``), which compose them."""

from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from orgs.context import OrgContext
from orgs.roles import RequiredAction


def required_action(view: Any, method: str) -> RequiredAction | None:
    """What ``view`` (a class or an instance) needs for ``method`` or, on a viewset, for its
    current ``action``: an action of ``orgs.roles``, a tuple of alternatives, or an access
    level (``public``, ``signed_in``, ``any_member``). None: the view names nothing."""
    table: dict[str, RequiredAction] = getattr(view, "required_actions", {})
    key = getattr(view, "action", None) or method.lower()
    return table.get(key) or table.get(method.lower())


class HasOrgAction(BasePermission):
    """Grants a request when its credential's CURRENT role (and scopes) allow the action.

    The view names the action per viewset action or HTTP method in ``required_actions``;
    a view that names none is refused (fail closed). The membership was read from the
    database by the authentication class on this very request: no permission cache.
    """

    message = "Your role does not allow this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        if not isinstance(context, OrgContext):
            return False
        refuse_unserved_method(view, request)
        action = required_action(view, request.method or "")
        return action is not None and context.grants(action)


def refuse_unserved_method(view: Any, request: Request) -> None:
    """A method the view does not serve is a 405, not a 403 for want of an action: the
    permission check runs before DRF would pick the handler. (OPTIONS is not served: there
    is no metadata class.)"""
    method = (request.method or "").lower()
    if (
        method not in getattr(view, "http_method_names", ())
        or method == "options"
        or getattr(view, method, None) is None
    ):
        raise MethodNotAllowed(request.method or "")


class IsSignedInMember(BasePermission):
    """A person's own sign-in (JWT or session) as an active member, never an API key: for
    what spans the user's orgs or sessions. A key is one org's credential."""

    message = "An API key cannot do this; sign in as the user"

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        return (
            isinstance(context, OrgContext)
            and context.membership.is_active
            and context.credential != "api_key"
        )


class IsAPIKey(BasePermission):
    """An org's API key, and nothing else (the ``/api/public/*`` routes)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        return isinstance(context, OrgContext) and context.credential == "api_key"
