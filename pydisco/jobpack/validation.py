"""Check a job pack exactly as Disco's master does before it starts a job.

The order of the checks and the reason texts follow the master (facts 7.2 and
16): the header first; then the job dict is decoded, ``prefix`` looked up, the
job envs decoded, ``owner`` and ``worker`` looked up, ``save_results`` and
``save_info`` checked and only then the prefix; then the version, and last the
version's own keys (for version 2: ``pipeline``, ``inputs``, ``scheduler``,
then the pipeline's shape, stage names and groupings, then the inputs; for
version 1: ``scheduler``, ``input``, ``nr_reduces``, then the conversion of the
inputs and the flags into a pipeline). The first failure wins.

Each failure raises :class:`~pydisco.jobpack.errors.InvalidJobPack` whose
``reason`` is what the master would print after ``Job failed to start: ``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from pydisco import jsoncodec
from pydisco.jobpack import erlprinter
from pydisco.jobpack.errors import InvalidJobPack, JobPackTooLarge
from pydisco.jobpack.parts import (
    DEFAULT_MAX_CORES,
    HEADER_SIZE,
    HEADER_USED,
    MAGIC,
    Grouping,
    Header,
    JobDict,
    JobInput,
    PipelineStage,
)

#: Job dict and job envs sections larger than this are not decoded (memory bound).
DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024

_GROUPINGS = {g.value: g for g in Grouping}


def _fail(message: str, *, reason: str, field: str, check: str) -> NoReturn:
    raise InvalidJobPack(message, reason=reason, field=field, check=check)


def _string_reason(text: str) -> str:
    return erlprinter.string(text)


def _payload(field: str, what: str, error: str) -> NoReturn:
    # The master catches the crash and reports "invalid payload: Class:Reason".
    _fail(
        f"{what} (the master crashes on it and reports 'invalid payload').",
        reason=_string_reason(f"invalid payload: error:{error}"),
        field=field,
        check="payload",
    )


def check_header(head: bytes, size: int) -> Header:
    """Step 1: magic and offsets. ``head`` is the first bytes of the pack (>= 20 if any)."""
    if size < HEADER_USED or len(head) < HEADER_USED:
        problem = f"the file has {size} bytes, fewer than the {HEADER_USED} a header needs"
        header = None
    else:
        header = Header.parse(head)
        problem = _header_problem(header, size)
    if problem:
        _fail(
            f"The job pack header is invalid: {problem}. Rebuild the pack with "
            "'discotool pack' or check that the file is a binary job pack.",
            reason=_string_reason("invalid header"),
            field="header",
            check="header",
        )
    assert header is not None
    return header


def _header_problem(h: Header, size: int) -> str:
    if h.magic == 0x504B:  # "PK"
        return (
            "it starts with a zip signature, so it looks like a zip-form job pack; "
            "convert it with 'discotool pack FILE -o OUT' or open_binary()"
        )
    if h.magic != MAGIC:
        return f"the magic is 0x{h.magic:04X}, not 0x{MAGIC:04X}"
    if h.jobdict_offset != HEADER_SIZE:
        return f"the job dict offset is {h.jobdict_offset}, not {HEADER_SIZE}"
    if h.jobenvs_offset <= h.jobdict_offset:
        return (
            f"the job envs offset {h.jobenvs_offset} is not after the job dict offset "
            f"{h.jobdict_offset} (the job dict cannot be empty)"
        )
    if h.jobhome_offset < h.jobenvs_offset:
        return f"the job home offset {h.jobhome_offset} is before the job envs offset"
    if h.jobdata_offset < h.jobhome_offset:
        return f"the job data offset {h.jobdata_offset} is before the job home offset"
    if size < h.jobdata_offset:
        return f"the job data offset {h.jobdata_offset} is past the end of the {size}-byte file"
    return ""


_SECTION_NAMES = {"jobdict": "job dict", "jobenvs": "job envs"}


def _decode(data: bytes, field: str) -> Any:
    try:
        return jsoncodec.loads(data)
    except jsoncodec.JSONError as exc:
        name = _SECTION_NAMES[field]
        _payload(field, f"The {name} section is not valid JSON: {exc}", "invalid_json")


def _find(raw: Mapping[str, Any], key: str) -> Any:
    if key not in raw:
        _fail(
            f"The job dict has no '{key}' key, which the master requires; add it.",
            reason=_string_reason(f"jobpack missing key '{key}'"),
            field=key,
            check="missing_key",
        )
    return raw[key]


def _decode_envs(data: bytes) -> dict[str, str]:
    envs = _decode(data, "jobenvs")
    if not isinstance(envs, dict):
        _payload(
            "jobenvs",
            f"The job envs section must be a JSON object, not {_json_type(envs)}",
            "{badmatch," + erlprinter.term(envs) + "}",
        )
    for key, value in envs.items():
        if not isinstance(value, str):
            _payload(
                "jobenvs",
                f"The job env {key!r} must have a string value, not {_json_type(value)}",
                "badarg",
            )
    return envs


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_save_results(value: Any) -> bool:
    if not isinstance(value, bool):
        _fail(
            f"'save_results' must be true or false, not {_json_type(value)}.",
            reason="invalid_job_save_results",
            field="save_results",
            check="save_results",
        )
    return value


def _flatlength(items: list[Any]) -> int:
    return sum(_flatlength(i) if isinstance(i, list) else 1 for i in items)


_SAVE_INFO_HEADS = ([ord(c) for c in "hdfs"], [ord(c) for c in "ddfs"])


def _check_save_info(value: Any) -> str:
    bad = (
        "'save_info' must be a string starting with 'ddfs' or 'hdfs' "
        '(for example "ddfs" or "hdfs,<namenode>,<user>,<dir>")'
    )
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        if len(raw) < 4 or raw[:4] not in (b"hdfs", b"ddfs"):
            _fail(
                bad + f", not {value!r}.",
                reason="invalid_job_save_info",
                field="save_info",
                check="save_info",
            )
        return value
    if isinstance(value, list):
        # The master treats a JSON array as an Erlang string (a list of character codes).
        head = value[:4]
        ok = _flatlength(value) >= 4 and any(
            len(head) == 4 and all(type(a) is int and a == b for a, b in zip(head, h, strict=True))
            for h in _SAVE_INFO_HEADS
        )
        if not ok:
            _fail(bad + ".", reason="invalid_job_save_info", field="save_info", check="save_info")
        return _chars(value)
    _payload(
        "save_info", f"'save_info' must be a string, not {_json_type(value)}", "function_clause"
    )


def _chars(items: list[Any]) -> str:
    out = []
    for item in items:
        if type(item) is int and 0 <= item <= 0x10FFFF:
            out.append(chr(item))
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            out.append(_chars(item))
        else:
            out.append(jsoncodec.dumps_text(item))
    return "".join(out)


def _check_prefix(value: Any) -> str:
    if isinstance(value, str):
        if "/" in value or "." in value:
            _fail(
                f"The prefix {value!r} contains '/' or '.', which the master refuses; "
                "use letters, digits, '_' and '-' only.",
                reason=_string_reason("invalid prefix"),
                field="prefix",
                check="prefix",
            )
        return value
    if isinstance(value, list):
        # An array is an Erlang string to the master: only the codes of '/' and '.' fail.
        if any(type(v) is int and v in (ord("/"), ord(".")) for v in value):
            _fail(
                "The prefix contains the character code of '/' or '.', which the master "
                "refuses; use a plain string of letters, digits, '_' and '-'.",
                reason=_string_reason("invalid prefix"),
                field="prefix",
                check="prefix",
            )
        return _chars(value)
    _payload("prefix", f"The prefix must be a string, not {_json_type(value)}", "function_clause")


def _check_scheduler(raw: Mapping[str, Any]) -> dict[str, Any]:
    scheduler = _find(raw, "scheduler")
    if not isinstance(scheduler, dict):
        _payload(
            "scheduler",
            f"'scheduler' must be a JSON object (use {{}} for the defaults), "
            f"not {_json_type(scheduler)}",
            "function_clause",
        )
    return scheduler


def _pipeline_fail(detail: str) -> NoReturn:
    _fail(
        f"The pipeline is malformed: {detail}. Write it as a list of "
        '[stage name, grouping, concurrent] triples, e.g. [["map", "split", false]].',
        reason=_string_reason(f"Invalid job pipeline: {detail}"),
        field="pipeline",
        check="pipeline",
    )


def check_pipeline(value: Any) -> tuple[PipelineStage, ...]:
    """Version 2 ``pipeline``: shape, then unique names, then groupings."""
    if not isinstance(value, list):
        _pipeline_fail(f"it is {_json_type(value)}, not an array")
    for index, stage in enumerate(value):
        if not isinstance(stage, list) or len(stage) != 3:
            _pipeline_fail(f"stage {index} is not a 3-element array")
        name, grouping, concurrent = stage
        if not isinstance(name, str) or not isinstance(grouping, str):
            _pipeline_fail(f"stage {index} name and grouping must be strings")
        if not isinstance(concurrent, bool):
            _pipeline_fail(f"stage {index} concurrent flag must be true or false")
    names = [stage[0] for stage in value]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        _fail(
            f"The pipeline repeats the stage name(s) {', '.join(map(repr, repeated))}; "
            "stage names must be unique.",
            reason="repeated_pipeline_stages",
            field="pipeline",
            check="repeated_stages",
        )
    stages = []
    for name, grouping, concurrent in value:
        if grouping not in _GROUPINGS:
            _fail(
                f"The pipeline stage {name!r} has the unknown grouping {grouping!r}; use one "
                f"of {', '.join(_GROUPINGS)}.",
                reason=_string_reason(f"invalid grouping '{erlprinter.binary(grouping)}'"),
                field="pipeline",
                check="grouping",
            )
        stages.append(PipelineStage(name, _GROUPINGS[grouping], concurrent))
    return tuple(stages)


def _is_int(value: Any) -> bool:
    return type(value) is int


def check_inputs(value: Any) -> tuple[JobInput, ...]:
    """Version 2 ``inputs``: ``[[label, size_hint, [url, ...]], ...]``."""
    problem = ""
    if not isinstance(value, list):
        problem = f"it is {_json_type(value)}, not an array"
    else:
        for index, item in enumerate(value):
            if not isinstance(item, list) or len(item) != 3:
                problem = f"input {index} is not a 3-element array"
            elif not (_is_int(item[0]) and _is_int(item[1])):
                problem = f"input {index} label and size hint must be integers"
            elif not isinstance(item[2], list) or not all(isinstance(u, str) for u in item[2]):
                problem = f"input {index} URLs must be an array of strings"
            if problem:
                break
    if problem:
        _fail(
            f"The inputs are malformed: {problem}. Write them as "
            '[[label, size_hint, [url, ...]], ...], e.g. [[0, 0, ["http://host/file"]]].',
            reason="invalid_job_inputs",
            field="inputs",
            check="inputs",
        )
    return tuple(JobInput(label, size, tuple(urls)) for label, size, urls in value)


def _iodata(value: Any) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if _is_int(value) and 0 <= value <= 255:
        return bytes([value])
    if isinstance(value, list):
        parts = [_iodata(v) for v in value]
        return None if any(p is None for p in parts) else b"".join(p for p in parts if p)
    return None


def _v1_replica(value: Any) -> str:
    if isinstance(value, str):
        return value
    data = _iodata(value) if isinstance(value, list) else None
    if data is None:
        _payload(
            "input",
            f"A version 1 input replica must be a URL string, not {_json_type(value)}",
            "badarg",
        )
    return data.decode("utf-8", "replace")


def convert_v1_inputs(value: Any) -> tuple[JobInput, ...]:
    """Version 1 ``input`` to job inputs (facts 7.3): label 0, size 0; ``dir://`` flagged."""
    if not isinstance(value, list):
        _payload(
            "input",
            f"'input' must be an array, not {_json_type(value)}",
            "{bad_generator," + erlprinter.term(value) + "}",
        )
    inputs = []
    for item in value:
        if isinstance(item, str):
            inputs.append(JobInput(0, 0, (item,), is_dir=item.startswith("dir://")))
        elif isinstance(item, list):
            if item and isinstance(item[0], str) and item[0].startswith("dir://"):
                inputs.append(JobInput(0, 0, (item[0],), is_dir=True))
            else:
                inputs.append(JobInput(0, 0, tuple(_v1_replica(r) for r in item)))
        else:
            _payload(
                "input",
                "A version 1 input must be a URL string or an array of "
                f"replica URLs, not {_json_type(item)}",
                "function_clause",
            )
    return tuple(inputs)


