"""GET /api/usage: request counts per day, of the org or of one API key."""

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys.models import APIKey
from orgs.bases import OrgView
from usage import serializers as s
from usage.selectors import FIELDS, usage_by_day

USAGE_READ = "usage:read"  # the org's and every key's counts (owners, admins)
USAGE_READ_OWN = "usage:read_own"  # one's own keys' counts (developers)


class UsageView(OrgView):
    required_actions = {"get": (USAGE_READ, USAGE_READ_OWN)}

    @extend_schema(
        operation_id="usage_get",
        parameters=[
            OpenApiParameter("key_id", int, description="One API key; omitted: the whole org"),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="First UTC day (default: to - 29 days)"
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last UTC day (default: today)"),
        ],
        responses={200: s.UsageSerializer},
        tags=["usage"],
        summary="Requests per UTC day, by status class, of the org or one API key",
        description=(
            "Counted per request in Redis (today's figures are live) and rolled up into "
            "PostgreSQL by `manage.py rollup_usage`. At most 366 days at once. Owners and "
            "admins read the org and any key; developers read the keys they created."
        ),
    )
    def get(self, request: Request) -> Response:
        query = s.UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        key_id, start, end = (query.validated_data[k] for k in ("key_id", "start", "end"))
        context = self.org_context
        if key_id is not None:
            key = APIKey.objects.for_org(self.org).filter(pk=key_id).first()
            if key is None:
                raise exceptions.NotFound()
            mine = key.membership_id == context.membership.pk
            if not context.allows(USAGE_READ) and not mine:
                raise exceptions.PermissionDenied("You may read the usage of your own keys only")
        elif not context.allows(USAGE_READ):
            raise exceptions.PermissionDenied("Name one of your keys with key_id")
        days = usage_by_day(org=self.org, key_id=key_id, start=start, end=end)
        totals = {f: sum(getattr(d, f) for d in days) for f in FIELDS}
        body = {
            "org_id": self.org.pk,
            "key_id": key_id,
            "from": start,
            "to": end,
            "days": [asdict(d) for d in days],
            "totals": totals,
        }
        return Response(s.UsageSerializer(body).data)
