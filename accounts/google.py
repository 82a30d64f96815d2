"""Google sign-in: social-core's OpenID Connect backend, every endpoint from settings/discovery.

social-core's ``GoogleOpenIdConnect`` hard-codes Google's authorization, token and userinfo
URLs. This subclass reads them from the provider's discovery document
(``<OIDC_ENDPOINT>/.well-known/openid-configuration``) so the same backend talks to Google in
production (the default endpoint) and to a local provider in tests. It also spends the
``state`` once it is checked, so a replayed callback is refused.
"""

from typing import Any

from social_core.backends.google_openidconnect import GoogleOpenIdConnect

GOOGLE_ENDPOINT = "https://accounts.google.com"


class GoogleOIDC(GoogleOpenIdConnect):
    name = "google-oidc"
    # Empty: taken from the discovery document (or a setting of the same name).
    AUTHORIZATION_URL = ""
    ACCESS_TOKEN_URL = ""
    REVOKE_TOKEN_URL = ""
    USERINFO_URL = ""
    JWKS_URI = ""

    def id_token_issuer(self) -> str:
        if self.oidc_endpoint().rstrip("/") == GOOGLE_ENDPOINT:
            return super().id_token_issuer()  # Google's tokens say "accounts.google.com"
        return self.get_setting_config("ID_TOKEN_ISSUER", "issuer", "", stage="token_validation")

    def user_data(self, access_token: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        response = self.validate_userinfo_sub(
            self.get_json(self.userinfo_url(), headers={"Authorization": f"Bearer {access_token}"})
        )
        self.validate_email_verified(response)
        return response

    def validate_state(self) -> str | None:
        state = super().validate_state()
        self.strategy.session_pop(f"{self.name}_state")  # one callback per begin
        return state
