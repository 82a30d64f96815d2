"""The named bases every view derives from: one module, one place to read who may call what.

API (DRF) bases, each owning authentication and permission:

- ``PublicView``: on the public allow-list (DESIGN.md); no credential is read.
- ``SignedInView``: a person's own sign-in (JWT or session) in any org, never an API key.
- ``OrgView``: a member acting in the credential's org; names the action each method needs.
- ``OrgScopedViewSet``: an ``OrgView`` over one tenant model. It computes
  ``model.objects.for_org(org)`` itself and hands it to ``narrow_queryset``; subclasses may
  not override ``get_queryset`` or ``get_object`` (PostHog's ``safely_get_queryset`` rule).
- ``PublicKeyView``: an org's API key on ``/api/public/*``, rate-limited per key.

Permissions are additive: a subclass may add ``extra_permission_classes`` (all must grant),
never replace the base's. The action a route needs is data, ``required_actions`` (viewset
action or HTTP method -> action of ``orgs.roles``, or a tuple of alternatives), which the
permission check, the OpenAPI document (``x-required-action``) and the tests all read.

Row-level security (``tenancy.rls``): every request runs in one transaction. On ``OrgView``
and its subclasses (and ``PortalOrgView``) the credential names the org for it
(``enter_org``) as the application role, so PostgreSQL sees only that org's rows. The bases
whose routes span orgs by nature (``PublicView``: sign-in, refresh, invitations and leak
reports found by a hash; ``SignedInView``: a person's own orgs and sign-ins; their portal
counterparts) run their transaction through ``tenancy.rls.cross_org`` instead: that is the
explicit, listed cross-org path (``spans_orgs``), and an ``OrgView`` may not take it.

A write that first asks the org's pre-write hooks (``hooks.services.hooks_consult``: an HTTP
call to a stranger's server) must not hold the request's transaction across that wait, so
``OrgView`` and ``PortalOrgView`` keep their transaction in an ``ExitStack`` and offer
``outside_the_request_transaction()``: the view's guarded service call runs in it, with no
transaction open, and opens its own ``org_transaction`` blocks.

A method that answers from the credential alone (``credential_only``: ``GET /users/me``)
opens no transaction at all: everything it answers was read by the credential's own
statement, and any statement it would run after that is refused
(``StatementAfterCredentialError``), so the declaration fails closed rather than running a
query outside the org (where row-level security would show it no rows anyway).

Portal (plain Django) counterparts: ``PortalPublicView``, ``PortalSignedInView`` and
``PortalOrgView``, which resolves the org as the API's session credential does (subdomain,
then the session's current org) and checks the same role table, building the same
``OrgContext`` (credential "session").
"""

from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, ClassVar, TypeVar, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils.module_loading import import_string
from django.views import View
from rest_framework import exceptions, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.context import OrgContext, org_context
from orgs.hosts import membership_for_person
from orgs.models import Organization
from orgs.permissions import HasOrgAction, IsAPIKey, IsSignedInMember, required_action
from orgs.roles import ACCESS_LEVELS, ACTIONS, PUBLIC, SIGNED_IN, RequiredAction
from tenancy.rls import cross_org, org_transaction

_M = TypeVar("_M", bound=Model)

# The session's current org (the portal's switcher sets it): accounts.session_store.ORG_KEY.
SESSION_ORG_KEY = "tnt_org_id"

_HTTP_METHODS = ("get", "post", "put", "patch", "delete")


class EnclosingTransactionError(RuntimeError):
    """A programming error: stepping outside the request's transaction would commit a block
    some caller opened around the request (or there is no org transaction to step out of)."""


class StatementAfterCredentialError(RuntimeError):
    """A programming error: a ``credential_only`` method ran a statement after its credential
    (it would run outside any transaction, and outside the org)."""


