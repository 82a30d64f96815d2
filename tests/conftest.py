import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, OrgFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's cost is the point in production and pure waiting in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def org(db):
    return OrgFactory.create()


@pytest.fixture
def other_org(db):
    return OrgFactory.create()


@pytest.fixture
def owner(org):
    return MembershipFactory.create(org=org, role="owner").user


@pytest.fixture
def user(db):
    return UserFactory.create()


@pytest.fixture
def subprocess_env(db):
    """Environment for a child `manage.py` that must use this session's test database."""
    params = connection.settings_dict
    url = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
    return {**os.environ, "DATABASE_URL": url}
