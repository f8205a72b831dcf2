"""The tag model and every rule that changes or reads a tag, without I/O.

A tag (facts §1.2, §3.4) is a JSON object: ``id`` (``<name>$<timestamp>``),
``last-modified``, ``read-token``, ``write-token``, ``urls`` (replica sets, newest
first) and ``user-data`` (attribute name -> string). Each change makes a new
version; a request that changes nothing makes none, so ``id`` stays.

Refusals are :class:`DdfsRefused` carrying Disco's status and reply text (facts §2.9).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Final

import attrs

from pydisco.ddfsnames import dedup_key
from pydisco.master.errors import MasterError

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ATTR_NAME_BYTES",
    "MAX_ATTR_VALUE_BYTES",
    "READ_TOKEN",
    "URLS",
    "WRITE_TOKEN",
    "DdfsRefused",
    "Privilege",
    "Tag",
    "check_read",
    "check_write",
    "parse_auth",
    "parse_urls",
]

MAX_ATTR_NAME_BYTES: Final = 1024
MAX_ATTR_VALUE_BYTES: Final = 4096
MAX_ATTRIBUTES: Final = 1000

URLS: Final = "ddfs:urls"
READ_TOKEN: Final = "ddfs:read-token"
WRITE_TOKEN: Final = "ddfs:write-token"

Urls = tuple[tuple[str, ...], ...]


class DdfsRefused(MasterError):
    """A DDFS request refused with ``status`` and Disco's reply ``text``."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text


def not_found() -> DdfsRefused:
    return DdfsRefused(404, "Tag not found.")


def attr_not_found() -> DdfsRefused:
    return DdfsRefused(404, "Tag attribute not found.")


def unauthorized() -> DdfsRefused:
    return DdfsRefused(401, "Incorrect or missing token.")


# -- tokens (facts §1.6) -----------------------------------------------------------------------


def parse_auth(header: str | None) -> str | None:
    """The token an ``Authorization`` header presents, or None for "no token".

    Only ``Basic base64("token:" + TOKEN)`` presents one; ``Basic`` + ``base64("token:")``
    presents the empty string. Another scheme (for example the master's own
    ``Bearer`` token), or a user other than ``token``, presents none, as in Disco.
    Malformed base64 crashes Disco's handler (500); here it is a 401 that says why.
    """
    if header is None or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DdfsRefused(
            401, "Incorrect or missing token: the Basic credentials are not valid base64."
        ) from None
    text = decoded.decode("utf-8", "replace")
    return text[len("token:") :] if text.startswith("token:") else None


def _same(given: str | None, stored: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), stored.encode())


def _passes(given: str | None, stored: str | None) -> bool:
    return stored is None or _same(given, stored)


class Privilege:
    """What a passed token check grants."""

    READ: Final = "read"
    WRITE: Final = "write"


def check_read(given: str | None, read_token: str | None, write_token: str | None) -> str:
    """The privilege a read with ``given`` gets, or 401 (the table of facts §1.6)."""
    if _passes(given, read_token):
        if write_token is None or (read_token is not None and _same(read_token, write_token)):
            return Privilege.WRITE
        return Privilege.READ
    if write_token is not None and _same(given, write_token):
        return Privilege.WRITE
    raise unauthorized()


def check_write(given: str | None, write_token: str | None) -> None:
    """Pass a write with ``given`` or raise 401."""
    if not _passes(given, write_token):
        raise unauthorized()


# -- bodies --------------------------------------------------------------------------------------


def is_url_sets(value: Any) -> bool:
    """Whether ``value`` is a list of lists of strings."""
    return isinstance(value, list) and all(
        isinstance(s, list) and all(isinstance(u, str) for u in s) for s in value
    )


def parse_urls(value: Any, message: str = "Invalid url object") -> Urls:
    """``value`` as replica sets, or 403 ``message``."""
    if not is_url_sets(value):
        raise DdfsRefused(403, message)
    return tuple(tuple(s) for s in value)


# -- the tag ------------------------------------------------------------------------------------


