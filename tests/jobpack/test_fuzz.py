"""Arbitrary input never escapes the error family, and extraction never escapes its target."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobpack_helpers import write_pack

from pydisco import jobpack
from pydisco.jobpack import InvalidJobPack, JobPackError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
V2_KEYS = [
    "prefix",
    "owner",
    "worker",
    "pipeline",
    "inputs",
    "scheduler",
    "save_results",
    "save_info",
]
V1_KEYS = [
    "prefix",
    "owner",
    "worker",
    "input",
    "map?",
    "reduce?",
    "reduce_shuffle?",
    "nr_reduces",
    "scheduler",
    "save_results",
    "save_info",
]


@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        jobpack.validate(io.BytesIO(data))
    except InvalidJobPack as exc:
        assert exc.reason
    for prefix in (b"\xd5\xc0\x00\x02\x00\x00\x00\x80", b"\xd5\xc0\x00\x01"):
        try:
            jobpack.validate(io.BytesIO(prefix + data))
        except InvalidJobPack as exc:
            assert exc.reason


@given(
    version=st.sampled_from([1, 2]),
    values=st.dictionaries(st.sampled_from(V1_KEYS + V2_KEYS), json_values, max_size=11),
    envs=json_values,
)
def test_arbitrary_job_dicts(version: int, values: dict[str, Any], envs: Any) -> None:
    try:
        jd = jobpack.validate(io.BytesIO(write_pack(values, envs, version=version)))
    except InvalidJobPack as exc:
        assert exc.reason and exc.field
    else:
        assert jd.version == version
        jobpack.lint(io.BytesIO(write_pack(values, envs, version=version)))


@given(
    bools=st.tuples(*[st.sampled_from([True, False, None, 1]) for _ in range(3)]),
    nr=st.sampled_from([0, 1, 2, 1.0, "1", None]),
)
def test_v1_table_oracle(bools: tuple[Any, Any, Any], nr: Any) -> None:
    m, r, rs = bools
    jobdict = {
        "prefix": "p",
        "owner": "o",
        "worker": "w",
        "input": [],
        "nr_reduces": nr,
        "scheduler": {},
        "map?": m,
        "reduce?": r,
        "reduce_shuffle?": rs,
    }
    expected = _oracle(m, r, rs, nr)
    try:
        jd = jobpack.validate(io.BytesIO(write_pack(jobdict, version=1)))
    except InvalidJobPack as exc:
        assert expected is None, exc
        assert exc.reason == '"invalid payload: error:function_clause"'
    else:
        assert expected is not None
        assert [f"{s.name}/{s.grouping.value}" for s in jd.pipeline] == expected


def _oracle(m: Any, r: Any, rs: Any, nr: Any) -> list[str] | None:
    """facts 7.4, rows tried in order; None when no row matches."""
    one = type(nr) is int and nr == 1
    head = ["map/split", "map_shuffle/group_node"]
    rows = [
        (m is False and r is False, []),
        (m is False and r is True and one, ["reduce/group_all"]),
        (
            m is False and r is True and rs is True,
            ["reduce/group_label", "reduce_shuffle/group_node"],
        ),
        (m is False and r is True and rs is False, ["reduce/group_label"]),
        (m is True and r is False, head),
        (m is True and r is True and one, [*head, "reduce/group_all"]),
        (
            m is True and r is True and rs is True,
            [*head, "reduce/group_label", "reduce_shuffle/group_node"],
        ),
        (m is True and r is True and rs is False, [*head, "reduce/group_label"]),
    ]
    for matches, stages in rows:
        if matches:
            return stages
    return None


segment = st.sampled_from(["a", "b", "..", ".", "", "/", "\\", "c:", "x..y"])


@given(
    names=st.lists(st.lists(segment, min_size=1, max_size=4).map("/".join), max_size=5),
    kinds=st.lists(st.sampled_from([stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, 0]), max_size=5),
)
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_extraction_stays_inside(names: list[str], kinds: list[int]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("worker", b"w")
        for name, kind in zip(names, kinds, strict=False):
            info = zipfile.ZipInfo(name or "x")
            info.external_attr = (kind | 0o644) << 16
            archive.writestr(info, b"data")
    data = write_pack(
        {
            "prefix": "p",
            "owner": "o",
            "worker": "worker",
            "pipeline": [],
            "inputs": [],
            "scheduler": {},
        },
        jobhome=buffer.getvalue(),
    )
    with tempfile.TemporaryDirectory() as root:
        dest = Path(root, "dest")
        with contextlib.suppress(JobPackError):
            jobpack.extract_jobhome(io.BytesIO(data), dest)
        for path in Path(root).rglob("*"):
            assert path == dest or dest in path.parents
            assert not path.is_symlink()
        assert sorted(os.listdir(root)) in ([], ["dest"])
