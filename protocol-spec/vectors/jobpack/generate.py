#!/usr/bin/env python3
"""Generate the job pack test vectors in this directory.

Run ``python generate.py`` (from anywhere) to rewrite every vector file and
``index.json``. Only the standard library is used (struct, json, zipfile),
following ``../../jobpack.md``; the pydisco library is deliberately not used,
so the vectors are an independent check of it. Output is deterministic.
"""

from __future__ import annotations

import io
import json
import stat
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EPOCH = (1980, 1, 1, 0, 0, 0)
WORKER = b"#!/usr/bin/env python3\nprint('worker')\n"


def member(name: str, data: bytes, mode: int = 0o644, kind: int = stat.S_IFREG) -> tuple:
    return (name, data, mode, kind)


def make_zip(members: list[tuple], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode, kind in members:
            info = zipfile.ZipInfo(name, EPOCH)
            info.create_system = 3
            info.external_attr = (kind | mode) << 16
            if kind == stat.S_IFDIR:
                info.external_attr |= 0x10
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


DEFAULT_HOME = [member("worker.py", WORKER, 0o755), member("lib/util.py", b"X = 1\n")]


def pack(
    jobdict: Any = None,
    *,
    version: int = 2,
    jobenvs: Any = None,
    home: bytes | None = None,
    data: bytes = b"",
    raw_dict: bytes | None = None,
    raw_envs: bytes | None = None,
    magic: int = 0xD5C0,
    offsets: tuple[int, int, int, int] | None = None,
    reserved: bytes = b"",
) -> bytes:
    """A binary job pack: 128-byte big-endian header, then the four sections."""
    d = raw_dict if raw_dict is not None else json.dumps(jobdict).encode()
    e = (
        raw_envs
        if raw_envs is not None
        else json.dumps({} if jobenvs is None else jobenvs).encode()
    )
    h = make_zip(DEFAULT_HOME) if home is None else home
    if offsets is None:
        offsets = (128, 128 + len(d), 128 + len(d) + len(e), 128 + len(d) + len(e) + len(h))
    header = struct.pack("!HHIIII", magic, version, *offsets)
    header = (header + reserved).ljust(128, b"\0")[:128]
    return header + d + e + h + data


def v2(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prefix": "Vector",
        "owner": "tester@example",
        "worker": "worker.py",
        "pipeline": [["map", "split", False]],
        "inputs": [[0, 0, ["http://node1/data/a"]]],
        "scheduler": {},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def v1(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prefix": "Classic",
        "owner": "tester@example",
        "worker": "worker.py",
        "input": ["http://node1/data/a"],
        "map?": True,
        "reduce?": False,
        "nr_reduces": 1,
        "scheduler": {},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()
VECTORS: list[dict[str, Any]] = []
FILES: dict[str, bytes] = {}


def add(vid: str, description: str, data: bytes, *, ext: str = "jobpack", **fields: Any) -> None:
    name = f"{vid}.{ext}"
    FILES[name] = data
    VECTORS.append({"id": f"jobpack-{vid}", "file": name, "description": description, **fields})


def valid(
    vid: str,
    description: str,
    data: bytes,
    *,
    expected: dict[str, Any],
    lint: list[str],
    schema: str = "accept",
    **fields: Any,
) -> None:
    add(
        vid,
        description,
        data,
        form="binary",
        outcome="valid",
        expected=expected,
        lint=sorted(lint),
        schema=schema,
        **fields,
    )


def invalid(
    vid: str,
    description: str,
    data: bytes,
    *,
    reason: str,
    field: str,
    match: str = "exact",
    schema: str = "n/a",
) -> None:
    add(
        vid,
        description,
        data,
        form="binary",
        outcome="invalid",
        reason=reason,
        reason_match=match,
        field=field,
        schema=schema,
    )


def q(text: str) -> str:
    """A string reason as the master prints it with ~p (no escapes needed here)."""
    return '"' + text + '"'


MAP = ["map", "split", False]
MAP_SHUFFLE = ["map_shuffle", "group_node", False]
REDUCE_ALL = ["reduce", "group_all", False]
REDUCE_LABEL = ["reduce", "group_label", False]
REDUCE_SHUFFLE = ["reduce_shuffle", "group_node", False]


def build() -> None:
    home_names = ["worker.py", "lib/util.py"]
    one_input = [[0, 0, ["http://node1/data/a"], False]]
    # Valid version 2 packs.
    valid(
        "v2-minimal",
        "Smallest ordinary version 2 pack.",
        pack(v2()),
        expected={
            "version": 2,
            "prefix": "Vector",
            "worker": "worker.py",
            "pipeline": [MAP],
            "inputs": one_input,
            "jobenvs": {},
            "jobdata_hex": "",
            "jobhome": home_names,
        },
        lint=[],
    )
    full = v2(
        pipeline=[
            ["map", "split", False],
            ["local", "group_node_label", False],
            ["shuffle", "group_node", False],
            ["reduce", "group_label", True],
            ["final", "group_all", False],
        ],
        inputs=[[0, 10, ["http://node1/a", "http://node2/a"]], [3, 0, ["disco://node3/b"]]],
        scheduler={"max_cores": 4},
        save_results=True,
        save_info="hdfs,nn:9000,user,/out",
    )
    valid(
        "v2-full",
        "Every grouping, a concurrent stage, replicas, max_cores, save_results, "
        "hdfs save_info, job envs and job data.",
        pack(full, jobenvs={"PYTHONPATH": "lib", "LANG": "C"}, data=b"\x00\x01job data\xff"),
        expected={
            "version": 2,
            "prefix": "Vector",
            "worker": "worker.py",
            "pipeline": full["pipeline"],
            "inputs": [
                [0, 10, ["http://node1/a", "http://node2/a"], False],
                [3, 0, ["disco://node3/b"], False],
            ],
            "max_cores": 4,
            "save_results": True,
            "save_info": "hdfs,nn:9000,user,/out",
            "jobenvs": {"PYTHONPATH": "lib", "LANG": "C"},
            "jobdata_hex": "00016a6f622064617461ff",
            "jobhome": home_names,
        },
        lint=[],
    )
    valid(
        "v2-empty-pipeline",
        "An empty pipeline is accepted (results are the inputs).",
        pack(v2(pipeline=[])),
        expected={"pipeline": [], "inputs": one_input},
        lint=["pipeline-empty"],
    )
    valid(
        "v2-empty-prefix",
        "An empty prefix is accepted; job names start with '@'.",
        pack(v2(prefix="")),
        expected={"prefix": ""},
        lint=["prefix-empty"],
    )
    valid(
        "v2-prefix-shell-chars",
        "Only '/' and '.' are refused in a prefix; spaces and shell "
        "characters pass the master but break later.",
        pack(v2(prefix="my job;$(x)")),
        expected={"prefix": "my job;$(x)"},
        lint=["prefix-charset"],
    )
    valid(
        "v2-reserved-bytes",
        "Header bytes 20-127 are ignored even when not zero.",
        pack(v2(), reserved=b"\x01" * 108),
        expected={"prefix": "Vector"},
        lint=[],
    )
    valid(
        "v2-owner-object",
        "owner may be any JSON value.",
        pack(v2(owner={"user": "x"})),
        expected={"prefix": "Vector"},
        lint=[],
    )
    valid(
        "v2-no-inputs",
        "An empty inputs list is accepted.",
        pack(v2(inputs=[])),
        expected={"inputs": []},
        lint=["inputs-empty"],
    )
    valid(
        "v2-input-no-urls",
        "An input with no URLs is accepted by the master.",
        pack(v2(inputs=[[0, 0, []]])),
        expected={"inputs": [[0, 0, [], False]]},
        lint=["input-no-urls"],
    )
    valid(
        "v2-empty-jobhome",
        "The master does not look at the job home when it accepts a job; tasks fail later.",
        pack(v2(), home=b""),
        expected={"jobhome": None},
        lint=["jobhome-empty"],
    )
    valid(
        "v2-worker-missing",
        "The worker is not in the job home: accepted, every task fails.",
        pack(v2(worker="bin/absent")),
        expected={"worker": "bin/absent"},
        lint=["worker-missing"],
    )
    valid(
        "v2-concurrent-first",
        "A concurrent first stage is accepted but never starts in Disco 0.5.4.",
        pack(v2(pipeline=[["map", "split", True]])),
        expected={"pipeline": [["map", "split", True]]},
        lint=["concurrent-first-stage"],
    )
    valid(
        "v2-unused-v1-keys",
        "Version 2 ignores version 1 keys.",
        pack(v2(input=["http://x/y"], nr_reduces=3)),
        expected={"inputs": one_input},
        lint=["unused-key"],
    )
    valid(
        "v2-save-info-ddfs-suffix",
        "save_info only needs to start with ddfs or hdfs.",
        pack(v2(save_info="ddfsXYZ")),
        expected={"save_info": "ddfsXYZ"},
        lint=[],
    )
    # Version 1: the table of jobpack.md, "Version 1 as a pipeline".
    table = [
        (False, False, False, 1, []),
        (False, True, False, 1, [REDUCE_ALL]),
        (False, True, True, 1, [REDUCE_ALL]),
        (False, True, True, 3, [REDUCE_LABEL, REDUCE_SHUFFLE]),
        (False, True, False, 3, [REDUCE_LABEL]),
        (True, False, True, 3, [MAP, MAP_SHUFFLE]),
        (True, True, False, 1, [MAP, MAP_SHUFFLE, REDUCE_ALL]),
        (True, True, True, 2, [MAP, MAP_SHUFFLE, REDUCE_LABEL, REDUCE_SHUFFLE]),
        (True, True, False, 2, [MAP, MAP_SHUFFLE, REDUCE_LABEL]),
    ]
    for m, r, rs, nr, stages in table:
        vid = f"v1-map{int(m)}-reduce{int(r)}-shuffle{int(rs)}-nr{nr}"
        lint = ["pipeline-empty"] if not stages else []
        valid(
            vid,
            f"Version 1 map?={m}, reduce?={r}, reduce_shuffle?={rs}, nr_reduces={nr}.",
            pack(
                v1(**{"map?": m, "reduce?": r, "reduce_shuffle?": rs, "nr_reduces": nr}), version=1
            ),
            expected={"version": 1, "prefix": "Classic", "pipeline": stages},
            lint=lint,
        )
    valid(
        "v1-defaults",
        "map?, reduce? and reduce_shuffle? default to false.",
        pack(v1(**{"map?": DROP, "reduce?": DROP}), version=1),
        expected={"pipeline": []},
        lint=["pipeline-empty"],
    )
    valid(
        "v1-nr-reduces-float",
        "nr_reduces is compared with the integer 1 only: 1.0 is not 1.",
        pack(v1(**{"map?": False, "reduce?": True, "nr_reduces": 1.0}), version=1),
        expected={"pipeline": [REDUCE_LABEL]},
        lint=[],
    )
    valid(
        "v1-inputs",
        "Version 1 inputs: a URL, a replica list, a dir:// URL and a dir:// list "
        "(only its first element is kept).",
        pack(
            v1(
                input=[
                    "http://a/1",
                    ["http://a/2", "http://b/2"],
                    "dir://n1/idx",
                    ["dir://n2/idx", "dir://n3/idx"],
                ]
            ),
            version=1,
        ),
        expected={
            "inputs": [
                [0, 0, ["http://a/1"], False],
                [0, 0, ["http://a/2", "http://b/2"], False],
                [0, 0, ["dir://n1/idx"], True],
                [0, 0, ["dir://n2/idx"], True],
            ]
        },
        lint=["input-dir-replicas"],
    )
    valid(
        "v1-force-local",
        "force_local is read and ignored; max_cores is used.",
        pack(v1(scheduler={"force_local": True, "max_cores": 7}), version=1),
        expected={"max_cores": 7},
        lint=["scheduler-ignored"],
    )

    # Invalid: the header (step 1).
    good = pack(v2())
    d_end = 128 + len(json.dumps(v2()).encode())
    invalid(
        "hdr-short", "Fewer than 20 bytes.", good[:19], reason=q("invalid header"), field="header"
    )
    invalid("hdr-empty", "An empty file.", b"", reason=q("invalid header"), field="header")
    invalid(
        "hdr-magic",
        "Wrong magic.",
        pack(v2(), magic=0xD5C1),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-dict-offset",
        "The job dict offset is not 128.",
        pack(v2(), offsets=(132, d_end, d_end + 2, d_end + 2)),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-empty-dict",
        "jobenvs offset == jobdict offset (strictly greater is required).",
        pack(v2(), offsets=(128, 128, d_end, d_end)),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-home-before-envs",
        "jobhome offset < jobenvs offset.",
        pack(v2(), offsets=(128, d_end, d_end - 1, d_end + 2)),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-data-before-home",
        "jobdata offset < jobhome offset.",
        pack(v2(), offsets=(128, d_end, d_end + 2, d_end + 1)),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-data-past-end",
        "jobdata offset past the end of the file.",
        pack(v2(), offsets=(128, d_end, d_end + 2, len(good) + 1)),
        reason=q("invalid header"),
        field="header",
    )
    invalid(
        "hdr-bad-version-and-magic",
        "The header check runs before the version check.",
        pack(v2(), magic=0, version=9),
        reason=q("invalid header"),
        field="header",
    )
    # Invalid: decoding and the common keys, in the master's order.
    invalid(
        "dict-not-json",
        "The job dict is not JSON.",
        pack(raw_dict=b"{prefix:"),
        reason=q("invalid payload: error:"),
        match="prefix",
        field="jobdict",
    )
    invalid(
        "dict-array",
        "The job dict is a JSON array.",
        pack([1, 2]),
        reason=q("invalid payload: error:function_clause"),
        field="jobdict",
    )
    invalid(
        "missing-prefix",
        "No prefix; also an unsupported version, which is checked later.",
        pack(v2(prefix=DROP), version=3),
        reason=q("jobpack missing key 'prefix'"),
        field="prefix",
        schema="n/a",
    )
    invalid(
        "envs-before-owner",
        "Job envs are decoded before owner is looked up.",
        pack(v2(owner=DROP), raw_envs=b"[]"),
        reason=q("invalid payload: error:{badmatch,[]}"),
        field="jobenvs",
    )
    invalid(
        "envs-empty",
        "An empty job envs section cannot be decoded.",
        pack(v2(), raw_envs=b""),
        reason=q("invalid payload: error:"),
        match="prefix",
        field="jobenvs",
    )
    invalid(
        "envs-value-not-string",
        "Job env values must be strings.",
        pack(v2(), jobenvs={"N": 1}),
        reason=q("invalid payload: error:badarg"),
        field="jobenvs",
    )
    invalid(
        "envs-before-prefix",
        "A bad prefix and bad job envs report the job envs.",
        pack(v2(prefix="a/b"), raw_envs=b"5"),
        reason=q("invalid payload: error:{badmatch,5}"),
        field="jobenvs",
    )
    invalid(
        "missing-owner-worker",
        "owner is looked up before worker.",
        pack(v2(owner=DROP, worker=DROP)),
        reason=q("jobpack missing key 'owner'"),
        field="owner",
        schema="reject",
    )
    invalid(
        "missing-worker",
        "No worker.",
        pack(v2(worker=DROP)),
        reason=q("jobpack missing key 'worker'"),
        field="worker",
        schema="reject",
    )
    invalid(
        "worker-before-prefix",
        "A missing worker is reported before a bad prefix.",
        pack(v2(worker=DROP, prefix="a.b")),
        reason=q("jobpack missing key 'worker'"),
        field="worker",
        schema="reject",
    )
    invalid(
        "save-results-string",
        "save_results must be a boolean.",
        pack(v2(save_results="yes")),
        reason="invalid_job_save_results",
        field="save_results",
        schema="reject",
    )
    invalid(
        "save-results-before-save-info",
        "save_results is checked before save_info.",
        pack(v2(save_results=None, save_info="x")),
        reason="invalid_job_save_results",
        field="save_results",
        schema="reject",
    )
    invalid(
        "save-info-short",
        "save_info needs at least 4 characters.",
        pack(v2(save_info="dd")),
        reason="invalid_job_save_info",
        field="save_info",
        schema="reject",
    )
    invalid(
        "save-info-other",
        "save_info must start with ddfs or hdfs.",
        pack(v2(save_info="s3://bucket")),
        reason="invalid_job_save_info",
        field="save_info",
        schema="reject",
    )
    invalid(
        "save-info-before-prefix",
        "The prefix is checked after save_info.",
        pack(v2(save_info="nope", prefix="a/b")),
        reason="invalid_job_save_info",
        field="save_info",
        schema="reject",
    )
    invalid(
        "prefix-slash",
        "A prefix with '/'.",
        pack(v2(prefix="a/b")),
        reason=q("invalid prefix"),
        field="prefix",
        schema="reject",
    )
    invalid(
        "prefix-dot",
        "A prefix with '.'.",
        pack(v2(prefix="v1.2")),
        reason=q("invalid prefix"),
        field="prefix",
        schema="reject",
    )
    invalid(
        "prefix-number",
        "A prefix that is a number crashes the prefix check.",
        pack(v2(prefix=5)),
        reason=q("invalid payload: error:function_clause"),
        field="prefix",
        schema="reject",
    )
    invalid(
        "prefix-before-version",
        "The prefix is checked before the version.",
        pack(v2(prefix="a.b"), version=7),
        reason=q("invalid prefix"),
        field="prefix",
    )
    invalid(
        "version-3",
        "Version 3 does not exist.",
        pack(v2(), version=3),
        reason=q("unsupported version '3'"),
        field="version",
    )
    invalid(
        "version-0-missing-pipeline",
        "The version is checked before version keys.",
        pack(v2(pipeline=DROP), version=0),
        reason=q("unsupported version '0'"),
        field="version",
    )
    # Invalid: version 2 keys.
    invalid(
        "v2-missing-pipeline-inputs",
        "pipeline is looked up before inputs.",
        pack(v2(pipeline=DROP, inputs=DROP)),
        reason=q("jobpack missing key 'pipeline'"),
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-missing-inputs",
        "No inputs.",
        pack(v2(inputs=DROP)),
        reason=q("jobpack missing key 'inputs'"),
        field="inputs",
        schema="reject",
    )
    invalid(
        "v2-missing-scheduler",
        "scheduler is required even though it reads as optional.",
        pack(v2(scheduler=DROP)),
        reason=q("jobpack missing key 'scheduler'"),
        field="scheduler",
        schema="reject",
    )
    invalid(
        "v2-scheduler-array",
        "scheduler must be an object.",
        pack(v2(scheduler=[])),
        reason=q("invalid payload: error:function_clause"),
        field="scheduler",
        schema="reject",
    )
    invalid(
        "v2-pipeline-two-elements",
        "The documented [stage, grouping] form is refused.",
        pack(v2(pipeline=[["map", "split"]])),
        reason="Invalid job pipeline",
        match="contains",
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-pipeline-object",
        "pipeline must be an array.",
        pack(v2(pipeline={})),
        reason="Invalid job pipeline",
        match="contains",
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-pipeline-concurrent-string",
        "The concurrent flag must be a boolean.",
        pack(v2(pipeline=[["map", "split", "false"]])),
        reason="Invalid job pipeline",
        match="contains",
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-repeated-stages",
        "Stage names must be unique.",
        pack(v2(pipeline=[["s", "split", False], ["s", "group_all", False]])),
        reason="repeated_pipeline_stages",
        field="pipeline",
        schema="n/a",
    )
    invalid(
        "v2-repeated-before-grouping",
        "Uniqueness is checked before groupings.",
        pack(v2(pipeline=[["s", "bogus", False], ["s", "split", False]])),
        reason="repeated_pipeline_stages",
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-bad-grouping",
        "An unknown grouping.",
        pack(v2(pipeline=[["map", "split", False], ["r", "group_host", False]])),
        reason=q("invalid grouping '<<\\\"group_host\\\">>'"),
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-grouping-before-inputs",
        "The pipeline is checked before the inputs.",
        pack(v2(pipeline=[["map", "nope", False]], inputs="x")),
        reason=q("invalid grouping '<<\\\"nope\\\">>'"),
        field="pipeline",
        schema="reject",
    )
    invalid(
        "v2-inputs-flat",
        "The documented flat [label, size, url...] form is refused.",
        pack(v2(inputs=[[0, 0, "http://a/b"]])),
        reason="invalid_job_inputs",
        field="inputs",
        schema="reject",
    )
    invalid(
        "v2-inputs-bare-urls",
        "Bare URL strings are refused in version 2.",
        pack(v2(inputs=["http://a/b"])),
        reason="invalid_job_inputs",
        field="inputs",
        schema="reject",
    )
    invalid(
        "v2-inputs-float-label",
        "Labels must be integers: 0.0 is refused (a JSON Schema cannot tell 0.0 from 0).",
        pack(v2(inputs=[[0.0, 0, ["http://a/b"]]])),
        reason="invalid_job_inputs",
        field="inputs",
        schema="n/a",
    )
    invalid(
        "v2-inputs-url-number",
        "URLs must be strings.",
        pack(v2(inputs=[[0, 0, [5]]])),
        reason="invalid_job_inputs",
        field="inputs",
        schema="reject",
    )
    # Invalid: version 1 keys.
    invalid(
        "v1-missing-scheduler",
        "scheduler is looked up first in version 1.",
        pack(v1(scheduler=DROP, input=DROP), version=1),
        reason=q("jobpack missing key 'scheduler'"),
        field="scheduler",
        schema="reject",
    )
    invalid(
        "v1-missing-input",
        "input is looked up before nr_reduces.",
        pack(v1(input=DROP, nr_reduces=DROP), version=1),
        reason=q("jobpack missing key 'input'"),
        field="input",
        schema="reject",
    )
    invalid(
        "v1-missing-nr-reduces",
        "nr_reduces is required.",
        pack(v1(nr_reduces=DROP), version=1),
        reason=q("jobpack missing key 'nr_reduces'"),
        field="nr_reduces",
        schema="reject",
    )
    invalid(
        "v1-input-object",
        "input must be an array.",
        pack(v1(input={}), version=1),
        reason=q("invalid payload: error:{bad_generator,{struct,[]}}"),
        field="input",
        schema="reject",
    )
    invalid(
        "v1-input-number",
        "Each input must be a URL or a list of URLs.",
        pack(v1(input=[5]), version=1),
        reason=q("invalid payload: error:function_clause"),
        field="input",
        schema="reject",
    )
    invalid(
        "v1-map-string",
        "map? must be a boolean.",
        pack(v1(**{"map?": "yes"}), version=1),
        reason=q("invalid payload: error:function_clause"),
        field="map?",
        schema="reject",
    )

    # Job homes the master accepts but pydisco refuses to extract.
    def unsafe(
        vid: str,
        description: str,
        members: list[tuple],
        entry: str,
        *,
        limits: dict[str, int] | None = None,
        worker: str = "worker.py",
        compression: int = zipfile.ZIP_STORED,
    ) -> None:
        home = make_zip([member("worker.py", WORKER, 0o755), *members], compression)
        add(
            vid,
            description,
            pack(v2(worker=worker), home=home),
            form="binary",
            outcome="unsafe_jobhome",
            entry=entry,
            limits=limits or {},
            schema="accept",
        )

    unsafe("home-dotdot", "Zip slip: an entry named ../evil.", [member("../evil", b"x")], "../evil")
    unsafe(
        "home-nested-dotdot",
        "Zip slip through a subdirectory.",
        [member("a/../../evil", b"x")],
        "a/../../evil",
    )
    unsafe("home-absolute", "An absolute entry name.", [member("/tmp/evil", b"x")], "/tmp/evil")
    unsafe("home-backslash", "A Windows-style ..\\ name.", [member("..\\evil", b"x")], "..\\evil")
    unsafe(
        "home-symlink",
        "A symbolic link entry (type bits 0o120000).",
        [member("link", b"/etc/passwd", 0o777, stat.S_IFLNK)],
        "link",
    )
    unsafe(
        "home-chardev",
        "A character device entry.",
        [member("dev", b"", 0o600, stat.S_IFCHR)],
        "dev",
    )
    unsafe("home-fifo", "A FIFO entry.", [member("fifo", b"", 0o600, stat.S_IFIFO)], "fifo")
    unsafe(
        "home-count-bomb",
        "More entries than allowed (limit 10 for this vector).",
        [member(f"f{i:02}", b"") for i in range(10)],
        "",
        limits={"max_entries": 10},
    )
    unsafe(
        "home-size-bomb",
        "4 MiB of zeros deflated to a few KiB (limit 1 MiB).",
        [member("zeros", b"\0" * (4 << 20))],
        "zeros",
        limits={"max_bytes": 1 << 20},
        compression=zipfile.ZIP_DEFLATED,
    )
    unsafe(
        "home-worker-escapes",
        "The worker path leaves the job home; real Disco would chmod a file outside it.",
        [],
        "../worker.py",
        worker="../worker.py",
    )

    # Zip-form packs and files that are neither form.
    zip_home = [member("worker.py", WORKER, 0o755), member("lib/util.py", b"X = 1\n")]
    zip_form = make_zip(
        [
            member("jobdict.json", json.dumps(v2()).encode()),
            member("jobenvs.json", b'{"LANG": "C"}'),
            member("jobdata", b"payload"),
            *zip_home,
        ]
    )
    add(
        "zipform-v2",
        "A zip-form pack: jobdict.json, jobenvs.json and jobdata at the root, "
        "the rest is the job home.",
        zip_form,
        ext="zip",
        form="zip",
        outcome="valid",
        expected={
            "version": 2,
            "prefix": "Vector",
            "jobenvs": {"LANG": "C"},
            "jobdata_hex": b"payload".hex(),
            "jobhome": home_names,
        },
        lint=[],
        schema="accept",
    )
    add(
        "zipform-v1",
        "A zip-form pack with a version 1 job dict (version inferred from 'input').",
        make_zip([member("jobdict.json", json.dumps(v1()).encode()), *zip_home]),
        ext="zip",
        form="zip",
        outcome="valid",
        expected={
            "version": 1,
            "pipeline": [MAP, MAP_SHUFFLE],
            "jobenvs": {},
            "jobdata_hex": "",
            "jobhome": home_names,
        },
        lint=[],
        schema="accept",
    )
    add(
        "zipform-no-jobdict",
        "A zip without jobdict.json is not a job pack.",
        make_zip(zip_home),
        ext="zip",
        form="zip",
        outcome="not_a_jobpack",
        schema="n/a",
    )
    add(
        "not-a-jobpack",
        "Text is neither form.",
        b"#!/bin/sh\necho hi\n",
        ext="txt",
        form=None,
        outcome="not_a_jobpack",
        schema="n/a",
    )
    add(
        "empty-zip",
        "An empty zip (end record only) has no jobdict.json.",
        make_zip([]),
        ext="zip",
        form="zip",
        outcome="not_a_jobpack",
        schema="n/a",
    )


def main(out_dir: Path = HERE) -> None:
    VECTORS.clear()
    FILES.clear()
    build()
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == len(set(ids)), "duplicate vector ids"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.items():
        (out_dir / name).write_bytes(data)
    index = {
        "description": "Job pack vectors; see ../README.md and ../../jobpack.md.",
        "vectors": VECTORS,
    }
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
