"""The suite-wide log scan (tests/harness/log_secrets.py) recognises every secret we issue."""

import logging

import pytest

from apikeys import crypto
from orgs.opaque_tokens import new_opaque_token
from tests.harness.log_secrets import SecretScanner, secrets_in

pytestmark = pytest.mark.django_db


def test_the_scan_recognises_each_kind_of_secret(org, as_member):
    pair = as_member(org).pair
    samples = {
        "api key": crypto.generate("live").raw,
        "jwt": pair.access_token,
        "refresh token": pair.refresh_token,
        "invitation token": new_opaque_token("inv_")[0],
        "webhook secret": "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWJ5dGVz",
        "mfa token": new_opaque_token("mfa_")[0],
        "recovery code": "k7hmx-29qrt",
        "totp secret": "otpauth://totp/Tenantry:a%40b.test?secret=JBSWY3DPEHPK3PXPJBSWY3DP",
        "password": "correct horse battery staple",
    }
    for kind, secret in samples.items():
        assert secrets_in(f'{{"message": "oops {secret}"}}') == [kind]


def test_the_scan_passes_a_display_prefix_and_a_request_line():
    assert secrets_in('{"message": "key tnt_live_3f9a…c0de revoked"}') == []
    assert secrets_in('{"message": "GET /api/users/me 200", "request_id": "req_1"}') == []
    assert secrets_in('{"message": "POST /account/mfa/recovery-codes/ 200"}') == []


def test_a_logged_secret_is_caught_by_the_handler_the_suite_installs():
    scanner = SecretScanner()
    logger = logging.getLogger("tenantry.test-leak")
    logger.addHandler(scanner)
    logger.propagate = False  # the suite-wide scanner on the root logger must not see it
    try:
        logger.warning("leaked %s", crypto.generate("test").raw)
    finally:
        logger.removeHandler(scanner)
    assert len(scanner.leaks) == 1
    assert scanner.leaks[0].startswith("api key in a tenantry.test-leak WARNING line")