@attrs.frozen
class Tag:
    """One version of a tag."""

    name: str
    timestamp: str
    last_modified: str
    read_token: str | None = None
    write_token: str | None = None
    urls: Urls = ()
    user_data: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """``<name>$<timestamp>``: the version's object name and file name."""
        return f"{self.name}${self.timestamp}"

    @classmethod
    def fresh(cls, name: str, token: str | None) -> Tag:
        """A tag about to be created by a request presenting ``token`` (atomic creation)."""
        return cls(name, "", "", token, token)

    def to_json(self, *, secure: bool = True) -> dict[str, Any]:
        """The tag object; ``secure`` leaves the tokens out (what GET answers)."""
        value: dict[str, Any] = {"version": 1, "id": self.id, "last-modified": self.last_modified}
        if not secure:
            value["read-token"] = self.read_token
            value["write-token"] = self.write_token
        value["urls"] = [list(s) for s in self.urls]
        value["user-data"] = dict(self.user_data)
        return value

    @classmethod
    def from_json(cls, value: Any) -> Tag:
        """A tag read back from its file; ValueError when it is not one."""
        if not isinstance(value, dict):
            raise ValueError("a tag file must hold a JSON object")
        for key in ("id", "last-modified", "read-token", "write-token", "urls", "user-data"):
            if key not in value:
                raise ValueError(f"the tag file has no {key!r}")
        name, _, stamp = str(value["id"]).partition("$")
        data = value["user-data"]
        tokens = (value["read-token"], value["write-token"])
        if (
            not is_url_sets(value["urls"])
            or not isinstance(data, dict)
            or not all(isinstance(v, str) for v in data.values())
            or not all(t is None or isinstance(t, str) for t in tokens)
        ):
            raise ValueError("the tag file's fields have the wrong types")
        return cls(
            name,
            stamp,
            str(value["last-modified"]),
            tokens[0],
            tokens[1],
            parse_urls(value["urls"]),
            tuple(data.items()),
        )

    # -- reads ----------------------------------------------------------------------------------

    def get_attr(self, attr: str, privilege: str) -> Any:
        """The JSON value of attribute ``attr`` for a reader holding ``privilege``."""
        if attr == URLS:
            return [list(s) for s in self.urls]
        if attr == READ_TOKEN:
            return self.read_token
        if attr == WRITE_TOKEN:
            if privilege != Privilege.WRITE:
                raise unauthorized()
            return self.write_token
        if attr.startswith("ddfs:"):
            raise attr_not_found()
        for key, value in self.user_data:
            if key == attr:
                return value
        raise attr_not_found()

    # -- changes (each returns the new content, or None when nothing changes) ------------------

    def append(self, sets: Urls, *, update: bool, exists: bool) -> Tag | None:
        """POST: new sets first; with ``update`` only sets whose key is new (facts §2.4)."""
        if not update:
            if exists and not sets:
                return None
            return attrs.evolve(self, urls=sets + self.urls)
        seen = {key for s in self.urls if s and (key := dedup_key(s[0])) is not None}
        added: list[tuple[str, ...]] = []
        for replica_set in sets:
            key = dedup_key(replica_set[0]) if replica_set else None
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            added.append(replica_set)
        if not added and exists:
            return None
        return attrs.evolve(self, urls=tuple(reversed(added)) + self.urls)

    def set_attr(self, attr: str, value: Any, max_attributes: int = MAX_ATTRIBUTES) -> Tag:
        """PUT of an attribute (``value`` already JSON-decoded).

        A tag holds at most ``max_attributes`` user attributes. Disco refuses any set
        on a full tag, even one replacing a value; here replacing one is allowed.
        """
        if attr == URLS:
            return attrs.evolve(self, urls=parse_urls(value, "Invalid attribute key or value"))
        if attr in (READ_TOKEN, WRITE_TOKEN):
            if not isinstance(value, str):
                raise DdfsRefused(403, "Invalid attribute key or value")
            if attr == READ_TOKEN:
                return attrs.evolve(self, read_token=value)
            return attrs.evolve(self, write_token=value)
        if attr.startswith("ddfs:"):
            raise attr_not_found()
        if not isinstance(value, str):
            raise DdfsRefused(403, "Invalid attribute key or value")
        data = dict(self.user_data)
        if attr not in data and len(data) >= max_attributes:
            raise DdfsRefused(403, "Too many attributes")
        data[attr] = value
        return attrs.evolve(self, user_data=tuple(data.items()))

    def delete_attr(self, attr: str) -> Tag:
        """DELETE of an attribute: tokens back to null, ``ddfs:urls`` to ``[]``."""
        if attr == URLS:
            return attrs.evolve(self, urls=())
        if attr in (READ_TOKEN, WRITE_TOKEN):
            if attr == READ_TOKEN:
                return attrs.evolve(self, read_token=None)
            return attrs.evolve(self, write_token=None)
        if attr.startswith("ddfs:"):
            raise attr_not_found()
        return attrs.evolve(self, user_data=tuple((k, v) for k, v in self.user_data if k != attr))


def check_attr_name(attr: str) -> None:
    """403 ``Attribute name too big.`` past 1024 bytes."""
    if len(attr.encode("utf-8")) > MAX_ATTR_NAME_BYTES:
        raise DdfsRefused(403, "Attribute name too big.")
