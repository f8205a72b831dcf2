"""The public names of pydisco.jobpack."""

from __future__ import annotations

import inspect

import pydisco.jobpack as jobpack
from pydisco.errors import PydiscoError


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(jobpack).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(jobpack.__all__) == public
    assert callable(jobpack.lint)


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
