"""The master's submit schema: the spec file is SUBMIT_SCHEMA, and check_submit evaluates it.

jsonschema (a test dependency) is the oracle: on generated job dicts and job
envs, check_submit refuses exactly what jsonschema's draft 2020-12 validator
refuses, so the schema in protocol-spec/ is the one rule the master applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.jobpack import InvalidJobPack
from pydisco.jobpack.submit import SUBMIT_SCHEMA, check_submit, schema_text

SPEC_FILE = Path(__file__).resolve().parents[2] / "protocol-spec/schemas/jobdict-submit.json"
VALIDATOR = jsonschema.Draft202012Validator(SUBMIT_SCHEMA)
GOOD = {
    "prefix": "Job",
    "owner": "me@host",
    "worker": "worker.py",
    "pipeline": [["map", "split", False]],
    "inputs": [[0, 0, ["raw://x"]]],
    "scheduler": {"max_cores": 4},
}


def test_spec_file_is_the_schema() -> None:
    assert SPEC_FILE.read_text() == schema_text(), (
        "regenerate with: python -c 'from pydisco.jobpack.submit import schema_text; "
        'print(schema_text(), end="")\' > protocol-spec/schemas/jobdict-submit.json'
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(SPEC_FILE.read_text()))


def test_a_sound_job_dict_passes() -> None:
    check_submit(GOOD, {"PATH_EXTRA": "/x", "LANG": "C"})


BAD: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("worker-int", {"worker": 7}, {}, "worker", "type"),
    ("worker-null", {"worker": None}, {}, "worker", "type"),
    ("worker-empty", {"worker": ""}, {}, "worker", "minLength"),
    ("owner-object", {"owner": {"a": 1}}, {}, "owner", "type"),
    ("max-cores-string", {"scheduler": {"max_cores": "lots"}}, {}, "scheduler.max_cores", "type"),
    ("max-cores-float", {"scheduler": {"max_cores": 1.5}}, {}, "scheduler.max_cores", "type"),
    ("max-cores-zero", {"scheduler": {"max_cores": 0}}, {}, "scheduler.max_cores", "minimum"),
    ("max-cores-negative", {"scheduler": {"max_cores": -1}}, {}, "scheduler.max_cores", "minimum"),
    ("prefix-array", {"prefix": ["a"]}, {}, "prefix", "type"),
    ("prefix-long", {"prefix": "p" * 240}, {}, "prefix", "maxLength"),
    ("prefix-control", {"prefix": "a\nb"}, {}, "prefix", "pattern"),
    ("label-negative", {"inputs": [[-5, 0, ["raw://x"]]]}, {}, "inputs.0.0", "minimum"),
    ("label-huge", {"inputs": [[10**30, 0, ["raw://x"]]]}, {}, "inputs.0.0", "maximum"),
    ("url-number", {"inputs": [[0, 0, [7]]]}, {}, "inputs.0.2.0", "type"),
    ("stage-empty-name", {"pipeline": [["", "split", False]]}, {}, "pipeline.0.0", "minLength"),
    ("env-equals", {}, {"A=B": "1"}, "jobenvs", "propertyNames pattern"),
    ("env-nul-name", {}, {"A\0": "1"}, "jobenvs", "propertyNames pattern"),
    ("env-nul-value", {}, {"A": "x\0y"}, "A", "pattern"),
]


@pytest.mark.parametrize(
    ("change", "envs", "field", "rule"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_each_rule_names_field_and_rule(
    change: dict[str, Any], envs: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidJobPack) as info:
        check_submit({**GOOD, **change}, envs)
    assert info.value.field == field
    assert info.value.check == rule
    assert f"rule '{rule}'" in str(info.value)
    assert not VALIDATOR.is_valid({"jobdict": {**GOOD, **change}, "jobenvs": envs})


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([0, 1, -1, 2**31, 2**31 + 1, 2**63, 1.5, -0.5])
    | st.text(max_size=6)
    | st.sampled_from(["", "a=b", "a\0", "x" * 60, "raw://a b", "a/b", "a.b", "ok"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "prefix": values,
        "owner": values,
        "worker": values,
        "pipeline": st.lists(
            st.lists(values, max_size=4) | st.tuples(values, values, values).map(list), max_size=3
        ),
        "inputs": st.lists(
            st.tuples(values, values, st.lists(values, max_size=3)).map(list) | values, max_size=3
        ),
        "scheduler": st.fixed_dictionaries({}, optional={"max_cores": values}) | values,
    },
)
envs = st.dictionaries(st.text(max_size=5) | st.sampled_from(["A=B", "\0", ""]), values, max_size=3)


@settings(max_examples=300)
@given(fields, envs)
def test_check_submit_agrees_with_jsonschema(changes: dict[str, Any], jobenvs: Any) -> None:
    jobdict = {**GOOD, **changes}
    expected = VALIDATOR.is_valid({"jobdict": jobdict, "jobenvs": jobenvs})
    try:
        check_submit(jobdict, jobenvs)
    except InvalidJobPack as exc:
        assert not expected, str(exc)
        assert exc.field and exc.check
    else:
        assert expected, [
            e.message for e in VALIDATOR.iter_errors({"jobdict": jobdict, "jobenvs": jobenvs})
        ]


def test_inspect_validate_applies_the_submit_schema(tmp_path: Path) -> None:
    import io
    import zipfile

    from click.testing import CliRunner
    from jobpack_helpers import write_pack

    from pydisco.cli.main import cli

    home = io.BytesIO()
    with zipfile.ZipFile(home, "w") as archive:
        archive.writestr("worker.py", "#!/bin/sh\n")
    path = tmp_path / "job.pack"
    path.write_bytes(write_pack({**GOOD, "scheduler": {"max_cores": 0}}, jobhome=home.getvalue()))
    result = CliRunner().invoke(cli, ["inspect", "--validate", str(path)])
    assert result.exit_code == 1
    assert "scheduler.max_cores must be at least 1" in result.stderr
    path.write_bytes(write_pack(GOOD, jobhome=home.getvalue()))
    assert CliRunner().invoke(cli, ["inspect", "--validate", str(path)]).exit_code == 0
