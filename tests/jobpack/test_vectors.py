"""The job pack vectors in protocol-spec/vectors/jobpack, read with the library."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pydisco import jobpack
from pydisco.jobpack import InvalidJobPack, JobPack, NotAJobPack, UnsafeJobHome

SPEC = Path(__file__).resolve().parents[2] / "protocol-spec"
VECTOR_DIR = SPEC / "vectors" / "jobpack"
INDEX = json.loads((VECTOR_DIR / "index.json").read_text())
VECTORS = INDEX["vectors"]
SCHEMAS = {
    version: json.loads((SPEC / "schemas" / f"jobdict-v{version}.json").read_text())
    for version in (1, 2)
}


def by_outcome(*outcomes: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["outcome"] in outcomes]


def load(vector: dict[str, Any]) -> bytes:
    return (VECTOR_DIR / vector["file"]).read_bytes()


def binary_of(vector: dict[str, Any]) -> io.BytesIO:
    data = load(vector)
    if vector["form"] == "zip":
        out = io.BytesIO()
        jobpack.zip_form_to_binary(io.BytesIO(data), out)
        out.seek(0)
        return out
    return io.BytesIO(data)


def test_vector_ids_are_unique_and_files_exist() -> None:
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == len(set(ids))
    for vector in VECTORS:
        assert (VECTOR_DIR / vector["file"]).is_file()


def test_generator_reproduces_the_checked_in_vectors(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("jobpack_generate", VECTOR_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    assert json.loads((tmp_path / "index.json").read_text()) == INDEX
    for vector in VECTORS:
        if vector["id"].endswith("size-bomb"):
            continue  # deflate output may differ between zlib versions
        assert (tmp_path / vector["file"]).read_bytes() == load(vector), vector["id"]


@pytest.mark.parametrize("vector", by_outcome("valid"))
def test_valid_vector(vector: dict[str, Any]) -> None:
    with JobPack(binary_of(vector)) as pack:
        jd = pack.jobdict
        expected = vector["expected"]
        simple = ("version", "prefix", "worker", "max_cores", "save_results", "save_info")
        for key in simple:
            if key in expected:
                assert getattr(jd, key) == expected[key], key
        if "pipeline" in expected:
            assert [s.to_json() for s in jd.pipeline] == expected["pipeline"]
        if "inputs" in expected:
            got = [[i.label, i.size_hint, list(i.urls), i.is_dir] for i in jd.inputs]
            assert got == expected["inputs"]
        if "jobenvs" in expected:
            assert pack.jobenvs == expected["jobenvs"]
        if "jobdata_hex" in expected:
            assert pack.read_jobdata().hex() == expected["jobdata_hex"]
        if expected.get("jobhome"):
            assert [e.name for e in pack.jobhome_entries()] == expected["jobhome"]
        assert sorted({w.code for w in jobpack.lint(pack)}) == vector["lint"]


@pytest.mark.parametrize("vector", by_outcome("invalid"))
def test_invalid_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobPack) as info:
        jobpack.validate(io.BytesIO(load(vector)))
    reason = info.value.reason
    match = vector["reason_match"]
    if match == "exact":
        assert reason == vector["reason"]
    elif match == "prefix":
        assert reason.startswith(vector["reason"].rstrip('"'))
    else:
        assert vector["reason"] in reason
    assert info.value.field == vector["field"]
    words = {"jobenvs": "job env", "jobdict": "job dict"}
    assert words.get(vector["field"], vector["field"]) in str(info.value)


@pytest.mark.parametrize("vector", by_outcome("unsafe_jobhome"))
def test_unsafe_jobhome_vector(vector: dict[str, Any], tmp_path: Path) -> None:
    dest = tmp_path / "home"
    with JobPack(io.BytesIO(load(vector))) as pack:
        with pytest.raises(UnsafeJobHome) as info:
            pack.extract_jobhome(dest, **vector["limits"])
        assert info.value.entry == vector["entry"]
        assert (
            any(w.code in ("jobhome-unsafe", "worker-path") for w in jobpack.lint(pack))
            or (vector["limits"])
        )
    # Nothing is left behind, and nothing was written outside the target.
    assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["home"])


@pytest.mark.parametrize("vector", by_outcome("not_a_jobpack"))
def test_not_a_jobpack_vector(vector: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / vector["file"]
    shutil.copy(VECTOR_DIR / vector["file"], path)
    if vector["form"] is None:
        with pytest.raises(NotAJobPack):
            jobpack.detect_form(path)
    else:
        assert jobpack.detect_form(path) == vector["form"]
    with pytest.raises(NotAJobPack), jobpack.open_binary(path):
        pass


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=v["id"]) for v in VECTORS if v["schema"] != "n/a"]
)
def test_jobdict_schema_agrees(vector: dict[str, Any]) -> None:
    """The JSON Schemas accept exactly the job dicts validate() accepts (where they can tell)."""
    if vector["form"] == "zip":
        with JobPack(binary_of(vector)) as pack:
            raw, version = pack.raw_jobdict, pack.header.version
    else:
        with JobPack(io.BytesIO(load(vector)), strict=False) as pack:
            raw, version = pack.raw_jobdict, pack.header.version
    errors = list(jsonschema.Draft202012Validator(SCHEMAS[version]).iter_errors(raw))
    assert (not errors) == (vector["schema"] == "accept"), [e.message for e in errors]
    accepted = vector["outcome"] != "invalid"
    assert accepted == (vector["schema"] == "accept")


def test_schemas_are_valid_schemas() -> None:
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
