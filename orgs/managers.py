"""The tenant filter. A tenant model's default manager fails closed.

``Model.objects.for_org(org)`` is the only way to get rows out of ``objects``; a query that
was never scoped raises ``UnscopedQueryError`` when it would touch the database. System code
that truly spans orgs uses the explicitly named ``Model.unscoped`` manager.
"""

from typing import Any, Self

from django.db import models


class UnscopedQueryError(RuntimeError):
    pass


class TenantQuerySet(models.QuerySet[Any]):
    _org_id: int | None = None

    def for_org(self, org: Any) -> Self:
        org_id = getattr(org, "pk", org)
        if org_id is None:
            raise UnscopedQueryError("for_org() needs an organization")
        clone = self.filter(org_id=org_id)
        clone._org_id = org_id
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]
        clone._org_id = self._org_id
        return clone

    def _require_scope(self) -> None:
        if self._org_id is None:
            raise UnscopedQueryError(
                f"{self.model.__name__} query without an org: use "
                f"{self.model.__name__}.objects.for_org(org) (or .unscoped in system code)"
            )

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def iterator(self, chunk_size: int | None = None) -> Any:
        self._require_scope()
        return super().iterator(chunk_size=chunk_size)

    def count(self) -> int:
        if self._result_cache is None:
            self._require_scope()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._require_scope()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._require_scope()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._require_scope()
        return super().delete()

    def _combinator_query(self, combinator: str, *other_qs: Any, all: bool = False) -> Any:
        # union()/intersection()/difference(): every part must be scoped, not only the first.
        self._require_scope()
        for other in other_qs:
            if isinstance(other, TenantQuerySet):
                other._require_scope()
        return super()._combinator_query(combinator, *other_qs, all=all)  # type: ignore[misc]

    def resolve_expression(self, *args: Any, **kwargs: Any) -> Any:
        # Used inside another query (`pk__in=...`): the subquery must be scoped too.
        self._require_scope()
        return super().resolve_expression(*args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    pass
