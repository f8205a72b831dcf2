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

A job home for this machine's own workers (the bundled master's) can leave
the runtime out (``runtime=False``): its launcher then imports pydisco from
the byte-compiled runtime template in the user's cache, which every such job
shares, so the master has a few files to check and extract instead of the
whole runtime. A pack for any other master carries it, since a node of a
real Disco has no pydisco.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from pydisco.job.jobdata import LAUNCHER_NAME, LAUNCHER_SCRIPT, encode_jobdata, launcher_script
from pydisco.job.sources import Source

if TYPE_CHECKING:
    from pydisco.job.api import Job

__all__ = [
    "build_job_home",
    "input_ranges",
    "job_inputs",
    "write_job_home_zip",
    "write_job_pack",
]

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


def _compile_file(path: str) -> None:
    """Byte-code of ``path`` in the ``__pycache__`` beside it, valid without checking the source.

    Extraction does not keep file times, so time-stamped byte-code would be
    recompiled by every task; other Python versions ignore these files. The
    location is explicit: a ``PYTHONPYCACHEPREFIX`` of this process must not
    send the job home's byte-code elsewhere.
    """
    import py_compile

    directory, name = os.path.split(path)
    tag = sys.implementation.cache_tag
    cfile = os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")
    py_compile.compile(
        path,
        cfile=cfile,
        doraise=False,
        quiet=2,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def _precompile(dest: str) -> None:
    """Byte-code for this interpreter of every module under ``dest``."""
    for relative in _sources(dest):
        _compile_file(os.path.join(dest, relative))


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


#: Where built runtime templates are kept between processes (``PYDISCO_CACHE_DIR`` overrides).
CACHE_ENV = "PYDISCO_CACHE_DIR"
#: Cached templates unused for this long are removed when a new one is built.
_CACHE_MAX_AGE = 7 * 24 * 3600
#: At most this many cached templates are kept, the most recently used (each is about
#: 1 MB; a checkout whose sources keep changing would otherwise pile up a week of them).
_CACHE_MAX_KEPT = 8
#: Changes when what a template holds changes, so older cached ones are not used.
_TEMPLATE_FORMAT = 2


def _cache_dir() -> str | None:
    """This user's template cache directory, or ``None`` when it is not safe or not possible.

    Code from the cache runs in every task, so the directory must be this
    user's and writable by no one else.
    """
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "pydisco",
    )
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        info = os.stat(base)
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return base


def _build_template(path: str) -> None:
    from pydisco.worker.runtime import install_runtime

    install_runtime(path)
    _copy_tree(_JOB_PACKAGE, os.path.join(path, "pydisco", "job"))
    _precompile(path)


def _cached_template(key: tuple[Any, ...]) -> str | None:
    """The template for ``key`` in the user's cache, built there (atomically) if missing."""
    import hashlib

    base = _cache_dir()
    if base is None:
        return None
    digest = hashlib.sha256(repr((_TEMPLATE_FORMAT, sys.version, key)).encode()).hexdigest()[:24]
    path = os.path.join(base, f"runtime-{digest}")
    if os.path.isdir(path):  # built elsewhere and renamed into place whole
        os.utime(path)  # in use: kept by the pruning below
        return path
    try:
        building = tempfile.mkdtemp(prefix="building-", dir=base)
        _build_template(building)
        try:
            os.rename(building, path)
        except OSError:  # another process was quicker: use its copy
            shutil.rmtree(building, ignore_errors=True)
    except OSError:
        return None
    _prune(base, keep=path)
    return path if os.path.isdir(path) else None


def _prune(base: str, keep: str) -> None:
    """Remove cached templates (and abandoned builds) unused for :data:`_CACHE_MAX_AGE`,
    and all but the :data:`_CACHE_MAX_KEPT` most recently used ones (``keep`` among them)."""
    import time

    limit = time.time() - _CACHE_MAX_AGE
    used: list[tuple[float, str]] = []
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if path in (keep, keep + ".zip") or not name.startswith(("runtime-", "building-")):
            continue
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if mtime < limit:
            _remove(path)
        elif name.startswith("runtime-") and not name.endswith(".zip"):
            used.append((mtime, path))
    for _mtime, path in sorted(used, reverse=True)[_CACHE_MAX_KEPT - 1 :]:
        _remove(path)
        _remove(path + ".zip")


def _remove(path: str) -> None:
    """Remove a template (a directory) or a zip of one, if it is still there."""
    try:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    except OSError:
        pass


def _runtime_template() -> str:
    """A byte-compiled copy of the worker runtime and this package, built once per version.

    Byte-compiling takes most of the time of building a job home (about
    0.4 s of CPU), so the template is kept in the user's cache directory
    (``~/.cache/pydisco``, or ``PYDISCO_CACHE_DIR``) and every later job of
    any process copies it; it is rebuilt when any of its source files (or
    the Python version) changes. Without a usable cache directory it is
    built once per process in a temporary directory.
    """
    key = _fingerprint()
    with _template_lock:
        path = _templates.get(key)
        if path is None or not os.path.isdir(path):
            path = _cached_template(key)
            if path is None:
                path = tempfile.mkdtemp(prefix="pydisco-runtime-")
                atexit.register(shutil.rmtree, path, True)
                _build_template(path)
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
    for relative, mtime in _sources(dest).items():
        if template.get(relative) != mtime:
            _compile_file(os.path.join(dest, relative))


