"""Code shipping: a job pack whose job home runs the job on a node with only Python 3.

The job home holds:

- the worker runtime (:func:`pydisco.worker.runtime.install_runtime`: pydisco's
  protocol and worker packages and ``attrs``) and this package, ``pydisco/job``;
- the user's module at its import path (with the ``__init__.py`` of its
  parent packages; a script run as ``__main__`` goes in as ``<stem>.py``);
- every module or package named in ``Job.modules`` and every file in
  ``Job.files`` (at the top, under its base name);
- the launcher script (:data:`~pydisco.job.jobdata.LAUNCHER_NAME`), the
  job dict's ``worker``.

The job data names the job (``module:attribute``) and carries the params
(see :mod:`pydisco.job.launcher`).
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from pydisco.job.jobdata import LAUNCHER_NAME, LAUNCHER_SCRIPT, encode_jobdata
from pydisco.job.sources import Source

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = ["build_job_home", "job_inputs", "write_job_pack"]

_JOB_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _copy_tree(source: str, dest: str) -> None:
    shutil.copytree(
        source,
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"),
    )


def _module_file(name: str) -> tuple[str, bool]:
    """The file of module ``name`` and whether it is a package (its ``__init__.py``)."""
    module = sys.modules.get(name)
    if module is None:
        module = importlib.import_module(name)
    path = getattr(module, "__file__", None)
    if not path:
        raise ValueError(f"The module {name!r} has no file to ship (built in, or a namespace).")
    return os.path.abspath(path), os.path.basename(path) == "__init__.py"


def ship_module(name: str, dest: str, *, source_file: str | None = None) -> None:
    """Copy module ``name`` (a package: all of it) to its import path under ``dest``."""
    path, is_package = (source_file, False) if source_file else _module_file(name)
    parts = name.split(".")
    parent_dir = os.path.dirname(os.path.dirname(path) if is_package else path)
    # The parent packages' __init__ files, so "a.b.c" imports as it does here.
    for depth in range(1, len(parts)):
        package_dir = parent_dir
        for _ in range(len(parts) - 1 - depth):
            package_dir = os.path.dirname(package_dir)
        init = os.path.join(package_dir, "__init__.py")
        if os.path.isfile(init):
            target = os.path.join(dest, *parts[:depth], "__init__.py")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                shutil.copyfile(init, target)
    if is_package:
        _copy_tree(os.path.dirname(path), os.path.join(dest, *parts))
    else:
        target = os.path.join(dest, *parts[:-1], parts[-1] + ".py")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)


def _main_file(module_name: str) -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path and os.path.splitext(os.path.basename(path))[0] == module_name.rpartition(".")[2]:
        spec = getattr(main, "__spec__", None)
        if spec is None or spec.name in ("__main__", module_name):
            return os.path.abspath(str(path))
    return None


def _precompile(dest: str) -> None:
    """Byte-code for this interpreter, valid without checking sources (the home never changes).

    Extraction does not keep file times, so time-stamped byte-code would be
    recompiled by every task; other Python versions ignore these files.
    """
    import compileall
    import py_compile

    compileall.compile_dir(
        dest,
        quiet=2,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


_template_lock = threading.Lock()
_templates: dict[tuple[Any, ...], str] = {}


def _fingerprint() -> tuple[Any, ...]:
    """What the runtime part of a job home depends on: its source files, as they are now."""
    from pydisco.worker.runtime import runtime_files

    paths = [source for source, _relative in runtime_files()]
    for directory, _dirs, files in os.walk(_JOB_PACKAGE):
        paths.extend(os.path.join(directory, name) for name in files if name.endswith(".py"))
    stats = []
    for path in sorted(paths):
        info = os.stat(path)
        stats.append((path, info.st_mtime_ns, info.st_size))
    return tuple(stats)


def _runtime_template() -> str:
    """A byte-compiled copy of the worker runtime and this package, built once per process.

    Byte-compiling takes most of the time of building a job home; a process
    that runs many jobs (iterations, tests) copies this directory instead.
    It is rebuilt when any of its source files changes.
    """
    from pydisco.worker.runtime import install_runtime

    key = _fingerprint()
    with _template_lock:
        path = _templates.get(key)
        if path is None or not os.path.isdir(path):
            path = tempfile.mkdtemp(prefix="pydisco-runtime-")
            atexit.register(shutil.rmtree, path, True)
            install_runtime(path)
            _copy_tree(_JOB_PACKAGE, os.path.join(path, "pydisco", "job"))
            _precompile(path)
            _templates[key] = path
        return path


def _sources(root: str) -> dict[str, int]:
    """The ``.py`` files under ``root`` (relative paths) and their modification times."""
    found = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                found[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
    return found


def _compile_new(dest: str, template: dict[str, int]) -> None:
    """Byte-compile the files of ``dest`` that did not come unchanged from the template."""
    import py_compile

    for relative, mtime in _sources(dest).items():
        if template.get(relative) != mtime:
            py_compile.compile(
                os.path.join(dest, relative),
                doraise=False,
                quiet=2,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )


def build_job_home(job: Job, target: str, dest: str) -> None:
    """Fill ``dest`` with everything a node needs to run ``job`` (named ``target``)."""
    template = _runtime_template()
    shutil.copytree(template, dest, dirs_exist_ok=True)  # copy2: times kept, byte-code valid
    copied = _sources(dest)
    module_name = target.partition(":")[0]
    if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None):
        ship_module(module_name, dest)
    else:
        main_file = _main_file(module_name)
        if main_file is None:
            ship_module(module_name, dest)
        else:
            ship_module(module_name, dest, source_file=main_file)
    for extra in job.modules:
        ship_module(extra, dest)
    for path in job.files:
        shutil.copyfile(path, os.path.join(dest, os.path.basename(path)))
    _compile_new(dest, copied)
    launcher = os.path.join(dest, LAUNCHER_NAME)
    with open(launcher, "w", encoding="utf-8") as handle:
        handle.write(LAUNCHER_SCRIPT)
    os.chmod(launcher, os.stat(launcher).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def job_inputs(sources: Iterable[Source], default_format: str) -> tuple[list[Any], dict[str, str]]:
    """The job dict's inputs, and the format of every input URL that is not the default."""
    from pydisco.jobpack import JobInput

    inputs = []
    formats: dict[str, str] = {}
    for source in sources:
        if not source.urls:
            raise ValueError(f"The input {source.describe()} has no URL a node could read.")
        inputs.append(JobInput(source.label, 0, source.urls))
        if source.format != default_format:
            for url in source.urls:
                formats[url] = source.format
    return inputs, formats


def write_job_pack(
    out: IO[bytes],
    job: Job,
    sources: list[Source],
    *,
    target: str,
    prefix: str | None = None,
    owner: str | None = None,
    jobenvs: dict[str, str] | None = None,
) -> None:
    """Write a version 2 job pack running ``job`` (importable as ``target``) over ``sources``."""
    from pydisco.jobpack import Stage as PackStage
    from pydisco.jobpack import make_jobdict_v2, write_jobpack

    inputs, formats = job_inputs(sources, job.input_format)
    jobdict = make_jobdict_v2(
        prefix=prefix or job.name or target.rpartition(":")[2] or "pydisco",
        worker=LAUNCHER_NAME,
        owner=owner,
        inputs=inputs,
        pipeline=[PackStage(s.name, s.grouping, s.concurrent) for s in job.stages],
        max_cores=job.max_cores,
    )
    jobdata = encode_jobdata(target, job.params, formats, job.input_format)
    with tempfile.TemporaryDirectory(prefix="pydisco-jobhome-") as home:
        build_job_home(job, target, home)
        write_jobpack(out, jobdict=jobdict, jobenvs=jobenvs or {}, jobhome=home, jobdata=jobdata)
