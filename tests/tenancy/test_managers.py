"""The tenant filter fails closed: a query that was never scoped to an org does not run.

Each guarantee of ``tenancy.managers`` is pinned here, including the parts of Django it
stands on (related managers built from the default manager's class, the base manager used
for forward relations and saves), so a Django upgrade that changes them fails a test."""

import pytest
from django.apps import apps

from audit.models import AuditEvent, OutboxEvent
from orgs.models import Membership
from tenancy.managers import TenantManager, UnscopedQueryError
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
    assert Membership.dangerously_unscoped.count() == 5


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
    assert Membership.dangerously_unscoped.count() == 5


def test_forward_relations_still_load(org, two_orgs_members):
    membership = Membership.objects.for_org(org).earliest("pk")
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


def _tenant_models():
    return [
        model
        for model in apps.get_models()
        if any(field.name in ("org", "org_id") for field in model._meta.concrete_fields)
    ]


def test_every_tenant_model_has_the_fail_closed_manager_and_the_named_escape_hatch():
    models = _tenant_models()
    assert {AuditEvent, OutboxEvent, Membership} <= set(models)
    for model in models:
        assert isinstance(model._default_manager, TenantManager), model
        assert model._default_manager.name == "objects", model
        assert not isinstance(model.dangerously_unscoped, TenantManager), model
        assert not isinstance(model._base_manager, TenantManager), model


@pytest.mark.parametrize("model", [AuditEvent, OutboxEvent], ids=lambda m: m.__name__)
def test_an_unscoped_audit_query_raises(model, org, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(UnscopedQueryError):
        list(model.objects.filter(action="api_key.created"))


def test_audit_events_of_one_org_come_through_for_org(org, other_org):
    from django.db import transaction

    from audit.actors import Actor
    from audit.services import record
    from orgs.audit_actions import ORG_UPDATED

    with transaction.atomic():
        record(org_id=org.pk, action=ORG_UPDATED, actor=Actor.system())
        record(org_id=other_org.pk, action=ORG_UPDATED, actor=Actor.system())
    assert set(AuditEvent.objects.for_org(org).values_list("org_id", flat=True)) == {org.pk}
    assert set(OutboxEvent.objects.for_org(org).values_list("org_id", flat=True)) == {org.pk}


def test_related_managers_are_built_from_the_tenant_manager(org, two_orgs_members):
    user = two_orgs_members[0][0].user
    assert isinstance(user.memberships, TenantManager)


def test_creating_a_row_needs_no_scope_it_names_its_org(org):
    from tests.factories import UserFactory

    membership = Membership.objects.create(org=org, user=UserFactory.create(), role="member")
    assert Membership.objects.for_org(org).get() == membership


def test_saving_a_loaded_row_uses_the_plain_base_manager(org, two_orgs_members):
    membership = Membership.objects.for_org(org).earliest("pk")
    membership.role = "viewer"
    membership.save()
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_prefetching_a_tenant_relation_refuses(two_orgs_members):
    from accounts.models import User

    with pytest.raises(UnscopedQueryError):
        list(User.objects.prefetch_related("memberships"))
