"""The suite runs on the development settings (DEBUG=true at load time; pytest-django then
switches DEBUG off for each test, as Django's runner does). Production settings are
exercised by tests that start `manage.py` with DEBUG=false (tests/config/test_deploy.py)."""

import os
from collections.abc import Generator

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    os.environ.setdefault("DEBUG", "true")
    return (yield)
