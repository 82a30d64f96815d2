import pytest

from scripts.stack import Stack, free_port


@pytest.fixture(scope="package")
def stack():
    """The stack as `make up` starts it (on free ports), shared by the tests of this folder."""
    running = Stack(web_port=free_port(), stream_port=free_port(), rollup_seconds=3600).start()
    yield running
    running.stop()
