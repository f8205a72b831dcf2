"""The public names of pydisco.jobpack."""

from __future__ import annotations

import inspect
import sys

import pytest

import pydisco.jobpack as jobpack
from pydisco.errors import PydiscoError
from tests.processes import environment, run


def test_all_lists_exactly_the_public_names() -> None:
    assert set(jobpack.__all__) == set(jobpack._MODULE_OF)  # each one loads on first use
    for name in jobpack.__all__:
        getattr(jobpack, name)
    public = {
        name
        for name, value in vars(jobpack).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(jobpack.__all__) == public
    assert callable(jobpack.lint)


def test_a_reader_does_not_load_the_linter_or_the_writer() -> None:
    # The master's process reads packs; a driver writes them: neither pays for the rest.
    probe = (
        "import sys; from pydisco.jobpack import JobPack, JobPackError, InvalidJobPack; "
        "print(sorted(m for m in ('linting', 'writer', 'zipform') if 'pydisco.jobpack.' + m "
        "in sys.modules))"
    )
    done = run([sys.executable, "-c", probe], env=environment(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = jobpack.no_such_name  # type: ignore[attr-defined]


def test_error_family() -> None:
    assert issubclass(jobpack.JobPackError, PydiscoError)
    for name in (
        "InvalidJobPack",
        "NotAJobPack",
        "UnsafeJobHome",
        "JobHomeError",
        "JobPackTooLarge",
        "BuildError",
    ):
        assert issubclass(getattr(jobpack, name), jobpack.JobPackError)
    assert issubclass(jobpack.UnsafeJobHome, jobpack.JobHomeError)


def test_grouping_values() -> None:
    assert [g.value for g in jobpack.Grouping] == [
        "split",
        "group_label",
        "group_node",
        "group_node_label",
        "group_all",
    ]
