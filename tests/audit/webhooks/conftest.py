import pytest

from tests.audit.webhooks.receiver import Receiver


@pytest.fixture
def local_targets(settings):
    """Receivers in these tests listen on 127.0.0.1 over plain HTTP."""
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 6 * 3600
    settings.WEBHOOK_BACKOFF_JITTER = 0.1
    settings.WEBHOOK_MAX_ATTEMPTS = 12


@pytest.fixture
def make_receiver():
    started = []

    def make(statuses=(200,), delay=0.0):
        receiver = Receiver(statuses, delay).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver):
    return make_receiver()