def _refuse_statement(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
    raise StatementAfterCredentialError(
        "this method is declared credential_only (orgs.bases) and may run no statement after"
        " its credential's"
    )


class _RequestTransaction:
    """The request's one org transaction, held in an ``ExitStack`` (``_request_transaction``,
    opened by the view's dispatch) so that a hook-guarded write can step outside it."""

    _request_transaction: ExitStack
    _request_org_id: int | None = None
    _request_atomic: Any = None

    def enter_org_transaction(self, org_id: int) -> None:
        """Open the request's transaction for ``org_id`` (``tenancy.rls.org_transaction``)."""
        self._request_transaction.enter_context(org_transaction(org_id))
        self._request_org_id = org_id
        self._request_atomic = connection.atomic_blocks[-1]  # the block just opened

    @contextmanager
    def outside_the_request_transaction(self) -> Iterator[None]:
        """Run the block with no transaction open, then go on in a fresh one of the org.

        For a service that consults pre-write hooks (``hooks.services.hooks_consult``
        refuses to wait on the network inside a transaction): the request's transaction is
        closed first. Only reads ran in it so far (the credential, the object in the URL),
        so committing it writes nothing; the service opens its own ``org_transaction``
        blocks. Afterwards (also after an error, which the view or the exception handler
        renders) the rest of the request, the response's serialization included, runs in a
        new ``org_transaction`` of the same org.

        Refuses (``EnclosingTransactionError``) when any atomic block other than the
        request's own is open (the test case's wrapping one excepted): closing the request's
        transaction must never commit a block that a caller opened around it.
        """
        org_id, request_atomic = self._request_org_id, self._request_atomic
        blocks = list(connection.atomic_blocks)
        if org_id is None or not blocks or blocks[-1] is not request_atomic:
            raise EnclosingTransactionError(
                "outside_the_request_transaction() needs the request's org transaction to be"
                " the innermost block open"
            )
        if any(not getattr(block, "_from_testcase", False) for block in blocks[:-1]):
            raise EnclosingTransactionError(
                "outside_the_request_transaction() inside another transaction would commit it"
            )
        self._request_transaction.close()  # commits (releases, under a test case) the reads
        self._request_org_id = self._request_atomic = None
        try:
            yield
        finally:
            self.enter_org_transaction(org_id)


class _APIBase(_RequestTransaction, APIView):
    """Shared by the API bases: additive permissions and declared actions, checked once."""

    base_permission_classes: ClassVar[Sequence[type[BasePermission]]] = ()
    extra_permission_classes: ClassVar[Sequence[type[BasePermission]]] = ()
    required_actions: ClassVar[dict[str, RequiredAction]] = {}
    # The request's transaction runs as the cross-org role (tenancy.rls.cross_org).
    spans_orgs: ClassVar[bool] = False
    # False: a public route that reads no tenant row (health, the OpenAPI document) takes no
    # transaction at all (and no pooled connection until it queries).
    reads_tenant_rows: ClassVar[bool] = True
    # The HTTP methods that answer from the credential alone: nothing runs after the
    # credential's own statement, so no transaction is opened for them, and a statement the
    # view would run anyway is refused (StatementAfterCredentialError: fails closed).
    credential_only: ClassVar[Collection[str]] = ()
    _credential_only_methods: ClassVar[frozenset[str]] = frozenset()
    # A credential_only request's database wrappers, where its refusal goes (else None).
    _refusing: list[Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.spans_orgs and any(base.__name__ == "OrgView" for base in cls.__mro__):
            raise TypeError(f"{cls.__name__} acts in one org and may not span orgs")
        for name in ("permission_classes", "get_permissions"):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} sets {name}; add extra_permission_classes instead")
        for action in cls.required_actions.values():
            for name in action if isinstance(action, tuple) else (action,):
                if name not in ACTIONS and name not in ACCESS_LEVELS:
                    raise TypeError(f"{cls.__name__} requires an unknown action {name!r}")
        for method in cls.credential_only:
            if method not in _HTTP_METHODS or not callable(getattr(cls, method, None)):
                raise TypeError(f"{cls.__name__} declares credential_only {method!r}, not served")
        cls._credential_only_methods = frozenset(m.upper() for m in cls.credential_only)
        # Read by DRF and by drf-spectacular (AllowAny marks an operation as public).
        cls.permission_classes = [*cls.base_permission_classes, *cls.extra_permission_classes]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method in self._credential_only_methods:
            return self._dispatch_from_credential(request, *args, **kwargs)
        # The request's transaction, opened by initial() once the credential is known.
        with ExitStack() as self._request_transaction:
            return super().dispatch(request, *args, **kwargs)

    def _dispatch_from_credential(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """``APIView.dispatch`` for a method declared ``credential_only``: DRF's steps in
        DRF's order (its ``Request``; ``initial``: negotiation, authentication, permissions,
        throttles; the handler; the exception handler; ``finalize_response``), without a
        transaction, and with what is the same on every request of the view made once: its
        renderers and its ``Allow`` (and ``Vary``) headers. Once ``initial`` has read the
        credential, any statement is refused until the answer is made."""
        self.args = args
        self.kwargs = kwargs
        wrappers = self._refusing = connections[DEFAULT_DB_ALIAS].execute_wrappers
        try:
            request = self.initialize_request(request, *args, **kwargs)
            self.request = request
            self.headers = self._default_headers()
            try:
                self.initial(request, *args, **kwargs)
                method = request._request.method.lower()
                if method in self.http_method_names:
                    handler = getattr(self, method, self.http_method_not_allowed)
                else:
                    handler = self.http_method_not_allowed
                response = handler(request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
            self.response = self.finalize_response(request, response, *args, **kwargs)
            return self.response
        finally:
            if _refuse_statement in wrappers:
                wrappers.remove(_refuse_statement)

    def _default_headers(self) -> dict[str, str]:
        """``default_response_headers``, made once per view class (they depend on its
        methods, its ``http_method_names`` and how many renderers it has)."""
        key = (type(self), tuple(self.http_method_names), len(self.renderer_classes))
        headers = _DEFAULT_HEADERS.get(key)
        if headers is None:
            headers = _DEFAULT_HEADERS[key] = self.default_response_headers
        return dict(headers)

    def get_renderers(self) -> list[Any]:
        return self._made_once("renderer_classes", super().get_renderers)

    def get_authenticators(self) -> list[Any]:
        return self._made_once("authentication_classes", super().get_authenticators)

    def get_parsers(self) -> list[Any]:
        return self._made_once("parser_classes", super().get_parsers)

    def get_permissions(self) -> Sequence[Any]:
        return self._made_once("permission_classes", super().get_permissions)

    def get_content_negotiator(self) -> Any:
        negotiator = super().get_content_negotiator
        return self._made_once("content_negotiation_class", lambda: [negotiator()])[0]

    def _made_once(self, classes: str, make: Any) -> list[Any]:
        """DRF's ``make()`` (its renderers, authenticators, parsers, permissions or content
        negotiator); for a credential_only method made once per view class and reused by its
        requests. None keeps anything of a request (DRF hands each the request, or the data
        and the context, on every call; tests/orgs/test_request_transaction.py holds them to
        that), so making them again on every request only cost time. (Throttles keep a
        request's state: made per request, as DRF does.)"""
        if self._refusing is None:
            return list(make())
        named = getattr(self, classes)
        key = (type(self), classes, tuple(named) if isinstance(named, list) else named)
        made = _MADE_ONCE.get(key)
        if made is None:
            made = _MADE_ONCE[key] = list(make())
        return list(made)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Authentication runs before the transaction, each credential lookup in one statement
        # of its own (a key's or JWT's names its org inside that statement); the rest of the
        # request runs in one transaction: the credential's org (named before its first
        # statement: tenancy.rls.org_transaction) or, on the bases that span orgs, the
        # cross-org role.
        super().initial(request, *args, **kwargs)
        if self._refusing is not None:  # credential_only (_dispatch_from_credential)
            # No transaction; until the view's answer is made, no statement either.
            self._refusing.append(_refuse_statement)
            return
        context = getattr(request, "auth", None)
        if self.spans_orgs:
            if self.reads_tenant_rows:
                self._request_transaction.enter_context(cross_org())
        elif isinstance(context, OrgContext):
            self.enter_org_transaction(context.membership.org_id)
        else:
            self._request_transaction.enter_context(transaction.atomic())


# (view class, http_method_names, renderers) -> default_response_headers
_DEFAULT_HEADERS: dict[tuple[Any, ...], dict[str, str]] = {}
# (view class, attribute, its classes) -> their instances, for credential_only methods
_MADE_ONCE: dict[tuple[Any, ...], list[Any]] = {}


class PublicView(_APIBase):
    """On the public allow-list: no credential is read. Still answers 401 with a challenge
    (a failed login), so clients know how to authenticate."""

    authentication_classes: list[Any] = []
    base_permission_classes: ClassVar[Sequence[type[BasePermission]]] = (AllowAny,)
    spans_orgs = True
    required_actions = {method: PUBLIC for method in _HTTP_METHODS}

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class SignedInView(_APIBase):
    """A person's own sign-in (JWT or session) in any of their orgs, never an API key: what
    spans the person's orgs or sign-ins (my orgs, new orgs, logout, password)."""

    base_permission_classes: ClassVar[Sequence[type[BasePermission]]] = (IsSignedInMember,)
    required_actions = {method: SIGNED_IN for method in _HTTP_METHODS}
    spans_orgs = True

    @property
    def org_context(self) -> OrgContext:
        return org_context(self.request)


class OrgView(_APIBase):
    """A member acting in the org of the credential (JWT, API key or session). The view names
    the action each method (or viewset action) needs in ``required_actions``; a method it
    does not name is refused (fail closed)."""

    # Authentication comes from settings (JWT, API key, session): orgs imports neither.
    base_permission_classes: ClassVar[Sequence[type[BasePermission]]] = (HasOrgAction,)

    @property
    def org_context(self) -> OrgContext:
        return org_context(self.request)

    @property
    def org(self) -> Organization:
        return self.org_context.org


class OrgScopedViewSet(OrgView, viewsets.GenericViewSet[_M]):
    """The base of every org-scoped API resource over one tenant ``model``.

    Owns the queryset: ``model.objects.for_org(org)``, narrowed by ``narrow_queryset``
    (which may only filter it further). Another org's object is a 404.
    """

    model: ClassVar[type[Model]]
    lookup_value_converter = "int"  # routers built with use_regex_path=False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get_queryset", "get_object"):
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}; implement narrow_queryset() instead"
                )

    def narrow_queryset(self, queryset: QuerySet[_M]) -> QuerySet[_M]:
        """The org's rows this request may see: filter ``queryset``, never replace it."""
        return queryset

    def get_queryset(self) -> QuerySet[_M]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request org
            return cast("QuerySet[_M]", QuerySet().none())
        manager: Any = self.model._default_manager
        return self.narrow_queryset(manager.for_org(self.org))

    def page(self) -> Response:
        """The paginated, sorted collection, in the contract's ``{data, pagination}`` shape."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def one(self) -> Response:
        """The object named in the URL (404 for another org's)."""
        return Response(self.get_serializer(self.get_object()).data)

    def get_object(self) -> _M:
        queryset = self.filter_queryset(self.get_queryset())
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            obj = queryset.get(**{self.lookup_field: lookup})
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise NotFound() from None
        self.check_object_permissions(self.request, obj)
        return obj


class PublicKeyView(OrgView):
    """An org's API key on ``/api/public/*`` (X-API-Key or Authorization), nothing else;
    ``PUBLIC_API_RATE`` requests per key. An ``X-Org-Slug`` header, if sent, must name the
    key's org. The authentication classes are named in settings
    (``PUBLIC_KEY_AUTHENTICATION_CLASSES``): orgs imports no app above it."""

    base_permission_classes: ClassVar[Sequence[type[BasePermission]]] = (IsAPIKey, HasOrgAction)
    # Shown on each operation of the OpenAPI document.
    api_note = "API key only (X-API-Key or Authorization); 300 requests per 15 minutes per key."
    # The key's bucket here is PUBLIC_API_RATE (orgs.ratelimits.buckets_for), counted with
    # the org's ceiling by the throttle every API view runs (config.ratelimiting).
    rate_limit_scope = "public"

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [import_string(path)() for path in settings.PUBLIC_KEY_AUTHENTICATION_CLASSES]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticated and permitted by now
        slug = request.headers.get("X-Org-Slug")
        if slug is not None and slug.strip().lower() != self.org_context.org.slug:
            raise exceptions.PermissionDenied("X-Org-Slug does not match the API key's org")


API_BASES: tuple[type[APIView], ...] = (
    PublicView,
    SignedInView,
    OrgView,
    OrgScopedViewSet,
    PublicKeyView,
)


def validated(serializer_class: type[Any], request: Any) -> dict[str, Any]:
    """Run a request body through a serializer; a failure is the 422 of the contract."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- Portal (server-rendered pages) ---------------------------------------------------------


class PortalPublicView(View):
    """A portal page anyone may open (sign-in, password reset, invitation accept). Spans
    orgs (an invitation is found by its token's hash): its transaction is ``cross_org``."""

    required_actions: ClassVar[dict[str, RequiredAction]] = {
        method: PUBLIC for method in _HTTP_METHODS
    }

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with cross_org():
            return _rendered(super().dispatch(request, *args, **kwargs))


class PortalSignedInView(View):
    """A page for a signed-in person, in any of their orgs (account, org picker, new org).
    Anyone else is sent to the sign-in page, and back here afterwards."""

    required_actions: ClassVar[dict[str, RequiredAction]] = {
        method: SIGNED_IN for method in _HTTP_METHODS
    }

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # A person's own orgs and sign-ins span orgs: the transaction is cross_org's.
        with cross_org():
            return _rendered(super().dispatch(request, *args, **kwargs))


class PortalOrgView(_RequestTransaction, PortalSignedInView):
    """A page where a signed-in member acts in one org (the settings pages).

    The org is the one the API's session credential would act in (``orgs.hosts``): the
    subdomain's (``acme.<BASE_DOMAIN>``) when the person is a member there, else the
    session's current org (``session[SESSION_ORG_KEY]``, set by the org switcher), else
    their oldest membership. That active membership becomes the request's ``OrgContext``
    (credential "session"), stored as ``request.auth`` like the API's, so
    ``orgs.context.acting(request)`` and the services work the same. Each method's action
    comes from ``required_actions`` and is checked against ``orgs.roles``; a method not
    named is refused. Query with ``self.scoped(Model)``: another org's object is a 404.
    """

    required_actions: ClassVar[dict[str, RequiredAction]] = {}

    org_context: OrgContext

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        context = self.resolve_org_context(request)
        if context is None:
            return self.no_org(request)
        self.org_context = context
        request.auth = context  # type: ignore[attr-defined]
        action = required_action(self, request.method or "")
        if action is None or not context.grants(action):
            return self.forbidden(request, action)
        # The page's transaction: PostgreSQL sees this org's rows only (in an ExitStack, so
        # that a hook-guarded write may step outside it: outside_the_request_transaction).
        with ExitStack() as self._request_transaction:
            self.enter_org_transaction(context.membership.org_id)
            return _rendered(View.dispatch(self, request, *args, **kwargs))

    @property
    def org(self) -> Organization:
        return self.org_context.org

    def scoped(self, model: type[_M]) -> QuerySet[_M]:
        """The current org's rows of a tenant model."""
        manager: Any = model._default_manager
        return cast("QuerySet[_M]", manager.for_org(self.org))

    def resolve_org_context(self, request: HttpRequest) -> OrgContext | None:
        """The hook that names the org; None when the person belongs to none."""
        membership = membership_for_person(
            user_id=int(request.user.pk or 0),
            host=request.get_host(),
            preferred_org_id=request.session.get(SESSION_ORG_KEY),
        )
        if membership is None:
            return None
        return OrgContext(membership=membership, credential="session")

    def no_org(self, request: HttpRequest) -> HttpResponse:
        """The person belongs to no org: the overview offers to create one."""
        return redirect("/")

    def forbidden(self, request: HttpRequest, action: RequiredAction | None) -> HttpResponse:
        """The role does not allow ``action``; the portal renders who can help."""
        raise PermissionDenied


def _rendered(response: HttpResponseBase) -> HttpResponseBase:
    """A template response rendered now, inside the page's transaction (its queries would
    otherwise run after it, outside the org)."""
    render = getattr(response, "render", None)
    if render is not None and not getattr(response, "is_rendered", True):
        render()
    return response


PORTAL_BASES: tuple[type[View], ...] = (PortalPublicView, PortalSignedInView, PortalOrgView)
