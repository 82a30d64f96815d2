"""The sign-in pages (not under /api/)."""

from django.urls import include, path

from accounts import mfa_views, views

# social_django's begin (POST with the CSRF token) and our own complete.
google_patterns = [
    path("login/<str:backend>/", views.GoogleBeginPage.as_view(), name="begin"),
    path("complete/<str:backend>/", views.GoogleCompletePage.as_view(), name="complete"),
]

urlpatterns = [
    path("login/", views.LoginPage.as_view(), name="login"),
    path("login/code/", mfa_views.LoginCodePage.as_view(), name="login-mfa"),
    path("login/enroll/", mfa_views.LoginEnrollPage.as_view(), name="login-mfa-enroll"),
    path("logout/", views.LogoutPage.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetPage.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDonePage.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmPage.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.PasswordResetCompletePage.as_view(), name="password_reset_complete"),
    path("invitations/accept/", views.InvitationPage.as_view(), name="invitation-accept"),
    path("invitations/<str:token>/", views.InvitationLinkPage.as_view(), name="invitation"),
    path("account/", views.AccountPage.as_view(), name="account"),
    path(
        "account/sessions/<str:session_id>/end/",
        views.AccountSessionEndPage.as_view(),
        name="account-session-end",
    ),
    path(
        "account/sessions/sign-out-others/",
        views.AccountSignOutOthersPage.as_view(),
        name="account-sign-out-others",
    ),
    path("account/mfa/start/", mfa_views.MfaStartPage.as_view(), name="account-mfa-start"),
    path("account/mfa/setup/", mfa_views.MfaSetupPage.as_view(), name="account-mfa-setup"),
    path(
        "account/mfa/recovery-codes/",
        mfa_views.MfaRecoveryCodesPage.as_view(),
        name="account-mfa-recovery-codes",
    ),
    path("account/mfa/disable/", mfa_views.MfaDisablePage.as_view(), name="account-mfa-disable"),
    path("orgs/new/", views.OrgNewPage.as_view(), name="org-new"),
    path("oauth/", include((google_patterns, "social"))),
]
