"""Standard Webhooks signatures, checked by a receiver written from the spec."""

import base64
import time

import pytest

from audit.webhooks.signing import generate_secret, sign, signed_headers
from tests.audit.webhooks.receiver import verify_standard_webhook

BODY = b'{"type":"org.updated","data":{"org_id":1}}'


@pytest.fixture
def secret():
    return generate_secret()


def _headers(secret, body=BODY, msg_id="evt_1", timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return signed_headers(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The test vector published with the Standard Webhooks reference libraries.
    assert (
        sign(
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp=1614265330,
            body=b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_secret_is_whsec_and_base64_of_32_random_bytes():
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_independent_receiver_accepts_a_signed_message(secret):
    assert verify_standard_webhook(secret=secret, headers=_headers(secret), body=BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b"org.updated", b"org.deleted")), id="body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "evt_2"}, b), id="id"),
        pytest.param(
            lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
            id="timestamp",
        ),
        pytest.param(
            lambda h, b: ({**h, "webhook-signature": "v1," + "A" * 44}, b), id="signature"
        ),
        pytest.param(
            lambda h, b: (
                {**h, "webhook-signature": h["webhook-signature"].replace("v1", "v2")},
                b,
            ),
            id="version",
        ),
    ],
)
def test_independent_receiver_rejects_a_tampered_message(secret, tamper):
    headers, body = tamper(_headers(secret), BODY)
    assert not verify_standard_webhook(secret=secret, headers=headers, body=body)


def test_independent_receiver_rejects_another_secrets_signature(secret):
    assert not verify_standard_webhook(
        secret=generate_secret(), headers=_headers(secret), body=BODY
    )


def test_independent_receiver_rejects_a_stale_timestamp(secret):
    stale = _headers(secret, timestamp=int(time.time()) - 600)
    assert not verify_standard_webhook(secret=secret, headers=stale, body=BODY)
