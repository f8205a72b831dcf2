"""Shared test configuration."""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile("default")


@pytest.fixture
def reference_master(tmp_path):
    """A ReferenceMaster on a free loopback port with its own data dir; retries without delay.

    Yields the handle: ``.url``, ``.port``, ``.data_dir``, ``.stop()``.
    """
    from pydisco.master import ReferenceMaster

    with ReferenceMaster.start_in_thread(tmp_path / "disco-data", retry_delay=0.0) as master:
        yield master
