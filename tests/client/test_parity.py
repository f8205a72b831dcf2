"""Master and AsyncMaster offer the same calls, with the same parameters and documentation."""

from __future__ import annotations

import inspect

import pytest

from pydisco.client import AsyncMaster, Master

#: Methods that exist on one side only because the protocols differ (context managers).
PAIRS = {"__enter__": "__aenter__", "__exit__": "__aexit__", "close": "aclose"}


def _surface(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_two_surfaces_are_the_same() -> None:
    sync = _surface(Master) - set(PAIRS)
    asynchronous = _surface(AsyncMaster) - set(PAIRS.values())
    assert sync == asynchronous


@pytest.mark.parametrize("name", sorted(_surface(Master) - set(PAIRS)))
def test_each_call_has_the_same_parameters_and_a_docstring(name: str) -> None:
    sync, asynchronous = getattr(Master, name), getattr(AsyncMaster, name)
    if isinstance(sync, property):
        assert isinstance(asynchronous, property) and sync.__doc__ and asynchronous.__doc__
        return
    assert inspect.getdoc(sync) and inspect.getdoc(asynchronous), name
    assert list(inspect.signature(sync).parameters.values()) == list(
        inspect.signature(asynchronous).parameters.values()
    )
    assert inspect.iscoroutinefunction(asynchronous) or inspect.isasyncgenfunction(asynchronous)


def test_generated_calls_carry_the_description() -> None:
    from pydisco.client import _api

    assert Master.version.__doc__ == AsyncMaster.version.__doc__ == _api.version.__doc__
    parameters = list(inspect.signature(Master.jobevents).parameters)
    assert parameters == ["self", *inspect.signature(_api.jobevents).parameters]
