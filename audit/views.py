"""The audit log in the portal: list with filters and cursor paging, one event, export.
Thin: the same selector, visibility rule and export as ``audit.api``."""

import json
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from audit.exports import FORMATS, audit_log_export
from audit.forms import AuditFilterForm
from audit.models import AuditEvent
from audit.selectors import InvalidCursor, audit_event_list
from audit.visibility import AUDIT_READ, AUDIT_READ_OWN, own_events_for
from orgs.models import Membership
from orgs.portal import PortalView

PAGE_SIZE = 25
MAX_BACK = 50  # how many pages "Newer" can walk back before it restarts at the newest
FIRST_PAGE = "-"


class AuditPortalView(PortalView):
    required_actions = {"get": (AUDIT_READ, AUDIT_READ_OWN)}  # the latter: one's own part

    def filter_form(self) -> AuditFilterForm:
        members = (
            Membership.objects.for_org(self.org).select_related("user").order_by("user__email")
        )
        return AuditFilterForm(
            self.request.GET or None, members=[(m.user_id, m.user.email) for m in members]
        )

    def page(
        self,
        form: AuditFilterForm,
        events: list[AuditEvent],
        newer: str | None,
        older: str | None,
        *,
        export_query: str = "",
        status: int = 200,
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "form": form,
            "events": events,
            "newer_url": newer,
            "older_url": older,
            "export_query": export_query,
            "own_only": not self.allows(AUDIT_READ),
            "formats": list(FORMATS),
        }
        return self.render_page("portal/audit/list.html", context, status=status)


class AuditLogView(AuditPortalView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.filter_form()
        filters = form.selector_filters() if form.is_bound and form.is_valid() else {}
        if form.is_bound and not form.is_valid():
            return self.page(form, [], None, None, status=422)
        cursor = request.GET.get("cursor") or None
        back = [c for c in request.GET.get("back", "").split(",") if c][-MAX_BACK:]
        try:
            page = audit_event_list(
                org=self.org,
                own=own_events_for(self.org_context),
                cursor=cursor,
                limit=PAGE_SIZE,
                **filters,
            )
        except InvalidCursor:
            form.add_error(None, "That page link is no longer valid; showing the newest events.")
            page = audit_event_list(
                org=self.org, own=own_events_for(self.org_context), limit=PAGE_SIZE, **filters
            )
            cursor, back = None, []
        base = {k: v for k, v in request.GET.items() if k not in ("cursor", "back") and v}
        older = newer = None
        if page.next_cursor:
            older = "?" + urlencode(
                {
                    **base,
                    "cursor": page.next_cursor,
                    "back": ",".join([*back, cursor or FIRST_PAGE]),
                }
            )
        if cursor:
            previous = back[-1] if back else FIRST_PAGE
            params = {**base, "back": ",".join(back[:-1])}
            if previous != FIRST_PAGE:
                params["cursor"] = previous
            newer = "?" + urlencode({k: v for k, v in params.items() if v})
        return self.page(form, page.events, newer, older, export_query=urlencode(base))


class AuditEventDetailView(AuditPortalView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        events = AuditEvent.objects.for_org(self.org)
        own = own_events_for(self.org_context)
        if own is not None:
            events = events.filter(own.as_q())
        event = get_object_or_404(events, pk=pk)
        metadata = json.dumps(event.metadata, indent=2, sort_keys=True, ensure_ascii=False)
        return self.render_page(
            "portal/audit/detail.html", {"event": event, "metadata_text": metadata}
        )


class AuditExportView(AuditPortalView):
    """The same export as ``GET /api/audit-events/export``: audited, streamed."""

    def get(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        fmt = request.GET.get("format", "csv")
        form = self.filter_form()
        if fmt not in FORMATS or (form.is_bound and not form.is_valid()):
            if fmt not in FORMATS:
                form.add_error(None, f"Unknown export format; use {' or '.join(FORMATS)}")
            return self.page(form, [], None, None, status=422)
        filters = form.selector_filters() if form.is_bound else {}
        chunks = audit_log_export(
            org=self.org,
            actor=self.actor(),
            fmt=fmt,
            filters=filters,
            own=own_events_for(self.org_context),
        )
        response = StreamingHttpResponse(chunks, content_type=f"{FORMATS[fmt]}; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-events-{self.org.slug}-{stamp}.{fmt}"'
        )
        response["Cache-Control"] = "no-store"
        return response
