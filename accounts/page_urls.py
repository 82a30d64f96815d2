"""The sign-in pages (not under /api/)."""

from django.urls import include, path

from accounts import views

# social_django's begin (POST with the CSRF token) and our own complete.
google_patterns = [
    path("login/<str:backend>/", views.GoogleBeginPage.as_view(), name="begin"),
    path("complete/<str:backend>/", views.GoogleCompletePage.as_view(), name="complete"),
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
    path("orgs/new/", views.OrgNewPage.as_view(), name="org-new"),
    path("oauth/", include((google_patterns, "social"))),
]
