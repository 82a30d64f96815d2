from django.urls import path

from accounts import api, mfa_api

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/mfa", mfa_api.MfaLoginView.as_view(), name="auth-mfa"),
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
    path("users/me/mfa", mfa_api.MfaStatusView.as_view(), name="users-me-mfa"),
    path("users/me/mfa/totp", mfa_api.MfaEnrollView.as_view(), name="users-me-mfa-totp"),
    path(
        "users/me/mfa/totp/confirm",
        mfa_api.MfaConfirmView.as_view(),
        name="users-me-mfa-totp-confirm",
    ),
    path("users/me/mfa/disable", mfa_api.MfaDisableView.as_view(), name="users-me-mfa-disable"),
    path(
        "users/me/mfa/recovery-codes",
        mfa_api.RecoveryCodesView.as_view(),
        name="users-me-mfa-recovery-codes",
    ),
    path("invitations/accept", api.InvitationAcceptView.as_view(), name="invitations-accept"),
]
