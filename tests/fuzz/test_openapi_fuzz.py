"""Fuzzing every operation of our own OpenAPI document (schemathesis, in process over WSGI).

Each operation is called with generated valid and invalid input under each credential kind
(a JWT, an API key, a session cookie, none); every answer must be declared by the document
(status, content type, headers, body shape) and none may be a 500.
"""

import os

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from tests.fuzz.support import api_document, application

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    ignored_auth,
    use_after_free,
    ensure_resource_availability,
]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))

schema = schemathesis.openapi.from_dict(api_document())
schema.app = application

pytestmark = pytest.mark.django_db


# Public operations read no credential, so they run once, anonymously. Every other operation
# runs under each credential kind; ``ignored_auth`` then re-sends each successful case with
# no credential and with a broken one, which covers "none" there.
PUBLIC = schema.include(
    path_regex=r"^/api/(health|docs\.json|auth/login|auth/refresh|auth/mfa|invitations/accept|public/leaked-keys)"
)
PRIVATE = schema.exclude(
    path_regex=r"^/api/(health|docs\.json|auth/login|auth/refresh|auth/mfa|invitations/accept|public/leaked-keys|events/stream)"
)
# The event stream is not fuzzed: schemathesis reads an answer to its end, and a stream has
# none (it sends keep-alives for as long as the client listens). tests/audit/test_stream.py
# holds it to its contract (credentials, roles, org isolation, Last-Event-ID, endings).


@PUBLIC.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_public_operation_answers_as_documented(case, credentials):
    case.call_and_validate(checks=CHECKS, **credentials("none", case))


@pytest.mark.parametrize("kind", ["jwt", "api_key", "session"])
@PRIVATE.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run: CI is reproducible
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its case
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, kind, credentials):
    case.call_and_validate(checks=CHECKS, **credentials(kind, case))


STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "25"))


@pytest.mark.parametrize("kind", ["jwt", "api_key"])
def test_workflows_keep_what_they_create_and_forget_what_they_delete(kind, credentials):
    """Chains of calls along the document's links (create, then read, update, delete, read
    again): ``ensure_resource_availability`` wants what a 201 created to be readable at
    once, ``use_after_free`` wants what a delete removed to be a 404 afterwards."""
    # The second factor's routes name no resource (no id to follow), so they add no chain;
    # each is fuzzed on its own above.
    machine = schema.exclude(
        path_regex=r"^/api/(events/stream|auth/mfa|users/me/mfa)"
    ).as_state_machine()

    class Workflow(machine):  # type: ignore[valid-type,misc]
        # Every scenario starts from the same database: what one scenario created (a key
        # policy, a hook, the org's cap of keys) would otherwise change what a later one's
        # same calls answer, and Hypothesis, replaying a prefix of choices, takes the
        # different answer for a flaky strategy (FlakyStrategyDefinition).
        def setup(self):
            self._savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self._savepoint)

        def before_call(self, case):
            self._transport = credentials(kind, case)

        def get_call_kwargs(self, case):
            return self._transport

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
