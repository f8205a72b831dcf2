"""Disco job packs: read, validate, lint, build, convert and safely extract them.

A binary job pack is a 128-byte big-endian header (magic ``0xD5C0``, version
1 or 2, four section offsets) followed by the job dict (JSON), the job envs
(JSON), the job home (a zip archive) and the job data (opaque bytes). All
reading and writing streams, so multi-gigabyte job homes never sit in memory.
The format and every rule are described in ``protocol-spec/jobpack.md``.

Typical use::

    from pydisco import jobpack

    with open("job.pack", "wb") as out:
        jobpack.build_jobpack(out, "myjob/", worker="worker.py",
                              inputs=["http://host/data"],
                              pipeline=["map:split", "reduce:group_label"])
    jobdict = jobpack.validate("job.pack")          # as the master checks it
    warnings = jobpack.lint("job.pack")             # what will break later
    jobpack.extract_jobhome("job.pack", "/tmp/home")
"""

from __future__ import annotations

import typing

from pydisco.lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from pydisco.jobpack.errors import (
        BuildError,
        CorruptJobHome,
        ExtractionCancelled,
        InvalidJobPack,
        JobHomeError,
        JobPackError,
        JobPackTooLarge,
        NotAJobPack,
        UnsafeJobHome,
    )
    from pydisco.jobpack.jobhome import (
        DEFAULT_MAX_BYTES,
        DEFAULT_MAX_ENTRIES,
        DEFAULT_MAX_RATIO,
        HomeLimits,
        JobHomeEntry,
        zip_directory,
    )
    from pydisco.jobpack.linting import LintWarning, lint
    from pydisco.jobpack.parts import (
        DEFAULT_MAX_CORES,
        HEADER_SIZE,
        MAGIC,
        MASTER_MAX_BODY,
        Grouping,
        Header,
        JobDict,
        JobInput,
        PipelineStage,
    )
    from pydisco.jobpack.reader import JobPack, extract_jobhome, validate
    from pydisco.jobpack.validation import check_jobdict
    from pydisco.jobpack.writer import (
        build_jobpack,
        default_owner,
        jobpack_bytes,
        make_jobdict_v1,
        make_jobdict_v2,
        parse_pipeline,
        parse_stage,
        write_jobpack,
    )
    from pydisco.jobpack.zipform import (
        detect_form,
        infer_version,
        open_binary,
        zip_form_to_binary,
    )

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CORES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_RATIO",
    "HEADER_SIZE",
    "MAGIC",
    "MASTER_MAX_BODY",
    "BuildError",
    "CorruptJobHome",
    "ExtractionCancelled",
    "Grouping",
    "Header",
    "HomeLimits",
    "InvalidJobPack",
    "JobDict",
    "JobHomeEntry",
    "JobHomeError",
    "JobInput",
    "JobPack",
    "JobPackError",
    "JobPackTooLarge",
    "LintWarning",
    "NotAJobPack",
    "PipelineStage",
    "UnsafeJobHome",
    "build_jobpack",
    "check_jobdict",
    "default_owner",
    "detect_form",
    "extract_jobhome",
    "infer_version",
    "jobpack_bytes",
    "lint",
    "make_jobdict_v1",
    "make_jobdict_v2",
    "open_binary",
    "parse_pipeline",
    "parse_stage",
    "validate",
    "write_jobpack",
    "zip_directory",
    "zip_form_to_binary",
]


#: Where each public name is defined: a submodule is imported when one of its names is
#: first used, so that a process needing the reader (the master) or the writer (a driver)
#: does not import the linter, the converters and the rest.
_WHERE: typing.Final = {
    "errors": (
        "BuildError",
        "CorruptJobHome",
        "ExtractionCancelled",
        "InvalidJobPack",
        "JobHomeError",
        "JobPackError",
        "JobPackTooLarge",
        "NotAJobPack",
        "UnsafeJobHome",
    ),
    "jobhome": (
        "DEFAULT_MAX_BYTES",
        "DEFAULT_MAX_ENTRIES",
        "DEFAULT_MAX_RATIO",
        "HomeLimits",
        "JobHomeEntry",
        "zip_directory",
    ),
    "linting": (
        "LintWarning",
        "lint",
    ),
    "parts": (
        "DEFAULT_MAX_CORES",
        "Grouping",
        "HEADER_SIZE",
        "Header",
        "JobDict",
        "JobInput",
        "MAGIC",
        "MASTER_MAX_BODY",
        "PipelineStage",
    ),
    "reader": (
        "JobPack",
        "extract_jobhome",
        "validate",
    ),
    "validation": ("check_jobdict",),
    "writer": (
        "build_jobpack",
        "default_owner",
        "jobpack_bytes",
        "make_jobdict_v1",
        "make_jobdict_v2",
        "parse_pipeline",
        "parse_stage",
        "write_jobpack",
    ),
    "zipform": (
        "detect_form",
        "infer_version",
        "open_binary",
        "zip_form_to_binary",
    ),
}
_MODULE_OF: typing.Final = {name: part for part, names in _WHERE.items() for name in names}

__getattr__ = _lazy_names(__name__, _MODULE_OF)
