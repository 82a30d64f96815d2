from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all", api.LogoutAllView.as_view(), name="auth-logout-all"),
    path("users/me", api.MeView.as_view(), name="users-me"),
    path("users/me/sessions", api.SessionsView.as_view(), name="users-me-sessions"),
    path(
        "users/me/sessions/<str:pk>",
        api.SessionDetailView.as_view(),
        name="users-me-sessions-detail",
    ),
    path("users/me/password", api.PasswordView.as_view(), name="users-me-password"),
    path("invitations/accept", api.InvitationAcceptView.as_view(), name="invitations-accept"),
]
