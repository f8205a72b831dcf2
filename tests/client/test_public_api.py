"""``pydisco.client`` exports exactly its public names."""

from __future__ import annotations

import inspect
import types

import pydisco.client as client
from pydisco.client import errors, models


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(client.__all__) == sorted(public)


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in client.__all__:
        value = getattr(client, name)
        if isinstance(value, type) or inspect.isfunction(value):
            assert value.__doc__, name


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    for name in errors.__all__:
        assert name in client.__all__
        assert name in (errors.__doc__ or "")
        assert issubclass(getattr(errors, name), errors.ClientError)


def test_models_are_exported() -> None:
    assert set(models.__all__) <= set(client.__all__)
