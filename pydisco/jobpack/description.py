"""Describe a job pack for a person or a script: what ``discotool inspect`` shows.

:func:`describe` gathers everything readable about a pack, even a broken one
(header, offsets, job dict, job envs, job home listing, job data size), and
whether a master would accept it, as one JSON-ready dict; :func:`describe_text`
renders that dict as the lines people read. Nothing here prints or exits: the
command line only prints what these return.
"""

from __future__ import annotations

import zipfile
from typing import Any

from pydisco import jsoncodec
from pydisco.jobpack.errors import InvalidJobPack, JobPackError
from pydisco.jobpack.jobhome import HomeLimits
from pydisco.jobpack.linting import lint
from pydisco.jobpack.reader import JobPack
from pydisco.jobpack.submit import check_submit

__all__ = ["describe", "describe_text", "worker_head_warnings", "worker_warnings"]


def describe(pack: JobPack, form: str, limits: HomeLimits) -> dict[str, Any]:
    """The JSON description of ``pack`` (read from a ``form`` file: ``binary`` or ``zip``).

    Keys: ``form``, ``size``, ``header`` (None when too short), the sections
    (``jobdict``, ``jobenvs``, ``jobhome`` entries, ``jobhome_size``,
    ``jobdata_size``; a section that cannot be read is None with a ``<key>_error``),
    ``valid``, and either ``error`` (``message``, the master's ``reason``, ``field``,
    ``check``) or ``pipeline``, ``inputs`` and lint ``warnings``. Validity is judged
    as pydisco's master judges at submit, the job home checked within ``limits``.
    """
    info: dict[str, Any] = {"form": form, "size": pack.size}
    try:
        h = pack.header
    except InvalidJobPack:
        info["header"] = None
    else:
        info["header"] = {
            "magic": f"0x{h.magic:04X}",
            "version": h.version,
            "jobdict_offset": h.jobdict_offset,
            "jobenvs_offset": h.jobenvs_offset,
            "jobhome_offset": h.jobhome_offset,
            "jobdata_offset": h.jobdata_offset,
        }
        info["jobhome_size"] = pack.jobhome_size
        info["jobdata_size"] = pack.jobdata_size
        _describe_sections(pack, info)
    error = pack.error
    info["valid"] = error is None
    if error is not None:
        info["error"] = _error(error)
        return info
    try:
        check_submit(pack.jobdict.raw, pack.jobenvs)
        pack.verify_jobhome(worker=pack.jobdict.worker, **limits)
    except InvalidJobPack as exc:
        info["valid"] = False
        info["error"] = _error(exc)
    except JobPackError as exc:
        info["valid"] = False
        info["error"] = {
            "message": str(exc),
            "reason": jsoncodec.dumps_text(str(exc)),
            "field": "jobhome",
            "check": "jobhome",
        }
    else:
        jd = pack.jobdict
        info["pipeline"] = [s.to_json() for s in jd.pipeline]
        info["inputs"] = [
            {"label": i.label, "size_hint": i.size_hint, "urls": list(i.urls), "is_dir": i.is_dir}
            for i in jd.inputs
        ]
        info["warnings"] = [
            {"code": w.code, "field": w.field, "message": w.message} for w in lint(pack)
        ]
    return info


def _describe_sections(pack: JobPack, info: dict[str, Any]) -> None:
    for key, attr in (("jobdict", "raw_jobdict"), ("jobenvs", "raw_jobenvs")):
        try:
            info[key] = getattr(pack, attr)
        except JobPackError as exc:
            info[key] = None
            info[f"{key}_error"] = str(exc)
    try:
        info["jobhome"] = [e.to_json() for e in pack.jobhome_entries()]
    except JobPackError as exc:
        info["jobhome"] = None
        info["jobhome_error"] = str(exc)


def _error(exc: InvalidJobPack) -> dict[str, Any]:
    return {"message": exc.message, "reason": exc.reason, "field": exc.field, "check": exc.check}


def describe_text(info: dict[str, Any]) -> list[str]:
    """The lines people read for a :func:`describe` result, status last."""
    lines = [f"form: {info['form']}", f"size: {info['size']} bytes"]
    header = info["header"]
    if header is None:
        lines.append("header: (too short)")
        return lines + _status_lines(info)
    lines.append(f"header: magic {header['magic']}, version {header['version']}")
    lines.extend(
        f"  {name:8} offset {header[name + '_offset']}"
        for name in ("jobdict", "jobenvs", "jobhome", "jobdata")
    )
    lines.append("job dict:")
    if info.get("jobdict_error"):
        lines.append(f"  (unreadable: {info['jobdict_error']})")
    else:
        lines.append("  " + jsoncodec.dumps_text(info["jobdict"]))
    if "pipeline" in info:
        stages = [f"{n}:{g}" + (":concurrent" if c else "") for n, g, c in info["pipeline"]]
        lines.append(f"pipeline: {', '.join(stages) or '(empty)'}")
        lines.append(f"inputs: {len(info['inputs'])}")
        lines.extend(
            f"  label {i['label']} size {i['size_hint']}{' dir' if i['is_dir'] else ''}: "
            + " ".join(i["urls"])
            for i in info["inputs"]
        )
    lines.append("job envs:")
    envs = info.get("jobenvs")
    if isinstance(envs, dict):
        lines.extend(f"  {name}={value}" for name, value in envs.items())
    else:
        lines.append(f"  (unreadable: {info.get('jobenvs_error', envs)})")
    lines.append(f"job home: {info['jobhome_size']} bytes")
    if info["jobhome"] is None:
        lines.append(f"  (unreadable: {info['jobhome_error']})")
    else:
        lines.extend(
            f"  {e['mode']} {e['kind']:<12} {e['size']:>12} {e['name']}" for e in info["jobhome"]
        )
    lines.append(f"job data: {info['jobdata_size']} bytes")
    return lines + _status_lines(info)


def _status_lines(info: dict[str, Any]) -> list[str]:
    if info["valid"]:
        return ["status: valid"]
    return [
        f"status: invalid: {info['error']['message']}",
        f"  master would answer: Job failed to start: {info['error']['reason']}",
    ]


def worker_warnings(name: str, head: bytes, mode: int | None) -> list[str]:
    """What will make a master fail to start the worker ``name``, from its first bytes and mode.

    A master runs the worker file directly (real Disco through ``sh -c``), so
    it needs a ``#!`` line; without one every task fails with "Exec format
    error" (or a shell error). The reference master sets the execute bit
    when it extracts the job home; other tools may not.
    """
    found = []
    if not head.startswith(b"#!"):
        found.append(
            f"the worker {name!r} has no '#!' line (such as '#!/usr/bin/env python3'): a master "
            "runs the worker file directly, so every task would fail with 'Exec format error'"
        )
    if mode is not None and not mode & 0o100:
        found.append(
            f"the worker {name!r} is not executable (chmod +x it): the reference master sets "
            "the execute bit, other tools may not"
        )
    return found


def worker_head_warnings(pack: JobPack) -> list[str]:
    """The missing ``#!`` warning for the worker in ``pack``'s job home (mode: lint's job)."""
    worker = pack.jobdict.worker
    try:
        with zipfile.ZipFile(pack.open_jobhome()) as archive, archive.open(worker) as handle:
            head = handle.read(2)
    except (KeyError, OSError, zipfile.BadZipFile):
        return []  # lint reports a missing worker or a broken job home
    return worker_warnings(worker, head, None)
