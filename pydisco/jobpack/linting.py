"""Warnings about job packs that real Disco accepts but that will break later.

:func:`lint` first validates the pack as the master does (raising
:class:`InvalidJobPack`), then reports each :class:`LintWarning` below. The
codes are stable and listed in ``protocol-spec/jobpack.md``.
"""

from __future__ import annotations

import re
import stat
from typing import Any

import attrs

from pydisco.jobpack.errors import JobHomeError
from pydisco.jobpack.jobhome import entry_problem, open_zip, worker_problem
from pydisco.jobpack.parts import MASTER_MAX_BODY, Grouping, JobDict
from pydisco.jobpack.reader import JobPack, PathOrFile


@attrs.frozen
class LintWarning:
    """Something real Disco accepts but that will break later or is unsafe.

    ``code`` is a stable identifier (see the job pack spec), ``field`` the key
    or section concerned.
    """

    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} ({self.field}): {self.message}"


_SAFE_PREFIX = re.compile(r"[A-Za-z0-9_-]+")
_SCHEME = re.compile(r"^[a-zA-Z0-9]+://")
_ENV_NAME = re.compile(r"[^=\0]+")
_V1_KEYS = {"input", "map?", "reduce?", "reduce_shuffle?", "nr_reduces"}
_V2_KEYS = {"pipeline", "inputs"}


def lint_jobdict(jobdict: JobDict, jobenvs: dict[str, str]) -> list[LintWarning]:
    """Warnings that need only the job dict and job envs."""
    found: list[LintWarning] = []

    def warn(code: str, field: str, message: str) -> None:
        found.append(LintWarning(code, field, message))

    raw = jobdict.raw
    _lint_prefix(raw.get("prefix"), jobdict.prefix, warn)
    if not isinstance(raw.get("worker"), str):
        warn(
            "worker-not-string",
            "worker",
            "the worker is not a string; extracting the job home will crash on every node",
        )
    elif worker_problem(jobdict.worker):
        warn(
            "worker-path",
            "worker",
            f"the worker path {worker_problem(jobdict.worker)}; "
            "real Disco would chmod a file outside the job home",
        )
    _lint_pipeline(jobdict, warn)
    _lint_inputs(jobdict, warn)
    max_cores = jobdict.raw.get("scheduler", {}).get("max_cores")
    if max_cores is not None and not (type(max_cores) is int and max_cores > 0):
        warn(
            "max-cores",
            "scheduler",
            "max_cores is not a positive integer; the master "
            "accepts it but its scheduler cannot use it",
        )
    for key in ("force_local", "force_remote"):
        if key in jobdict.raw.get("scheduler", {}):
            warn("scheduler-ignored", "scheduler", f"{key} has no effect in Disco 0.5.4")
    if not isinstance(raw.get("save_info", "ddfs"), str):
        warn("save-info-not-string", "save_info", "save_info is not a string")
    unused = (_V2_KEYS if jobdict.version == 1 else _V1_KEYS) & set(raw)
    for key in sorted(unused):
        warn("unused-key", key, f"version {jobdict.version} job packs ignore {key!r}")
    for name, value in jobenvs.items():
        if not _ENV_NAME.fullmatch(name):
            warn("jobenv-name", "jobenvs", f"{name!r} cannot be an environment variable name")
        elif "\0" in value:
            warn("jobenv-value", "jobenvs", f"the value of {name!r} contains a NUL character")
    return found


def _lint_prefix(raw_prefix: Any, prefix: str, warn: Any) -> None:
    if not isinstance(raw_prefix, str):
        warn(
            "prefix-not-string",
            "prefix",
            "the prefix is not a string; the master accepts "
            "an array of character codes but job names built from it are unpredictable",
        )
    elif not prefix:
        warn("prefix-empty", "prefix", "the prefix is empty, so job names start with '@'")
    elif not _SAFE_PREFIX.fullmatch(prefix):
        warn(
            "prefix-charset",
            "prefix",
            f"the prefix {prefix!r} has characters outside "
            "[A-Za-z0-9_-]; clients put job names unencoded into URLs and the master passes "
            "them to shell commands",
        )


