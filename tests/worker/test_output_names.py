"""Output names stay short and safe whatever stage and group the master sends."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pydisco.worker.outputs import MAX_PART, Outputs, bounded_name, task_uid

from .scripted_master import PYTHON, ScriptedMaster, data_input, make_task

BEHAVIOURS = os.path.join(os.path.dirname(__file__), "behaviours.py")
#: The name length most Linux file systems allow, in bytes.
NAME_MAX = 255
ALLOWED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-@:~")


def test_short_names_keep_disco_layout() -> None:
    task = make_task("/home/job", stage="map", group=(3, "node07"), taskid=12)
    assert task_uid(task, 99, 1.5) == "map:3-node07-12-16e360-99"
    assert bounded_name("x" * MAX_PART) == "x" * MAX_PART


def test_huge_group_host_gives_bounded_distinct_uids() -> None:
    raw = "raw://" + "line of raw input data / with: odd \u00e9 chars\n" * 2000
    other = raw[:-1] + "X"
    first = task_uid(make_task("/h", group=(0, raw)), 42, 1.5)
    second = task_uid(make_task("/h", group=(0, other)), 42, 1.5)
    assert len(first.encode()) < 230 and set(first) <= ALLOWED
    assert first != second  # differing only at the very end of the host
    assert first.startswith("map:0-raw:__line_of_raw")
    assert first.endswith("-3-16e360-42")


def test_every_part_is_bounded() -> None:
    task = make_task("/h", stage="s" * 5000, group=(10**400, "h" * 5000), taskid=10**300)
    uid = task_uid(task, 4_194_304, 1e10)
    assert len(uid) < 230 and set(uid) <= ALLOWED


def test_outputs_with_a_huge_group_host_are_created(tmp_path: Any) -> None:
    task = make_task(str(tmp_path), stage="m" * 400, group=(0, "raw://" + "y" * 100_000))
    outputs = Outputs(task, str(tmp_path), pid=7)
    writer = outputs.writer(10**200)
    writer.write(b"data")
    ((label, relative, size),) = outputs.close()
    assert (label, size) == (10**200, 4)
    assert all(len(part.encode()) <= NAME_MAX for part in relative.split("/"))
    with open(os.path.join(str(tmp_path), relative), "rb") as handle:
        assert handle.read() == b"data"


@given(st.text(max_size=600), st.text(max_size=600))
def test_bounded_name_is_safe_short_and_tells_texts_apart(first: str, second: str) -> None:
    name = bounded_name(first)
    assert len(name) <= MAX_PART and set(name) <= ALLOWED
    if first != second and max(len(first), len(second)) > MAX_PART:
        assert name != bounded_name(second)


def test_worker_with_a_raw_sized_group_host_writes_its_output(home: str) -> None:
    host = "raw://" + "a very long raw input that Disco used as the group host " * 300
    task = make_task(home, grouping="group_label", group=(0, host))
    master = ScriptedMaster(
        [PYTHON, BEHAVIOURS, "copy"], home, task, inputs=[data_input(0, "raw://payload\n")]
    )
    run = master.run()
    assert run.protocol_error is None, run.raw
    assert run.closing is not None and run.closing.NAME == "DONE", run.closing
    (output,) = run.named("OUTPUT")
    assert all(len(part) <= NAME_MAX for part in output.location.split("/"))
    with open(os.path.join(home, output.location), "rb") as handle:
        assert handle.read() == b"payload\n"
