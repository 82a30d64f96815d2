"""Page/limit pagination and `?sort=` ordering, shared by every collection endpoint."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _positive_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise exceptions.ValidationError({name: ["Must be a positive integer"]})
    if maximum is not None and value > maximum:
        raise exceptions.ValidationError({name: [f"Must be at most {maximum}"]})
    return value


class PagePagination(PageNumberPagination):
    """`?page=` (1-based) and `?limit=` (default 20, 1 to 100: more is a 422, as the OpenAPI
    document's ``maximum`` says, not silently capped).

    A page past the end is an empty page with the true totals, not an error: clients that
    poll a shrinking collection should not have to special-case it.
    """

    page_size = settings.PAGE_SIZE
    max_page_size = settings.MAX_PAGE_SIZE

    def paginate_queryset(
        self, queryset: QuerySet[Any] | list[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_number = _positive_int(request, "page", 1)
        self.limit = _positive_int(request, "limit", self.page_size, self.max_page_size)
        self.total_items = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        offset = (self.page_number - 1) * self.limit
        if offset >= self.total_items:
            return []  # also keeps an absurd ?page= from reaching the database as an OFFSET
        return list(queryset[offset : offset + self.limit])

    def get_paginated_response(self, data: Any) -> Response:
        total_pages = max(1, -(-self.total_items // self.limit))
        return Response(
            {
                "data": data,
                "pagination": {
                    "page": self.page_number,
                    "limit": self.limit,
                    "total_items": self.total_items,
                    "total_pages": total_pages,
                    "has_next": self.page_number < total_pages,
                    "has_prev": self.page_number > 1,
                },
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        integer = {"type": "integer"}
        boolean = {"type": "boolean"}
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "properties": {
                        "page": integer,
                        "limit": integer,
                        "total_items": integer,
                        "total_pages": integer,
                        "has_next": boolean,
                        "has_prev": boolean,
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
                "description": f"Items per page, 1 to {self.max_page_size} (more is a 422)",
            },
        ]


class SortFilter(OrderingFilter):
    """`?sort=-created_at`. An unknown field is a 422, never silently ignored."""

    ordering_param = "sort"

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        raw = request.query_params.get(self.ordering_param, "")
        fields = [part.strip() for part in raw.split(",") if part.strip()]
        if fields:
            allowed = set(getattr(view, "ordering_fields", None) or ())
            unknown = [f for f in fields if f.lstrip("-") not in allowed]
            if unknown:
                raise exceptions.ValidationError(
                    {"sort": [f"Unknown sort field: {', '.join(unknown)}"]}
                )
            # A stable tie-breaker keeps pages from overlapping when the sort key repeats.
            return [*fields, "-pk" if fields[-1].startswith("-") else "pk"]
        return self.get_default_ordering(view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = list(getattr(view, "ordering_fields", None) or ())
        if not fields:
            return []
        return [
            {
                "name": self.ordering_param,
                "in": "query",
                "required": False,
                "description": "A field to sort by; a leading `-` sorts descending",
                "schema": {
                    "type": "string",
                    "enum": [variant for f in fields for variant in (f, f"-{f}")],
                },
            }
        ]