def build_job_home(job: Job, target: str, dest: str) -> None:
    """Fill ``dest`` with everything a node needs to run ``job`` (named ``target``)."""
    template = _runtime_template()
    shutil.copytree(template, dest, dirs_exist_ok=True)  # copy2: times kept, byte-code valid
    copied = _sources(dest)
    _add_job_code(job, target, dest)
    _compile_new(dest, copied)


def _add_job_code(job: Job, target: str, dest: str, launcher_text: str = LAUNCHER_SCRIPT) -> None:
    """The user's module, ``Job.modules``, ``Job.files`` and the launcher, into ``dest``."""
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
    launcher = os.path.join(dest, LAUNCHER_NAME)
    with open(launcher, "w", encoding="utf-8") as handle:
        handle.write(launcher_text)
    os.chmod(launcher, os.stat(launcher).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


_zips: dict[str, str] = {}


def _runtime_zip(template: str) -> str:
    """``template`` zipped once, beside it (in the cache when it is cached)."""
    from pydisco.jobpack.jobhome import zip_directory

    with _template_lock:
        path = _zips.get(template)
        if path is not None and os.path.isfile(path):
            return path
        path = template.rstrip(os.sep) + ".zip"
        if not os.path.isfile(path):
            handle, building = tempfile.mkstemp(
                dir=os.path.dirname(path), prefix="building-", suffix=".zip"
            )
            with os.fdopen(handle, "wb") as out:
                zip_directory(template, out)
            os.replace(building, path)
            if not os.path.dirname(path).startswith(_cache_dir() or "\0"):
                atexit.register(_remove, path)
        _zips[template] = path
        return path


def write_job_home_zip(job: Job, target: str, out: IO[bytes], *, runtime: bool = True) -> None:
    """Write to ``out`` the zip of the job home :func:`build_job_home` would fill.

    The runtime part comes zipped from the cache; only the job's own code is
    compressed per job. A name of the job's code that the runtime also has
    (a module called ``attr``, say) takes the slower way, whose copy wins.
    Without ``runtime`` the zip holds the job's code only, and its launcher
    imports the runtime from the template on this machine (a job home for
    this machine's workers only).
    """
    import zipfile

    template = _runtime_template()
    if not runtime:
        from pydisco.jobpack.jobhome import zip_directory

        with contextlib.suppress(OSError):
            os.utime(template)  # its workers import from it: in use, kept by _prune
        with tempfile.TemporaryDirectory(prefix="pydisco-jobcode-") as code:
            _add_job_code(job, target, code, launcher_script(template))
            _compile_new(code, {})
            zip_directory(code, out, executable=LAUNCHER_NAME)
        return
    runtime_zip = _runtime_zip(template)
    with tempfile.TemporaryDirectory(prefix="pydisco-jobcode-") as code:
        _add_job_code(job, target, code)
        _compile_new(code, {})
        files = sorted(
            os.path.relpath(os.path.join(directory, name), code).replace(os.sep, "/")
            for directory, _dirs, names in os.walk(code)
            for name in names
        )
        with open(runtime_zip, "rb") as source:
            shutil.copyfileobj(source, out)
        out.seek(0)
        with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            if set(files) & set(archive.namelist()):
                clash = True
            else:
                clash = False
                for name in files:
                    info = zipfile.ZipInfo.from_file(
                        os.path.join(code, name), name, strict_timestamps=False
                    )
                    info.compress_type = zipfile.ZIP_DEFLATED
                    if name == LAUNCHER_NAME:
                        info.external_attr = (stat.S_IFREG | 0o755) << 16
                    with open(os.path.join(code, name), "rb") as data:
                        archive.writestr(info, data.read())
    if clash:
        from pydisco.jobpack.jobhome import zip_directory

        out.seek(0)
        out.truncate()
        with tempfile.TemporaryDirectory(prefix="pydisco-jobhome-") as home:
            build_job_home(job, target, home)
            zip_directory(home, out, executable=LAUNCHER_NAME)


def input_ranges(sources: Iterable[Source]) -> dict[str, tuple[str, int, int, int]]:
    """``{url: (path, start, end, file size)}`` of every input that is a range of a local file."""
    ranges = {}
    for source in sources:
        if source.path is not None and source.urls and (source.start or source.end is not None):
            size = os.path.getsize(source.path)
            end = size if source.end is None else source.end
            ranges[source.urls[0]] = (source.path, source.start, end, size)
    return ranges


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
    runtime: bool = True,
) -> None:
    """Write a version 2 job pack running ``job`` (importable as ``target``) over ``sources``.

    ``runtime=False``: the job home leaves the runtime out (see :func:`write_job_home_zip`).
    """
    from pydisco.jobpack import PipelineStage, make_jobdict_v2, write_jobpack

    inputs, formats = job_inputs(sources, job.input_format)
    jobdict = make_jobdict_v2(
        prefix=prefix or job.name or target.rpartition(":")[2] or "pydisco",
        worker=LAUNCHER_NAME,
        owner=owner,
        inputs=inputs,
        pipeline=[PipelineStage(s.name, s.grouping, s.concurrent) for s in job.stages],
        max_cores=job.max_cores,
        save_results=job.save_results,
    )
    jobdata = encode_jobdata(target, job.params, formats, job.input_format, input_ranges(sources))
    with tempfile.TemporaryFile(prefix="pydisco-jobhome-") as home:
        write_job_home_zip(job, target, home, runtime=runtime)
        home.seek(0)
        write_jobpack(out, jobdict=jobdict, jobenvs=jobenvs or {}, jobhome=home, jobdata=jobdata)
