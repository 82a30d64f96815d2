"""The audit log and the lifecycle event stream over the API. Thin: parse, call one
selector or service, shape."""

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from audit import serializers as s
from audit.exports import FORMATS, audit_log_export
from audit.models import AuditEvent
from audit.selectors import InvalidCursor, OwnEvents, audit_event_list, outbox_cursor
from audit.stream import event_stream, event_stream_sync
from audit.visibility import own_events_for
from orgs.bases import OrgScopedViewSet, OrgView
from orgs.context import OrgContext, acting, org_context

AUDIT_READ = "audit:read"
AUDIT_READ_OWN = "audit:read_own"  # only the caller's own part of the log
FORMAT_NAMES = tuple(FORMATS)


class _ExportNegotiation(DefaultContentNegotiation):
    """``?format=`` names the export's file format here, not one of DRF's renderers (which
    would answer 404 for ``csv``). The export streams its own body; errors are JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class _ExportQuerySerializer(s.AuditEventFilterSerializer):
    format = serializers.ChoiceField(choices=FORMAT_NAMES, default="jsonl")


_FILTER_PARAMETERS = [
    OpenApiParameter("action", str, description="A registered audit action, e.g. api_key.created"),
    OpenApiParameter("actor_type", str, enum=s.ACTOR_TYPES),
    OpenApiParameter("actor_id", str),
    OpenApiParameter("target_type", str, description="A model label, e.g. apikeys.apikey"),
    OpenApiParameter("target_id", str),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601, inclusive"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601, exclusive"),
]


@extend_schema(tags=["audit"])
class AuditEventViewSet(OrgScopedViewSet[AuditEvent]):
    """``audit:read`` reads the org's whole log; ``audit:read_own`` (developers) reads the
    events its holder did and those done to the API keys they created."""

    model = AuditEvent
    required_actions = {
        "list": (AUDIT_READ, AUDIT_READ_OWN),
        "export": (AUDIT_READ, AUDIT_READ_OWN),
    }
    pagination_class = None  # the audit log pages by cursor (audit.selectors)
    filter_backends: list[Any] = []
    serializer_class = s.AuditEventSerializer

    def _own_events(self) -> OwnEvents | None:
        """None for the whole log, else the caller's own part of it."""
        return own_events_for(self.org_context)

    @extend_schema(
        operation_id="audit_events_list",
        parameters=[
            *_FILTER_PARAMETERS,
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description="1-100, default 20"),
        ],
        responses={200: s.AuditEventPageSerializer},
        summary="The audit log, newest first, paged by cursor",
    )
    def list(self, request: Request) -> Response:
        query = _valid_query(s.AuditEventListQuerySerializer, request)
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        try:
            page = audit_event_list(
                org=self.org, own=self._own_events(), cursor=cursor, limit=limit, **query
            )
        except InvalidCursor:
            raise ValidationError({"cursor": ["Invalid cursor"]}) from None
        return Response(
            {
                "data": s.AuditEventSerializer(page.events, many=True).data,
                "pagination": {
                    "next_cursor": page.next_cursor,
                    "has_next": page.has_next,
                    "limit": limit,
                },
            }
        )

    @extend_schema(
        operation_id="audit_events_export",
        parameters=[
            OpenApiParameter("format", str, enum=FORMAT_NAMES, default="jsonl"),
            *_FILTER_PARAMETERS,
        ],
        responses={
            (200, media_type): OpenApiResponse(
                OpenApiTypes.STR,
                description="JSON Lines (one event per line, shaped as in the list) or CSV "
                "(a header row, then one event per row)",
            )
            for media_type in FORMATS.values()
        },
        summary="Download the audit log (streamed); the export is itself audited",
    )
    @action(detail=False, methods=["get"], content_negotiation_class=_ExportNegotiation)
    def export(self, request: Request) -> StreamingHttpResponse:
        query = _valid_query(_ExportQuerySerializer, request)
        fmt = query.pop("format")
        chunks = audit_log_export(
            org=self.org,
            actor=acting(request),
            fmt=fmt,
            filters=query,
            own=self._own_events(),
        )
        response = StreamingHttpResponse(
            _async_chunks(chunks) if _is_asgi(request) else chunks,
            content_type=f"{FORMATS[fmt]}; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-events-{self.org.slug}-{stamp}.{fmt}"'
        )
        return response


def _is_asgi(request: Request) -> bool:
    # Django reads a streaming body of the other kind to its end before sending a byte:
    # a whole export held in memory, or (for an endless stream) nothing ever sent.
    return isinstance(request._request, ASGIRequest)


async def _async_chunks(chunks: Iterator[str]) -> AsyncIterator[str]:
    # Under ASGI Django would read a synchronous iterator to its end before sending a byte;
    # this one reads a page at a time in the request's thread instead.
    while (chunk := await sync_to_async(_next_chunk)(chunks)) is not None:
        yield chunk


def _next_chunk(chunks: Iterator[str]) -> str | None:
    return next(chunks, None)


def _valid_query(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema(tags=["events"])
class EventStreamView(OrgView):
    """``GET /api/events/stream``: the org's lifecycle events as Server-Sent Events.

    DRF's pipeline (the authentication classes of settings, ``HasOrgAction``, the error
    handler) is synchronous: ``as_view`` runs it once in a thread, which either answers at
    once (401 or 403 in the error shape) or returns a response whose body is the async
    generator of ``audit.stream``, which the ASGI server drives without tying up a worker.
    (Under WSGI the body is the same loop as a plain generator.)
    """

    required_actions = {"get": AUDIT_READ}

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:  # type: ignore[override]
        # (An async view: DRF's stubs only know synchronous ones.)
        dispatch = super().as_view(**initkwargs)

        async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return await sync_to_async(dispatch)(request, *args, **kwargs)

        # Keeps cls/initkwargs, which the schema generator and the route walker read.
        return functools.update_wrapper(view, dispatch)

    @extend_schema(
        operation_id="events_stream",
        summary="Server-Sent Events of the organization's lifecycle events",
        description=(
            "Each event: `id: evt_...` (its webhook-id), `event: <audit action>`, "
            "`data: <the webhook payload as JSON>`. Comment lines keep the connection alive. "
            "Reconnect with `Last-Event-ID` to resume after that event; an unknown id "
            "resumes from now. The stream ends when the credential or role no longer "
            "allows it."
        ),
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                str,
                OpenApiParameter.HEADER,
                description="The id of the last event received",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR, description="The event stream (open until the client leaves)"
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        context = org_context(request)
        cursor = outbox_cursor(
            org=context.org,
            after_event_id=request.headers.get("Last-Event-ID"),
            now=timezone.now(),
        )
        still_allowed = functools.partial(self._still_allowed, request, context.org.pk)
        stream = event_stream if _is_asgi(request) else event_stream_sync
        response = StreamingHttpResponse(
            stream(cursor=cursor, still_allowed=still_allowed), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-store"
        response["X-Accel-Buffering"] = "no"  # proxies in the nginx family: do not buffer
        return response

    def _still_allowed(self, request: Request, org_id: int) -> bool:
        """Authenticates the stream's request again, as a new request would be."""
        try:
            for authenticator in self.get_authenticators():
                found = authenticator.authenticate(request)
                if found is not None:
                    request.user, request.auth = found
                    break
            else:
                return False
            self.check_permissions(request)
        except exceptions.APIException:
            return False
        return isinstance(request.auth, OrgContext) and request.auth.org.pk == org_id
