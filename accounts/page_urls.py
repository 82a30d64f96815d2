"""The sign-in pages (not under /api/)."""

from django.urls import include, path
from social_django import views as social_views

from accounts import views

# social_django's begin (POST with the CSRF token) and our own complete.
google_patterns = [
    path("login/<str:backend>/", social_views.auth, name="begin"),
    path("complete/<str:backend>/", views.google_complete, name="complete"),
]

urlpatterns = [
    path("login/", views.LoginPage.as_view(), name="login"),
    path("logout/", views.LogoutPage.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetPage.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDonePage.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmPage.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.PasswordResetCompletePage.as_view(), name="password_reset_complete"),
    path("orgs/new/", views.OrgNewPage.as_view(), name="org-new"),
    path("oauth/", include((google_patterns, "social"))),
]
