"""Shipping the worker library in a job home, for nodes that have only Python 3.

:func:`install_runtime` copies the pure-Python code a worker needs into a
directory: ``pydisco/__init__.py``, ``pydisco/errors.py``, the bottom-layer
helpers (``dataurls``, ``integers``, ``jsoncodec``, ``lazy``, ``resultsindex``),
``pydisco/protocol``, ``pydisco/worker`` and the ``attrs`` and ``attr`` packages. A worker script
in that directory then starts with::

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

and imports :mod:`pydisco.worker` under a bare ``python3``. ``ujson`` is not
shipped (it is compiled); :mod:`pydisco.jsoncodec` falls back to the
standard library's ``json``.
"""

from __future__ import annotations

import os
import shutil
from typing import Final

__all__ = ["RUNTIME_PACKAGES", "install_runtime", "runtime_files"]

#: What is copied, as paths relative to the directory holding ``pydisco``.
PYDISCO_PARTS: Final = (
    "pydisco/__init__.py",
    "pydisco/errors.py",
    "pydisco/ddfsnames.py",
    "pydisco/dataurls.py",
    "pydisco/integers.py",
    "pydisco/jsoncodec.py",
    "pydisco/lazy.py",
    "pydisco/localmaster.py",
    "pydisco/loopback.py",
    "pydisco/resultsindex.py",
    "pydisco/py.typed",
    "pydisco/protocol",
    "pydisco/worker",
)
#: Third-party packages the runtime needs (pure Python).
RUNTIME_PACKAGES: Final = ("attrs", "attr")


def _package_dir(name: str) -> str:
    module = __import__(name)
    path = module.__file__
    if path is None:  # pragma: no cover - namespace packages are not expected here
        raise RuntimeError(f"Cannot locate the {name!r} package.")
    return os.path.dirname(os.path.abspath(path))


def runtime_files() -> list[tuple[str, str]]:
    """``(source, relative destination)`` for every file :func:`install_runtime` copies."""
    root = os.path.dirname(_package_dir("pydisco"))
    trees = [(os.path.join(root, part), part) for part in PYDISCO_PARTS]
    trees += [(_package_dir(name), name) for name in RUNTIME_PACKAGES]
    files = []
    for source, relative in trees:
        if os.path.isfile(source):
            files.append((source, relative))
            continue
        for directory, subdirs, names in os.walk(source):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(directory, name)
                files.append((path, os.path.join(relative, os.path.relpath(path, source))))
    return files


def install_runtime(dest_dir: str) -> None:
    """Copy the worker runtime into ``dest_dir`` (created if needed; existing files replaced)."""
    for source, relative in runtime_files():
        target = os.path.join(dest_dir, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
