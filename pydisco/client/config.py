"""Where the master is and how patiently to talk to it.

The master URL comes from, in order: an explicit URL, ``DISCO_MASTER``,
``DISCO_MASTER_HOST`` and ``DISCO_PORT`` (either may be missing), and finally
``http://127.0.0.1:8989``, where ``discotool master`` listens by default.
A token, for masters started with one, comes from an explicit value or
``DISCO_TOKEN`` and is sent as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from pydisco.client.errors import InvalidMasterURL

__all__ = ["DEFAULT_MASTER", "ClientConfig", "resolve_master_url"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8989
DEFAULT_MASTER = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def resolve_master_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The master's base URL (no trailing slash) from ``url`` or the environment."""
    env = os.environ if env is None else env
    if not url:
        url = env.get("DISCO_MASTER", "")
    if not url:
        host = env.get("DISCO_MASTER_HOST", "") or DEFAULT_HOST
        port = env.get("DISCO_PORT", "") or str(DEFAULT_PORT)
        url = f"http://{host}:{port}"
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def _check_url(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except (ValueError, TypeError):
        usable = False
    if not usable:
        raise InvalidMasterURL(value)


@attrs.frozen
class ClientConfig:
    """Policy for one client: the master, a token, timeouts and retries.

    ``retries`` bounds the extra attempts made after a connection failure or a
    503 answer; the n-th retry sleeps a random time in ``[0, min(backoff *
    2**n, max_backoff)]``. Disco's own client makes 9 retries of up to 2**k
    seconds; the defaults here are small so that a missing master is reported
    within about a second.
    """

    url: str = attrs.field(default=DEFAULT_MASTER, validator=_check_url)
    token: str | None = None
    #: Seconds to wait for each read (a busy Disco master may take 60 s to accept a job).
    timeout: float = 120.0
    #: Seconds to wait for a connection.
    connect_timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.05
    max_backoff: float = 2.0

    @classmethod
    def from_env(
        cls,
        url: str | None = None,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        **policy: float,
    ) -> ClientConfig:
        """A config for ``url`` (or the environment's master) and ``token`` (or ``DISCO_TOKEN``)."""
        env = os.environ if env is None else env
        return cls(
            url=resolve_master_url(url, env),
            token=token if token is not None else (env.get("DISCO_TOKEN") or None),
            **policy,  # type: ignore[arg-type]
        )

    @property
    def port(self) -> int:
        """The master URL's port, which also serves job data (``dir://`` and ``disco://``)."""
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def delay(self, attempt: int) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        return random.uniform(0, min(self.backoff * (2**attempt), self.max_backoff))

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": "pydisco-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers
