"""Validation rules (facts 7.2, 7.3, 7.4, 16) beyond the vectors: edge cases and types."""

from __future__ import annotations

import io
from typing import Any

import pytest
from jobpack_helpers import write_pack, write_raw

from pydisco import jobpack
from pydisco.jobpack import Grouping, InvalidJobPack, JobInput, PipelineStage, erlprinter
from pydisco.jobpack.validation import convert_v1_pipeline


def v2(**changes: Any) -> dict[str, Any]:
    base = {
        "prefix": "P",
        "owner": "o",
        "worker": "w",
        "pipeline": [["map", "split", False]],
        "inputs": [],
        "scheduler": {},
    }
    base.update(changes)
    return base


def check(jobdict: Any, version: int = 2, jobenvs: Any = None) -> jobpack.JobDict:
    return jobpack.validate(io.BytesIO(write_pack(jobdict, jobenvs, version=version)))


def reason(jobdict: Any, version: int = 2, jobenvs: Any = None) -> str:
    with pytest.raises(InvalidJobPack) as info:
        check(jobdict, version, jobenvs)
    return info.value.reason


def test_typed_jobdict_v2() -> None:
    jd = check(
        v2(
            pipeline=[["a", "split", False], ["b", "group_node_label", True]],
            inputs=[[1, 2, ["http://x/1", "http://y/1"]]],
            scheduler={"max_cores": 3},
            owner=["not", "a", "string"],
        )
    )
    assert jd.pipeline == (
        PipelineStage("a", Grouping.SPLIT),
        PipelineStage("b", Grouping.GROUP_NODE_LABEL, True),
    )
    assert jd.inputs == (JobInput(1, 2, ("http://x/1", "http://y/1")),)
    assert jd.max_cores == 3
    assert jd.owner == '["not","a","string"]'
    assert jd.raw["owner"] == ["not", "a", "string"]
    assert jd.save_info == "ddfs" and jd.save_results is False


def test_duplicate_keys_last_wins() -> None:
    body = (
        b'{"prefix":"a/b","prefix":"ok","owner":"o","worker":"w","pipeline":[],'
        b'"inputs":[],"scheduler":{}}'
    )
    assert jobpack.validate(io.BytesIO(write_raw(body))).prefix == "ok"


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [([65, 66], True), ([65, 47], False), ([65, 46.0], True), (["x"], True), (True, False)],
)
def test_prefix_as_erlang_string(prefix: Any, ok: bool) -> None:
    """The master treats a JSON array prefix as an Erlang string: only codes 47 and 46 fail."""
    if ok:
        assert check(v2(prefix=prefix)).raw["prefix"] == prefix
    else:
        assert reason(v2(prefix=prefix)) in (
            '"invalid prefix"',
            '"invalid payload: error:function_clause"',
        )


def test_prefix_array_gets_lint_warning() -> None:
    pack = io.BytesIO(write_pack(v2(prefix=[65, 66])))
    assert "prefix-not-string" in {w.code for w in jobpack.lint(pack)}


@pytest.mark.parametrize(
    ("save_info", "expected"),
    [
        ("hdfs", None),
        ("ddfs:x", None),
        ("ddf", "invalid_job_save_info"),
        ("", "invalid_job_save_info"),
        ("DDFS", "invalid_job_save_info"),
        ([100, 100, 102, 115], None),
        ([100, 100, 102], "invalid_job_save_info"),
        ([[100, 100], 102, 115], "invalid_job_save_info"),
        (5, '"invalid payload: error:function_clause"'),
        (None, '"invalid payload: error:function_clause"'),
    ],
)
def test_save_info(save_info: Any, expected: str | None) -> None:
    if expected is None:
        check(v2(save_info=save_info))
    else:
        assert reason(v2(save_info=save_info)) == expected


@pytest.mark.parametrize("value", [0, 1, "true", None, []])
def test_save_results_must_be_boolean(value: Any) -> None:
    assert reason(v2(save_results=value)) == "invalid_job_save_results"


def test_max_cores_any_json_is_accepted() -> None:
    jd = check(v2(scheduler={"max_cores": "lots"}))
    assert jd.max_cores == jobpack.DEFAULT_MAX_CORES
    pack = io.BytesIO(write_pack(v2(scheduler={"max_cores": "lots"})))
    assert "max-cores" in {w.code for w in jobpack.lint(pack)}


def test_worker_any_json_is_accepted_but_linted() -> None:
    jd = check(v2(worker=5))
    assert jd.worker == ""
    pack = io.BytesIO(write_pack(v2(worker=5)))
    assert "worker-not-string" in {w.code for w in jobpack.lint(pack)}


