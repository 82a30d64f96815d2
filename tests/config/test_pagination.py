import pytest

from tests.factories import OrgFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.probe_urls")]


@pytest.fixture
def orgs(db):
    return [OrgFactory.create(slug=f"slug-{i:02d}") for i in range(25)]


def test_default_page_is_20_with_totals(api, orgs):
    body = api.get("/api/probe/orgs").json()
    assert len(body["data"]) == 20
    assert body["pagination"] == {
        "page": 1,
        "limit": 20,
        "total_items": 25,
        "total_pages": 2,
        "has_next": True,
        "has_prev": False,
    }


def test_second_page_and_limit(api, orgs):
    body = api.get("/api/probe/orgs?page=3&limit=10").json()
    assert [o["slug"] for o in body["data"]] == [f"slug-{i:02d}" for i in range(20, 25)]
    assert body["pagination"]["has_next"] is False
    assert body["pagination"]["has_prev"] is True


def test_limit_over_100_is_a_422_not_capped(api, orgs):
    assert api.get("/api/probe/orgs?limit=1000").status_code == 422
    assert api.get("/api/probe/orgs?limit=100").json()["pagination"]["limit"] == 100


def test_page_past_the_end_is_empty_not_an_error(api, orgs):
    body = api.get("/api/probe/orgs?page=9").json()
    assert body["data"] == []
    assert body["pagination"]["total_items"] == 25


@pytest.mark.parametrize("query", ["page=0", "page=abc", "limit=-1", "limit=x", "limit=101"])
def test_bad_page_or_limit_is_422(api, orgs, query):
    response = api.get(f"/api/probe/orgs?{query}")
    assert response.status_code == 422
    assert response.json()["details"]["fieldErrors"].keys() == {query.split("=")[0]}


def test_sort_descending(api, orgs):
    body = api.get("/api/probe/orgs?sort=-slug&limit=3").json()
    assert [o["slug"] for o in body["data"]] == ["slug-24", "slug-23", "slug-22"]


def test_unknown_sort_field_is_422(api, orgs):
    response = api.get("/api/probe/orgs?sort=password")
    assert response.status_code == 422
    assert "sort" in response.json()["details"]["fieldErrors"]


def test_an_absurdly_large_page_is_an_empty_page_not_a_crash(api, orgs):
    body = api.get("/api/probe/orgs?page=100000000000000000000&limit=100").json()
    assert body["data"] == []
    assert body["pagination"]["limit"] == 100


def test_a_limit_over_100_is_refused_not_capped(api, orgs):
    response = api.get("/api/probe/orgs?limit=99999999999999999999")
    assert response.status_code == 422
    assert "limit" in response.json()["details"]["fieldErrors"]


@pytest.mark.parametrize("sort", [",", "%20", ",,"])
def test_an_empty_sort_falls_back_to_the_default_order(api, orgs, sort):
    body = api.get(f"/api/probe/orgs?sort={sort}&limit=2").json()
    assert [o["slug"] for o in body["data"]] == ["slug-00", "slug-01"]
