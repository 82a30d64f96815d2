"""The tenant filter fails closed: a query that was never scoped to an org does not run."""

import pytest

from orgs.managers import UnscopedQueryError
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orgs_members(org, other_org):
    mine = MembershipFactory.create_batch(2, org=org)
    theirs = MembershipFactory.create_batch(3, org=other_org)
    return mine, theirs


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda qs: list(qs.all()), id="iterate"),
        pytest.param(lambda qs: qs.filter(role="owner").first(), id="first"),
        pytest.param(lambda qs: qs.get(pk=1), id="get"),
        pytest.param(lambda qs: qs.count(), id="count"),
        pytest.param(lambda qs: qs.exists(), id="exists"),
        pytest.param(lambda qs: list(qs.values_list("pk", flat=True)), id="values_list"),
        pytest.param(lambda qs: list(qs.iterator()), id="iterator"),
        pytest.param(
            lambda qs: qs.aggregate(n=__import__("django").db.models.Count("pk")), id="agg"
        ),
        pytest.param(lambda qs: qs.update(role="viewer"), id="update"),
        pytest.param(lambda qs: qs.delete(), id="delete"),
        pytest.param(lambda qs: qs.filter(user__email__contains="@")[0], id="index"),
    ],
)
def test_unscoped_query_refuses_to_run(two_orgs_members, run, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(UnscopedQueryError):
        run(Membership.objects.all())


def test_unscoped_refusal_leaves_data_untouched(two_orgs_members):
    with pytest.raises(UnscopedQueryError):
        Membership.objects.filter(role="member").delete()
    assert Membership.unscoped.count() == 5


def test_for_org_returns_only_that_orgs_rows(org, two_orgs_members):
    mine, _ = two_orgs_members
    assert set(Membership.objects.for_org(org)) == set(mine)
    assert Membership.objects.for_org(org.pk).count() == 2


def test_scope_survives_chaining(org, two_orgs_members):
    qs = (
        Membership.objects.for_org(org).filter(role="member").order_by("-pk").select_related("user")
    )
    assert qs.count() == 2


def test_for_org_without_an_org_refuses(two_orgs_members):
    with pytest.raises(UnscopedQueryError):
        Membership.objects.for_org(None)


def test_related_manager_is_fail_closed_too(org, two_orgs_members):
    user = two_orgs_members[0][0].user
    with pytest.raises(UnscopedQueryError):
        list(user.memberships.all())
    assert list(user.memberships.for_org(org)) == [two_orgs_members[0][0]]


def test_system_code_uses_the_named_unscoped_manager(two_orgs_members):
    assert Membership.unscoped.count() == 5


def test_forward_relations_still_load(org, two_orgs_members):
    membership = Membership.objects.for_org(org).first()
    assert membership.org == org  # base manager is unscoped, by design


def test_an_unscoped_subquery_refuses_too(org, two_orgs_members):
    from accounts.models import User

    with pytest.raises(UnscopedQueryError):
        list(User.objects.filter(pk__in=Membership.objects.values("user_id")))
    scoped = User.objects.filter(pk__in=Membership.objects.for_org(org).values("user_id"))
    assert scoped.count() == 2


@pytest.mark.parametrize("combine", ["union", "intersection", "difference"])
def test_combining_with_an_unscoped_queryset_refuses(org, two_orgs_members, combine):
    scoped = Membership.objects.for_org(org)
    with pytest.raises(UnscopedQueryError):
        getattr(scoped, combine)(Membership.objects.all())
    assert len(getattr(scoped, combine)(Membership.objects.for_org(org))) in (0, 2)
