"""The example workers, written from the spec alone, pass every rule of the kit."""

from __future__ import annotations

import pytest

from pydisco.conformance import Verdict
from tests.conformance.helpers import (
    NODE_WORKER,
    PYTHON_WORKER,
    SH_WORKER,
    compile_c,
    explain,
    kit,
    node,
    python_command,
)


def _passes_everything(command: list[str]) -> None:
    result = kit(command)
    assert result.ok, explain(result)
    unexercised = [r.rule.id for r in result.rules if r.verdict is Verdict.NOT_EXERCISED]
    assert not unexercised, f"rules not exercised: {unexercised}"


def test_sh_worker_passes_every_rule():
    _passes_everything([str(SH_WORKER)])


def test_node_worker_passes_every_rule():
    _passes_everything([node(), str(NODE_WORKER)])


def test_python_echo_worker_passes_every_rule():
    if not PYTHON_WORKER.exists():
        pytest.fail(f"{PYTHON_WORKER} is missing; it is expected from the worker library")
    _passes_everything(python_command(PYTHON_WORKER))


def test_c_worker_passes_every_rule(tmp_path):
    _passes_everything([str(compile_c(tmp_path / "worker"))])
