"""Whether a host name or address is one only this machine can reach.

One rule for the master (which refuses to listen elsewhere without being
told) and the job runner (which passes local files to a master on this
machine): ``localhost``, or any IPv4 or IPv6 loopback address, as
:mod:`ipaddress` reads it. Anything :mod:`ipaddress` cannot read (a name, a
malformed address) is not loopback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_loopback_host", "is_loopback_url"]


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback."""
    if host.lower() == "localhost":
        return True
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether the host of ``url`` is loopback (a URL that cannot be read is not)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_loopback_host(host)
