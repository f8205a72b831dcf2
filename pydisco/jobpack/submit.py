"""What pydisco's master accepts at submit, beyond Disco's own checks: one JSON Schema.

Disco 0.5.4's master accepts job dicts that then hang (``max_cores`` 0),
crash a task (an env name with ``=``) or the master's request handler (a
240-character prefix). The reference master refuses them at submit instead,
with a reason naming the field and the rule. The rules are the JSON Schema
:data:`SUBMIT_SCHEMA`; ``protocol-spec/schemas/jobdict-submit.json`` is this
schema written out (a test keeps the two equal), and :func:`check_submit`
evaluates it (the subset of draft 2020-12 the schema uses).
"""

from __future__ import annotations

import re
from typing import Any

from pydisco import jsoncodec
from pydisco.jobpack import erlprinter
from pydisco.jobpack.errors import InvalidJobPack

#: Longest prefix: job names become file names (255 bytes), and a prefix may be UTF-8.
MAX_PREFIX_CHARS = 50
#: Input labels are Disco's 32-bit partition numbers; size hints are byte counts.
MAX_LABEL = 2**31 - 1
MAX_SIZE_HINT = 2**63 - 1
#: ``max_cores``: at least one task must be able to run; Disco's default is 2^31.
MAX_CORES = 2**31
MAX_STAGES = 1000
#: A job's ``scheduler.task_timeout`` (seconds): a year at most.
MAX_TASK_TIMEOUT = 366 * 24 * 3600
MAX_ENVS = 1000

_STRING_NO_NUL = "^[^\\u0000]*$"

#: The job dict and job envs as the reference master accepts them (after Disco's checks).
SUBMIT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://pydisco.invalid/schemas/jobdict-submit.json",
    "title": "Job dict and job envs as pydisco's reference master accepts them at submit",
    "description": (
        "Disco 0.5.4's master accepts values that later hang the job, fail every task or "
        "crash the request (jobdict-v1.json and jobdict-v2.json describe what it accepts). "
        "pydisco's reference master also checks the pack against this schema and refuses "
        "it with a reason naming the field and the rule. The instance is an object with the "
        "job dict under 'jobdict' and the job envs under 'jobenvs'. Generated from "
        "pydisco.jobpack.submit.SUBMIT_SCHEMA."
    ),
    "type": "object",
    "properties": {
        "jobdict": {
            "type": "object",
            "properties": {
                "prefix": {
                    "description": "Job names <prefix>@... are file names: short, no '/', "
                    "'.' or control characters.",
                    "type": "string",
                    "maxLength": MAX_PREFIX_CHARS,
                    "pattern": "^[^/.\\u0000-\\u001f]*$",
                },
                "owner": {"type": "string", "maxLength": 1024, "pattern": _STRING_NO_NUL},
                "worker": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1024,
                    "pattern": _STRING_NO_NUL,
                },
                "pipeline": {
                    "type": "array",
                    "maxItems": MAX_STAGES,
                    "items": {
                        "type": "array",
                        "prefixItems": [
                            {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                                "pattern": "^[^/\\u0000]*$",
                            },
                            {"type": "string"},
                            {"type": "boolean"},
                        ],
                    },
                },
                "inputs": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "prefixItems": [
                            {"type": "integer", "minimum": 0, "maximum": MAX_LABEL},
                            {"type": "integer", "minimum": 0, "maximum": MAX_SIZE_HINT},
                            {"type": "array", "items": {"type": "string"}},
                        ],
                    },
                },
                "scheduler": {
                    "type": "object",
                    "properties": {
                        "max_cores": {"type": "integer", "minimum": 1, "maximum": MAX_CORES},
                        "task_timeout": {
                            "description": "pydisco: seconds a task may run before it is "
                            "killed and counted as failed (the master's own limit may be "
                            "shorter).",
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_TASK_TIMEOUT,
                        },
                    },
                },
            },
        },
        "jobenvs": {
            "type": "object",
            "maxProperties": MAX_ENVS,
            "propertyNames": {
                "description": "An environment variable name: no '=' and no NUL.",
                "minLength": 1,
                "maxLength": 1024,
                "pattern": "^[^=\\u0000]*$",
            },
            "additionalProperties": {"type": "string", "pattern": _STRING_NO_NUL},
        },
    },
}

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: isinstance(v, bool),
}


def _problem(schema: dict[str, Any], value: Any, path: list[str]) -> tuple[str, str, str] | None:
    """The first (path, rule, what is wrong) where ``value`` breaks ``schema``."""
    kind = schema.get("type")
    if kind is not None and not _TYPES[kind](value):
        return ".".join(path), "type", f"must be {kind}, not {_json_type(value)}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return (
                ".".join(path),
                "minLength",
                f"must have at least {schema['minLength']} characters",
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return (
                ".".join(path),
                "maxLength",
                f"has {len(value)} characters, more than {schema['maxLength']}",
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return ".".join(path), "pattern", f"must match {schema['pattern']}"
    if type(value) in (int, float):
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            bound = schema["exclusiveMinimum"]
            return ".".join(path), "exclusiveMinimum", f"must be above {bound}, not {value}"
        if "minimum" in schema and value < schema["minimum"]:
            return ".".join(path), "minimum", f"must be at least {schema['minimum']}, not {value}"
        if "maximum" in schema and value > schema["maximum"]:
            return ".".join(path), "maximum", f"must be at most {schema['maximum']}, not {value}"
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return ".".join(path), "maxItems", f"has more than {schema['maxItems']} items"
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items")
            if sub is not None and (found := _problem(sub, item, [*path, str(index)])):
                return found
    if isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            return ".".join(path), "maxProperties", f"has more than {schema['maxProperties']} keys"
        properties = schema.get("properties", {})
        for key, item in value.items():
            names = schema.get("propertyNames")
            if names is not None and (found := _problem(names, key, [*path, key])):
                return ".".join(path), f"propertyNames {found[1]}", f"key {key!r} {found[2]}"
            sub = properties.get(key, schema.get("additionalProperties"))
            if isinstance(sub, dict) and (found := _problem(sub, item, [*path, key])):
                return found
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def check_submit(raw_jobdict: Any, jobenvs: Any) -> None:
    """Raise :class:`InvalidJobPack` naming the field and rule that :data:`SUBMIT_SCHEMA` breaks."""
    found = _problem(SUBMIT_SCHEMA, {"jobdict": raw_jobdict, "jobenvs": jobenvs}, [])
    if found is None:
        return
    where, rule, what = found
    field = where.split(".", 1)[1] if "." in where else where
    shown = jsoncodec.dumps_text(_at(raw_jobdict, jobenvs, where))
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = (
        f"The job pack's {field} {what} (rule '{rule}' of jobdict-submit.json; got {shown}); "
        "the master refuses it at submit."
    )
    raise InvalidJobPack(message, reason=erlprinter.string(message), field=field, check=rule)


def _at(raw_jobdict: Any, jobenvs: Any, where: str) -> Any:
    value: Any = {"jobdict": raw_jobdict, "jobenvs": jobenvs}
    for part in where.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return value
    return value


def schema_text() -> str:
    """``protocol-spec/schemas/jobdict-submit.json`` as it must read."""
    import json

    return json.dumps(SUBMIT_SCHEMA, indent=2, ensure_ascii=True) + "\n"