_MAP = PipelineStage("map", Grouping.SPLIT)
_MAP_SHUFFLE = PipelineStage("map_shuffle", Grouping.GROUP_NODE)
_REDUCE_ALL = PipelineStage("reduce", Grouping.GROUP_ALL)
_REDUCE_LABEL = PipelineStage("reduce", Grouping.GROUP_LABEL)
_REDUCE_SHUFFLE = PipelineStage("reduce_shuffle", Grouping.GROUP_NODE)


def convert_v1_pipeline(
    map_: Any, reduce_: Any, reduce_shuffle: Any, nr_reduces: Any
) -> tuple[PipelineStage, ...]:
    """The pipeline a version 1 job runs as (facts 7.4), tried in the master's clause order."""
    one = _is_int(nr_reduces) and nr_reduces == 1
    head: tuple[PipelineStage, ...] = (_MAP, _MAP_SHUFFLE) if map_ is True else ()
    if map_ is False and reduce_ is False:
        return ()
    if map_ is True and reduce_ is False:
        return head
    if (map_ is True or map_ is False) and reduce_ is True:
        if one:
            return (*head, _REDUCE_ALL)
        if reduce_shuffle is True:
            return (*head, _REDUCE_LABEL, _REDUCE_SHUFFLE)
        if reduce_shuffle is False:
            return (*head, _REDUCE_LABEL)
        _payload(
            "reduce_shuffle?",
            "'reduce_shuffle?' must be true or false when 'nr_reduces' is not 1",
            "function_clause",
        )
    field = "reduce?" if map_ is True or map_ is False else "map?"
    _payload(field, f"'{field}' must be true or false", "function_clause")


