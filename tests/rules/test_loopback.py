"""One loopback rule (pydisco.loopback), read with ipaddress; used by the master and the runner."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job import remote
from pydisco.loopback import is_loopback_host, is_loopback_url
from pydisco.master import config, server


@settings(max_examples=200)
@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_addresses_as_ipaddress_reads_them(address: ipaddress.IPv4Address) -> None:
    text = str(address)
    assert is_loopback_host(text) is address.is_loopback
    if address.version == 6:
        assert is_loopback_host(f"[{text}]") is address.is_loopback
        assert is_loopback_url(f"http://[{text}]:8989/") is address.is_loopback
    else:
        assert is_loopback_url(f"http://{text}:8989/") is address.is_loopback


@settings(max_examples=200)
@given(st.text(max_size=20))
def test_garbage_is_not_loopback_and_never_raises(text: str) -> None:
    assert isinstance(is_loopback_host(text), bool)
    assert isinstance(is_loopback_url(text), bool)


@pytest.mark.parametrize("host", ["127.0.0.²", "127.1", "127.0.0.1.", "0177.0.0.1", "::2", ""])
def test_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.3.2.1", "::1"])
def test_loopback(host: str) -> None:
    assert is_loopback_host(host)


def test_master_and_runner_use_this_rule() -> None:
    assert server.is_loopback_host is is_loopback_host
    assert remote.is_loopback_url is is_loopback_url
    assert config.loopback_addresses(["127.0.0.1", "127.0.0.2", "127.0.0.²", "::1", "a"]) == [
        "127.0.0.2"
    ]
