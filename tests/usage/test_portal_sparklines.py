"""Settings > API Keys shows each key's last 30 days and, to owners and admins, the org's."""

import re

import pytest
from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor

pytestmark = pytest.mark.django_db

URL = "/settings/api-keys/"


def _key(org, membership):
    return api_key_create(org=org, actor=Actor.system(), creator=membership, name="k")


def _use(raw, times):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    for _ in range(times):
        client.get("/api/users/me")


def _labels(html):
    return re.findall(r'aria-label="(\d+) requests in the last 30 days"', html)


def test_an_admin_sees_every_keys_sparkline_and_the_orgs_chart(org, portal_member):
    admin = portal_member(org, role="admin")
    (_, busy), (_, quiet) = _key(org, admin.membership), _key(org, admin.membership)
    _use(busy, 4)
    _use(quiet, 1)
    html = admin.get(URL).content.decode()
    assert 'class="usage-chart"' in html
    # the chart (5), then the rows newest first: quiet (1), busy (4)
    assert _labels(html) == ["5", "1", "4"]
    assert html.count("<polyline") == 2


def test_a_developer_sees_their_own_keys_only_and_no_org_chart(org, portal_member):
    developer = portal_member(org, role="developer")
    admin = portal_member(org, role="admin")
    _, theirs = _key(org, admin.membership)
    _, mine = _key(org, developer.membership)
    _use(theirs, 3)
    _use(mine, 2)
    html = developer.get(URL).content.decode()
    assert 'class="usage-chart"' not in html
    assert _labels(html) == ["2"]


def test_the_page_costs_one_usage_query_however_many_keys(org, portal_member, max_data_queries):
    admin = portal_member(org, role="admin")
    for _ in range(3):
        _key(org, admin.membership)
    admin.get(URL)
    with max_data_queries(100) as captured:
        admin.get(URL)
    usage = [q for q in captured.captured_queries if "usage_dailyusage" in (q["sql"] or "")]
    assert len(usage) == 1
