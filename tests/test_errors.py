"""Every public exception pydisco defines is rooted in PydiscoError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pydisco
from pydisco.errors import PydiscoError

#: Not errors of the library: an HTTP reply in flight inside the master's request
#: handlers, and the command line's boundary that turns errors into exit codes.
INTERNAL = {"pydisco.master.web.Refused", "pydisco.cli._output.CommandError"}


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(pydisco.__path__, "pydisco."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found.append(value)
    return found


def test_public_exceptions_are_pydisco_errors() -> None:
    classes = _exception_classes()
    assert len(classes) > 20
    stray = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in classes
        if not issubclass(cls, PydiscoError)
        and f"{cls.__module__}.{cls.__qualname__}" not in INTERNAL
    ]
    assert stray == []


def test_the_root_tree_draws_exactly_the_direct_families() -> None:
    import re

    import pydisco.errors

    drawn = set(re.findall(r"[├└]── (\w+)", pydisco.errors.__doc__ or ""))
    families = {
        cls.__name__
        for cls in _exception_classes()
        if PydiscoError in cls.__bases__ and f"{cls.__module__}.{cls.__qualname__}" not in INTERNAL
    }
    protocol_sides = {"LocalProtocolError", "RemoteProtocolError"}
    assert drawn - protocol_sides == families
