"""The portal's usage pictures: a sparkline per API key and the org's bar chart, as inline
SVG drawn on the server (no script, nothing fetched), from usage.selectors."""

from datetime import timedelta
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from usage.counters import today
from usage.selectors import requests_per_day

register = template.Library()

DAYS = 30


@register.simple_tag
def usage_series(ctx: Any, keys: list[Any]) -> dict[int | None, list[int]]:
    """Last-30-days request counts of the keys this person may read the usage of (all with
    ``usage:read``; their own with ``usage:read_own``), and the org's (``None``) with
    ``usage:read``. One query and one Redis round trip for the page."""
    wide = ctx.allows("usage:read")
    if not wide and not ctx.allows("usage:read_own"):
        return {}
    readable = [k.pk for k in keys if wide or k.membership_id == ctx.membership.pk]
    end = today()
    series = requests_per_day(
        org=ctx.org, key_ids=readable, start=end - timedelta(days=DAYS - 1), end=end
    )
    if not wide:
        series.pop(None, None)
    return series


@register.simple_tag
def sparkline(series: dict[int | None, list[int]], key_id: int | None) -> SafeString | str:
    counts = series.get(key_id)
    if counts is None:
        return ""
    width, height = 90, 20
    peak = max(counts) or 1
    step = width / (len(counts) - 1)
    points = " ".join(
        f"{n * step:.1f},{height - 1 - (count / peak) * (height - 2):.1f}"
        for n, count in enumerate(counts)
    )
    total = sum(counts)
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{} requests in the last {} days"><title>{} requests in the last {} days'
        '</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/>'
        "</svg>",
        width, height, width, height, total, DAYS, total, DAYS, points,
    )  # fmt: skip


@register.simple_tag
def usage_chart(series: dict[int | None, list[int]]) -> SafeString | str:
    """The org's requests per day as bars, with the total as its label."""
    counts = series.get(None)
    if counts is None:
        return ""
    width, height, gap = 300, 60, 2
    bar = width / len(counts)
    peak = max(counts) or 1
    end = today()
    bars = SafeString("").join(
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="currentColor">'
            "<title>{}: {} requests</title></rect>",
            f"{n * bar:.1f}",
            f"{height - count / peak * height:.1f}",
            f"{max(bar - gap, 1):.1f}",
            f"{count / peak * height:.1f}",
            (end - timedelta(days=len(counts) - 1 - n)).isoformat(),
            count,
        )
        for n, count in enumerate(counts)
    )
    total = sum(counts)
    return format_html(
        '<figure class="usage-chart"><svg width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{} requests in the last {} days">{}</svg>'
        "<figcaption>{} requests in the last {} days (UTC)</figcaption></figure>",
        width, height, width, height, total, DAYS, bars, total, DAYS,
    )  # fmt: skip
