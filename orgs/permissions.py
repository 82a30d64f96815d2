from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from orgs.context import OrgContext


class HasOrgAction(BasePermission):
    """Grants a request when its credential's CURRENT role (and scopes) allow the action.

    The view names the action per viewset action or HTTP method in ``required_actions``;
    a view that names none is refused (fail closed). The membership was read from the
    database by the authentication class on this very request: no permission cache.
    """

    message = "Your role does not allow this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        if not isinstance(context, OrgContext) or not context.membership.is_active:
            return False
        refuse_unserved_method(view, request)
        action = required_action(view, request)
        return action is not None and context.allows(action)


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


def required_action(view: Any, request: Request) -> str | None:
    table: dict[str, str] = getattr(view, "required_actions", {})
    method = (request.method or "").lower()
    key = getattr(view, "action", None) or method
    return table.get(key) or table.get(method)


class IsActiveMember(BasePermission):
    """Any credential of an active member: for a user's own resources (/users/me, logout)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        return isinstance(context, OrgContext) and context.membership.is_active


class IsSignedInMember(IsActiveMember):
    """A person's own sign-in (JWT or session), never an API key: for what spans the user's
    orgs or sessions (my orgs, new orgs, logout, password). A key is one org's credential."""

    message = "An API key cannot do this; sign in as the user"

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        return (
            super().has_permission(request, view)
            and isinstance(context, OrgContext)
            and context.credential != "api_key"
        )