def test_v2_booleans_are_not_integers() -> None:
    assert reason(v2(inputs=[[True, 0, []]])) == "invalid_job_inputs"


def test_v2_stage_name_comparison_is_exact() -> None:
    check(v2(pipeline=[["a", "split", False], ["A", "split", False], ["a ", "split", False]]))


def test_v2_grouping_reason_escapes_like_erlang() -> None:
    assert (
        reason(v2(pipeline=[["m", 'x"y', False]]))
        == r'"invalid grouping ' + "'" + r"<<\"x\\\"y\">>" + "'\""
    )
    assert reason(v2(pipeline=[["m", "caf\u00e9", False]])) == (
        '"invalid grouping \'<<\\"caf\u00c3\u00a9\\">>\'"'
    )


def test_unsupported_version_reason() -> None:
    assert reason(v2(), version=65535) == "\"unsupported version '65535'\""


def test_v1_replica_as_character_codes_is_accepted() -> None:
    jd = check(
        {
            "prefix": "p",
            "owner": "o",
            "worker": "w",
            "input": [[[104, 105]]],
            "nr_reduces": 1,
            "scheduler": {},
        },
        version=1,
    )
    assert jd.inputs[0].urls == ("hi",)


@pytest.mark.parametrize("replica", [5, None, {}, [300], 1.5])
def test_v1_bad_replica_is_badarg(replica: Any) -> None:
    jobdict = {
        "prefix": "p",
        "owner": "o",
        "worker": "w",
        "input": [[replica]],
        "nr_reduces": 1,
        "scheduler": {},
    }
    assert reason(jobdict, version=1) == '"invalid payload: error:badarg"'


def test_v1_empty_replica_list_is_an_input_with_no_urls() -> None:
    jobdict = {
        "prefix": "p",
        "owner": "o",
        "worker": "w",
        "input": [[]],
        "nr_reduces": 1,
        "scheduler": {},
    }
    assert check(jobdict, version=1).inputs == (JobInput(0, 0, ()),)


@pytest.mark.parametrize(
    ("flags", "ok"),
    [
        ((False, True, "x", 1), True),  # reduce_shuffle? ignored when nr_reduces is 1
        ((False, True, "x", 2), False),
        ((True, False, "x", "y"), True),
        ((None, False, False, 1), False),
        ((True, 1, False, 1), False),
    ],
)
def test_v1_pipeline_clause_order(flags: tuple[Any, ...], ok: bool) -> None:
    if ok:
        convert_v1_pipeline(*flags)
    else:
        with pytest.raises(InvalidJobPack) as info:
            convert_v1_pipeline(*flags)
        assert info.value.reason == '"invalid payload: error:function_clause"'


def test_v1_input_checked_before_flags() -> None:
    jobdict = {
        "prefix": "p",
        "owner": "o",
        "worker": "w",
        "input": 5,
        "map?": "x",
        "nr_reduces": 1,
        "scheduler": {},
    }
    assert reason(jobdict, version=1) == '"invalid payload: error:{bad_generator,5}"'


def test_envs_object_value_reason() -> None:
    assert reason(v2(), jobenvs={"A": {"b": 1}}) == '"invalid payload: error:badarg"'


def test_jobdict_null_and_string() -> None:
    assert reason(None) == '"invalid payload: error:function_clause"'
    assert reason("x") == '"invalid payload: error:function_clause"'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (1.5, "1.5"),
        ("ab", '<<"ab">>'),
        ("\x01", "<<1>>"),
        ([104, 105], '"hi"'),
        ([], "[]"),
        ([1, "a"], '[1,<<"a">>]'),
        ({"k": [1]}, '{struct,[{<<"k">>,[1]}]}'),
    ],
)
def test_erlang_term_printing(value: Any, text: str) -> None:
    assert erlprinter.term(value) == text


def test_erlang_string_printing() -> None:
    assert erlprinter.string('a "b" \\') == '"a \\"b\\" \\\\"'
    assert erlprinter.string("\x01") == "[1]"


def test_header_rule_helper_matches_validation() -> None:
    good = write_pack(v2())
    header = jobpack.Header.parse(good)
    assert header.is_valid_for(len(good))
    assert not header.is_valid_for(header.jobdata_offset - 1)
    assert header.pack() == good[:128]
    assert jobpack.Header.for_sections(2, 10, 2, 0).jobdata_offset == 140
