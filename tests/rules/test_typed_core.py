"""The sans-IO core is typed through (no ``type: ignore``) and keys its tables by role."""

from __future__ import annotations

import pathlib
import typing

import pydisco
from pydisco.protocol import messages as m
from pydisco.protocol import session

ROOT = pathlib.Path(pydisco.__file__).parent


def test_no_type_ignore_in_protocol_and_worker() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("protocol", "worker")
        for path in sorted((ROOT / package).glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line
    ]
    assert found == []


def test_tables_are_keyed_by_role_and_name() -> None:
    assert set(m.MESSAGES_BY_ROLE) == set(typing.get_args(m.Role))
    for role, table in m.MESSAGES_BY_ROLE.items():
        names = m.WorkerName if role == "worker" else m.MasterName
        assert set(table) == set(typing.get_args(names))
        for name, cls in table.items():
            assert (name, role) == (cls.NAME, cls.SENDER)
    assert set(session.REPLIES) <= set(typing.get_args(m.WorkerName))
    assert {reply for replies in session.REPLIES.values() for reply in replies} <= set(
        typing.get_args(m.MasterName)
    )


def test_one_input_reply_decoding_path_without_switches() -> None:
    for switch in ("USE_MSGSPEC", "_msgspec_input", "_input_bytes_seen", "MSGSPEC_IMPORT_PAYS_AT"):
        assert not hasattr(m, switch)
    assert m.msgspec_input_decoder() is m.msgspec_input_decoder() is not None
