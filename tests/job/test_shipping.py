"""Code shipping: a built job home runs its launcher under a bare interpreter (-I -S)."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.wordcount import wordcount
from pydisco.job.launcher import LAUNCHER_NAME, decode_jobdata, encode_jobdata
from pydisco.job.packing import build_job_home, write_job_pack
from pydisco.job.records import JsonFormat
from pydisco.job.sources import Source
from tests.job.failing_job import failing
from tests.processes import environment, run
from tests.worker.scripted_master import ScriptedMaster, data_input, make_task, write_jobfile

BARE = [sys.executable, "-I", "-S"]


def _home(tmp_path: Path, job: Any, target: str, params: Any = None) -> str:
    home = tmp_path / "home"
    build_job_home(job, target, str(home))
    write_jobfile(str(home / "jobfile"), encode_jobdata(target, params))
    return str(home)


def _run(home: str, stage: str, grouping: str, inputs: list[Any], label: int = 0) -> Any:
    task = make_task(home, stage=stage, grouping=grouping, group=(label, "nodeA"))
    master = ScriptedMaster([*BARE, os.path.join(home, LAUNCHER_NAME)], home, task, inputs=inputs)
    return master.run(timeout=60)


def _outputs(home: str, run: Any) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for message in run.named("OUTPUT"):
        data = Path(home, message.location).read_bytes()
        found.setdefault(message.label, []).extend(JsonFormat().records([data]))
    return found


def test_bare_interpreter_runs_map_then_reduce(tmp_path: Path) -> None:
    home = _home(tmp_path, wordcount, "examples.jobs.wordcount:wordcount")
    assert Path(home, "examples", "jobs", "wordcount.py").is_file()
    assert Path(home, "pydisco", "job", "launcher.py").is_file()
    assert os.access(Path(home, LAUNCHER_NAME), os.X_OK)
    mapped = _run(home, "map", "split", [data_input(0, "raw://b a b\nc b\n")])
    assert mapped.closing.NAME == "DONE", mapped.raw.decode(errors="replace")[-3000:]
    outputs = _outputs(home, mapped)
    assert set(outputs) <= {0, 1, 2, 3}
    assert sorted(p for ps in outputs.values() for p in ps) == [("a", 1), ("b", 3), ("c", 1)]
    reduce_inputs = [
        data_input(i, f"file://{Path(home, m.location)}", label=m.label)
        for i, m in enumerate(mapped.named("OUTPUT"))
    ]
    for label in outputs:
        mine = [entry for entry in reduce_inputs if entry.label == label]
        reduced = _run(home, "reduce", "group_label", mine, label)
        assert reduced.closing.NAME == "DONE"
        assert sorted(_outputs(home, reduced)[label]) == sorted(outputs[label])


def test_user_error_reaches_fatal_with_traceback_stage_task_and_input(tmp_path: Path) -> None:
    home = _home(tmp_path, failing, "tests.job.failing_job:failing")
    run = _run(home, "map", "split", [data_input(0, "raw://a 1\nb 0\n")])
    assert run.closing.NAME == "FATAL"
    text = run.closing.text
    assert "ZeroDivisionError" in text
    assert "failing_job.py" in text and "100 // int(number)" in text  # the user's traceback
    assert "stage 'map', task 3" in text
    assert "raw://a 1" in text


def test_params_travel_in_the_job_data() -> None:
    data = decode_jobdata(encode_jobdata("m:j", {"k": [1, 2]}, {"u": "json"}))
    assert data["params"] == {"k": [1, 2]} and data["input_formats"] == {"u": "json"}
    pickled = decode_jobdata(encode_jobdata("m:j", (1, {2})))
    assert "params_pickle" in pickled
    from pydisco.job.launcher import decode_params

    assert decode_params(pickled) == (1, {2})
    with pytest.raises(ValueError):
        decode_jobdata(b"\x80\x04junk")


def test_job_pack_is_valid_and_names_the_launcher(tmp_path: Path) -> None:
    from pydisco import jobpack

    buffer = io.BytesIO()
    sources = [Source(("raw://a b",)), Source(("http://h/x.jsonl",), "json", label=2)]
    write_job_pack(buffer, wordcount, sources, target="examples.jobs.wordcount:wordcount")
    path = tmp_path / "wc.pack"
    path.write_bytes(buffer.getvalue())
    jobpack.validate(str(path))  # as the master checks it
    data = buffer.getvalue()
    envs_offset = int.from_bytes(data[8:12], "big")
    jobdict = json.loads(data[128:envs_offset])
    assert jobdict["worker"] == LAUNCHER_NAME
    assert jobdict["pipeline"] == [["map", "split", False], ["reduce", "group_label", False]]
    assert jobdict["inputs"] == [[0, 0, ["raw://a b"]], [2, 0, ["http://h/x.jsonl"]]]
    offset = int.from_bytes(data[16:20], "big")
    jobdata = decode_jobdata(data[offset:])
    assert jobdata["target"] == "examples.jobs.wordcount:wordcount"
    assert jobdata["input_formats"] == {"http://h/x.jsonl": "json"}
    home_offset = int.from_bytes(data[12:16], "big")
    names = zipfile.ZipFile(io.BytesIO(data[home_offset:offset])).namelist()
    assert LAUNCHER_NAME in names and "examples/jobs/wordcount.py" in names
    assert "attr/__init__.py" in names and "pydisco/worker/run.py" in names


def test_every_module_of_the_job_api_imports_from_the_shipped_runtime(tmp_path: Path) -> None:
    """A job module may import any part of ``pydisco.job`` (``remote``, ``runners``...) at
    its top: in a task that import comes from the job home's runtime alone."""
    import pydisco.job

    home = _home(tmp_path, wordcount, "examples.jobs.wordcount:wordcount")
    names = sorted(
        f"pydisco.job.{path.stem}"
        for path in Path(pydisco.job.__file__).parent.glob("*.py")
        if path.stem != "__init__"
    )
    program = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {home!r})\n"
        f"for name in {names!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({home!r}), module.__file__\n"
        "print('imported all')\n"
    )
    done = run([*BARE, "-c", program], env=environment(), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "imported all\n"
    assert len(names) > 10
