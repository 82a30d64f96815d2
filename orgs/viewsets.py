"""The base of every org-scoped API resource.

It owns authentication, permission and the queryset: subclasses may not override
``get_queryset`` or ``get_object``; they implement ``scoped_queryset(org)`` and name the
action each viewset action needs in ``required_actions``. Another org's object is a 404.
"""

from typing import Any, ClassVar, TypeVar, cast

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from orgs.context import OrgContext, org_context
from orgs.models import Organization
from orgs.permissions import HasOrgAction

_M = TypeVar("_M", bound=Model)


class OrgScopedViewSet(viewsets.GenericViewSet[_M]):
    # Authentication comes from settings (JWT, API key, session): orgs imports neither.
    permission_classes = [HasOrgAction]
    required_actions: ClassVar[dict[str, str]] = {}
    lookup_value_converter = "int"  # routers built with use_regex_path=False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get_queryset", "get_object"):
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}; implement scoped_queryset(org) instead"
                )

    @property
    def org_context(self) -> OrgContext:
        return org_context(self.request)

    @property
    def org(self) -> Organization:
        return self.org_context.org

    def scoped_queryset(self, org: Organization) -> QuerySet[_M]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[_M]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request org
            return cast("QuerySet[_M]", QuerySet().none())
        return self.scoped_queryset(self.org)

    def page(self) -> Response:
        """The paginated, sorted collection, in the contract's ``{data, pagination}`` shape."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def one(self) -> Response:
        """The object named in the URL (404 for another org's)."""
        return Response(self.get_serializer(self.get_object()).data)

    def get_object(self) -> _M:
        queryset = self.filter_queryset(self.get_queryset())
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            obj = queryset.get(**{self.lookup_field: lookup})
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise NotFound() from None
        self.check_object_permissions(self.request, obj)
        return obj


def validated(serializer_class: type[Any], request: Any) -> dict[str, Any]:
    """Run a request body through a serializer; a failure is the 422 of the contract."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
