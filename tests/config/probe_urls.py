"""Views that exist only to make the API's error paths happen on demand."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django_ratelimit.decorators import ratelimit
from rest_framework import exceptions, generics, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from config.pagination import SortFilter
from config.urls import urlpatterns as real_urlpatterns
from orgs.models import Organization


class NobodyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        if request.headers.get("Authorization") == "Bearer expired":
            raise exceptions.AuthenticationFailed("Token has expired", code="expired")
        if request.headers.get("Authorization"):
            raise exceptions.AuthenticationFailed("Invalid credentials")
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


@api_view(["GET"])
@authentication_classes([NobodyAuthentication])
@permission_classes([IsAuthenticated])
def needs_auth(request: Request) -> Response:
    return Response({})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def forbidden(request: Request) -> Response:
    if request.query_params.get("jwt"):
        raise exceptions.PermissionDenied("JWT auth is disabled", code="jwt_disabled")
    raise exceptions.PermissionDenied()


class Thing(serializers.Serializer):
    email = serializers.EmailField()
    count = serializers.IntegerField(min_value=1)

    def validate(self, attrs):
        if attrs["count"] > 10:
            raise serializers.ValidationError("Too many things")
        return attrs


@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def validate(request: Request) -> Response:
    Thing(data=request.data).is_valid(raise_exception=True)
    return Response({"ok": True})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@ratelimit(key="ip", rate="2/d", block=True)  # a day-long window: no boundary mid-test
def limited(request: Request) -> Response:
    return Response({"ok": True})


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def crash(request: Request) -> Response:
    raise RuntimeError("secret internals: password=hunter2")


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def missing(request: Request) -> Response:
    # What a service does when the row it looks up (in the caller's org) is gone.
    Organization.objects.get(pk=-1)
    return Response({})


def plain_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("plain django view blew up")


class OrgSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name"]


class OrgList(generics.ListAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = OrgSerializer
    filter_backends = [SortFilter]
    ordering_fields = ["slug", "created_at"]
    ordering = ["slug"]

    def get_queryset(self):
        return Organization.objects.all()


probe_patterns = [
    path("needs-auth", needs_auth),
    path("forbidden", forbidden),
    path("validate", validate),
    path("limited", limited),
    path("crash", crash),
    path("plain-crash", plain_crash),
    path("missing", missing),
    path("orgs", OrgList.as_view()),
]

urlpatterns = [path("api/probe/", include(probe_patterns)), *real_urlpatterns]
handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