def _v1(
    raw: Mapping[str, Any],
) -> tuple[tuple[PipelineStage, ...], tuple[JobInput, ...], dict[str, Any]]:
    scheduler = _check_scheduler(raw)
    job_input = _find(raw, "input")
    nr_reduces = _find(raw, "nr_reduces")
    inputs = convert_v1_inputs(job_input)
    pipeline = convert_v1_pipeline(
        raw.get("map?", False),
        raw.get("reduce?", False),
        raw.get("reduce_shuffle?", False),
        nr_reduces,
    )
    return pipeline, inputs, scheduler


def _v2(
    raw: Mapping[str, Any],
) -> tuple[tuple[PipelineStage, ...], tuple[JobInput, ...], dict[str, Any]]:
    pipeline = _find(raw, "pipeline")
    inputs = _find(raw, "inputs")
    scheduler = _check_scheduler(raw)
    return check_pipeline(pipeline), check_inputs(inputs), scheduler


def check_jobdict(
    version: int, jobdict_bytes: bytes, jobenvs_bytes: bytes
) -> tuple[JobDict, dict[str, str]]:
    """Steps 2-7 of the master's validation, on the two JSON sections' bytes."""
    raw = _decode(jobdict_bytes, "jobdict")
    if not isinstance(raw, dict):
        _payload(
            "jobdict",
            f"The job dict must be a JSON object, not {_json_type(raw)}",
            "function_clause",
        )
    prefix = _find(raw, "prefix")
    save_results = raw.get("save_results", False)
    save_info = raw.get("save_info", "ddfs")
    envs = _decode_envs(jobenvs_bytes)
    owner = _find(raw, "owner")
    worker = _find(raw, "worker")
    save_results = _check_save_results(save_results)
    save_info = _check_save_info(save_info)
    prefix_text = _check_prefix(prefix)
    if version == 1:
        pipeline, inputs, scheduler = _v1(raw)
    elif version == 2:
        pipeline, inputs, scheduler = _v2(raw)
    else:
        _fail(
            f"The job pack version is {version}; the master understands versions 1 and 2.",
            reason=_string_reason(f"unsupported version '{version}'"),
            field="version",
            check="version",
        )
    max_cores = scheduler.get("max_cores", DEFAULT_MAX_CORES)
    jobdict = JobDict(
        version=version,
        prefix=prefix_text,
        worker=worker if isinstance(worker, str) else "",
        owner=owner if isinstance(owner, str) else jsoncodec.dumps_text(owner),
        pipeline=pipeline,
        inputs=inputs,
        max_cores=max_cores if _is_int(max_cores) else DEFAULT_MAX_CORES,
        save_results=save_results,
        save_info=save_info,
        force_local=version == 1 and scheduler.get("force_local") is True,
        force_remote=version == 1 and scheduler.get("force_remote") is True,
        raw=raw,
    )
    return jobdict, envs


def check_pack(
    head: bytes,
    size: int,
    read: Callable[[int, int], bytes],
    *,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
) -> tuple[Header, JobDict, dict[str, str]]:
    """The whole master check. ``read(start, end)`` returns those bytes of the pack."""
    header = check_header(head, size)
    for name, length in (("job dict", header.jobdict_size), ("job envs", header.jobenvs_size)):
        if length > max_json_bytes:
            raise JobPackTooLarge(
                f"The {name} section is {length} bytes, more than the {max_json_bytes} "
                "pydisco decodes; job dicts and job envs should be small JSON objects."
            )
    jobdict_bytes = read(header.jobdict_offset, header.jobenvs_offset)
    jobenvs_bytes = read(header.jobenvs_offset, header.jobhome_offset)
    jobdict, envs = check_jobdict(header.version, jobdict_bytes, jobenvs_bytes)
    return header, jobdict, envs