def _lint_pipeline(jobdict: JobDict, warn: Any) -> None:
    if not jobdict.pipeline:
        warn(
            "pipeline-empty", "pipeline", "the pipeline is empty; the job's results are its inputs"
        )
        return
    for stage in jobdict.pipeline:
        if not stage.name:
            warn("stage-name-empty", "pipeline", "a stage has an empty name")
    first = jobdict.pipeline[0]
    if first.concurrent and jobdict.inputs:
        warn(
            "concurrent-first-stage",
            "pipeline",
            f"the first stage {first.name!r} is "
            "concurrent; Disco 0.5.4 never starts it and the job stays active forever",
        )
    for stage in jobdict.pipeline[1:]:
        if stage.concurrent and stage.grouping is Grouping.SPLIT:
            warn(
                "concurrent-split-stage",
                "pipeline",
                f"stage {stage.name!r} is a concurrent "
                "split stage; Disco 0.5.4's coordinator can crash on it",
            )


def _lint_inputs(jobdict: JobDict, warn: Any) -> None:
    if not jobdict.inputs and jobdict.pipeline:
        warn("inputs-empty", "inputs", "the job has no inputs, so its stages run no tasks")
    field = "input" if jobdict.version == 1 else "inputs"
    raw_inputs = jobdict.raw.get(field)
    for index, job_input in enumerate(jobdict.inputs):
        if not job_input.urls:
            warn("input-no-urls", field, f"input {index} has no URLs; its task can never read it")
        if job_input.label < 0 or job_input.size_hint < 0:
            warn("input-negative", field, f"input {index} has a negative label or size hint")
        for url in job_input.urls:
            if not _SCHEME.match(url):
                warn("input-no-scheme", field, f"input {index} URL {url!r} has no scheme://")
            elif url.startswith("dir://") and jobdict.version == 2:
                warn(
                    "input-dir-v2",
                    field,
                    f"input {index} is a dir:// URL, which version 2 "
                    "job packs read as plain data, not as an index",
                )
        if jobdict.version == 1 and job_input.is_dir and isinstance(raw_inputs, list):
            item = raw_inputs[index]
            if isinstance(item, list) and len(item) > 1:
                warn(
                    "input-dir-replicas",
                    field,
                    f"input {index} lists dir:// replicas; the master keeps only the first",
                )


def lint_jobhome(pack: JobPack) -> list[LintWarning]:
    """Warnings about the job home section (which the master does not check at submission)."""
    found: list[LintWarning] = []
    if pack.jobhome_size == 0:
        return [
            LintWarning(
                "jobhome-empty",
                "jobhome",
                "the job home is empty; real Disco fails every task when it cannot unzip it",
            )
        ]
    try:
        archive = open_zip(pack.open_jobhome())  # type: ignore[arg-type]
    except JobHomeError as exc:
        return [LintWarning("jobhome-invalid", "jobhome", str(exc))]
    with archive:
        infos = {info.filename: info for info in archive.infolist()}
        for info in infos.values():
            problem = entry_problem(info)
            if problem:
                found.append(
                    LintWarning(
                        "jobhome-unsafe",
                        "jobhome",
                        f"entry {info.filename!r} {problem}; pydisco refuses to extract it",
                    )
                )
    worker = pack.jobdict.worker
    if worker and not worker_problem(worker):
        worker_info = infos.get(worker)
        if worker_info is None:
            found.append(
                LintWarning(
                    "worker-missing",
                    "worker",
                    f"the worker {worker!r} is not in the job home; every task will fail",
                )
            )
        else:
            mode = worker_info.external_attr >> 16
            if mode and not mode & stat.S_IXUSR:
                found.append(
                    LintWarning(
                        "worker-not-executable",
                        "worker",
                        f"the worker "
                        f"{worker!r} is not executable in the zip (the master chmods it "
                        "to 0755, other tools may not)",
                    )
                )
    return found


def lint(source: PathOrFile | JobPack) -> list[LintWarning]:
    """Validate ``source`` as the master does, then return every lint warning."""
    if isinstance(source, JobPack):
        return _lint_pack(source)
    with JobPack.open(source) as pack:
        return _lint_pack(pack)


def _lint_pack(pack: JobPack) -> list[LintWarning]:
    found = lint_jobdict(pack.jobdict, pack.jobenvs)
    found.extend(lint_jobhome(pack))
    if pack.size > MASTER_MAX_BODY:
        found.append(
            LintWarning(
                "pack-too-large",
                "pack",
                f"the pack is {pack.size} bytes; the master answers 413 above {MASTER_MAX_BODY}",
            )
        )
    return found
