from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from apikeys import api, public_api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("api-keys", api.APIKeyViewSet, basename="api-keys")

urlpatterns: list[URLPattern | URLResolver] = [
    # Before the router's api-keys/<pk>: a fixed path, not a key.
    path("api-key-policy", api.APIKeyPolicyView.as_view(), name="api-key-policy"),
    *router.urls,
    path("public/verify", public_api.VerifyView.as_view(), name="public-verify"),
    path("public/org", public_api.PublicOrgView.as_view(), name="public-org"),
    path("public/users/<int:user_id>", public_api.UserView.as_view(), name="public-user"),
    path("public/leaked-keys", public_api.LeakedKeysView.as_view(), name="public-leaked-keys"),
]
