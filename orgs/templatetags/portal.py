"""Small template helpers of the portal's components (times, badges)."""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.simple_tag
def when(value: datetime | None, empty: str = "—") -> str:
    """A timestamp as relative text ("3 minutes ago", "in 29 days") in a ``<time>`` whose
    title is the exact UTC time; portal.js shows the viewer's zone where it can."""
    if value is None:
        return format_html('<span class="muted">{}</span>', empty)
    now = timezone.now()
    if abs((now - value).total_seconds()) < 60:
        text = "just now"
    elif value <= now:
        text = f"{timesince(value, now, depth=1)} ago"
    else:
        text = f"in {timeuntil(value, now, depth=1)}"
    exact = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        exact,
        text.replace("\xa0", " "),
    )


@register.simple_tag
def badge(status: str) -> str:
    return format_html('<span class="badge {}">{}</span>', status, status)
