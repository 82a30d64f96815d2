"""The tenant filter. A tenant model's default manager fails closed.

``Model.objects.for_org(org)`` is the only way to get rows out of ``objects``: the manager's
``get_queryset()`` (public Django API, which every other manager method and every related
manager goes through) refuses to build a queryset that was never scoped, so an unscoped query
raises ``UnscopedQueryError`` before it is even built, let alone sent to the database.

System code that truly spans orgs uses the loudly named ``Model.dangerously_unscoped``
manager; every such call site is on the allow-list of ``tests/test_tenancy.py``.
Creating a row names its org itself, so ``create`` and ``bulk_create`` need no scope.
"""

import copy
from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


class UnscopedQueryError(RuntimeError):
    pass


class TenantManager(models.Manager[_M]):
    """Default manager of every tenant model (rows carrying ``org_id``)."""

    _org_id: Any = None

    def for_org(self, org: Any) -> models.QuerySet[_M]:
        """The rows of one org (an Organization or its id); the only way in."""
        org_id = getattr(org, "pk", org)
        if org_id is None:
            raise UnscopedQueryError("for_org() needs an organization")
        # A scoped copy of this manager: a related manager (a subclass Django builds from this
        # class) keeps its own filter and adds the org's through get_queryset() below.
        scoped = copy.copy(self)
        scoped._org_id = org_id
        return scoped.get_queryset()

    def get_queryset(self) -> models.QuerySet[_M]:
        if self._org_id is None:
            name = self.model.__name__
            raise UnscopedQueryError(
                f"{name} query without an org: use {name}.objects.for_org(org) "
                f"(or {name}.dangerously_unscoped in system code on the allow-list)"
            )
        return super().get_queryset().filter(org_id=self._org_id)

    def _unscoped(self) -> models.QuerySet[_M]:
        return super().get_queryset()

    def create(self, **kwargs: Any) -> _M:
        return self._unscoped().create(**kwargs)

    def bulk_create(self, objs: Iterable[_M], *args: Any, **kwargs: Any) -> list[_M]:
        return self._unscoped().bulk_create(objs, *args, **kwargs)
