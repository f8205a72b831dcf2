"""A package's public names that load their submodule on first use.

A package whose ``__init__`` imported every submodule would make each
process pay for all of them; instead its module-level ``__getattr__``
(:pep:`562`) imports the submodule that defines a name when the name is
first used, and keeps the value in the package so that the look-up happens
once. Type checkers see the names through ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each name of ``homes`` from its submodule there.

    ``homes`` maps a public name to the submodule (relative to ``package``)
    that defines it; any other name is an :class:`AttributeError`, as usual.
    """
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
