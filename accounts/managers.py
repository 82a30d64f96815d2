from typing import Any

from django.contrib.auth.base_user import BaseUserManager


class UserManager(BaseUserManager["User"]):  # type: ignore[name-defined]
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # The whole address is case-insensitive for login; store it lower-cased.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> Any:
        return self.get(email__iexact=self.normalize_email(username))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Any:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)  # None gives an unusable password (Google-only users)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Any:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)
