"""Worker-side CPU of one task: start-up imports, a word count reduce task and a map task.

    .venv/bin/python bench/worker_task.py                         # this tree only
    .venv/bin/python bench/worker_task.py --before /tmp/before    # against another checkout

The data is what ``bench/wordcount.py`` counts: deterministic Zipf-like text
(``--size-mib``, default 50), cut into ``--map-tasks`` (default 2) map tasks of
``examples/jobs/wordcount.py:wordcount`` (a copy written with
``--partitions``, default 2, so every tree runs the same job) run inline once
to make the map outputs; the reduce task measured is partition 0's, over
every map task's output, as the bundled master runs it. Each measurement is
a fresh child process with ``PYTHONPATH`` set to the tree measured (so
``--before`` runs another checkout's pydisco, e.g. ``git archive BASE | tar
-x -C /tmp/before``); the child reports the CPU (``time.process_time``) of

- ``imports``: what a worker imports before it runs user code
  (``pydisco.job.launcher``, ``pydisco.worker.run``, ``pydisco.job.execute``),
  and the decoding of a one-input INPUT reply (which may import a decoder);
- ``reduce``: the reduce task (``run_task_stage``: read, sort, group, call
  ``total``, write);
- ``map`` (with ``--map-mib N``): one map task over the first N MiB of the text;

and the parent adds the child's whole CPU from ``wait4`` (interpreter start
included). Rounds alternate the trees (the order reversed every other round);
medians are printed with the ratio after/before. The outputs of both trees
are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
t0 = time.process_time()
import pydisco.job.launcher, pydisco.worker.run, pydisco.job.execute
from pydisco.protocol import Frame, decode_frame
decode_frame(Frame("INPUT", b'["done",[[0,"ok",0,[[0,"file:///in"]]]]]'), "master")
t1 = time.process_time()
from pydisco.job.execute import RunSpec, run_task_stage
kind, job_dir, out_dir, fmt = sys.argv[1:5]
paths = sys.argv[5:]
sys.path.insert(0, job_dir)
from wcjob import wordcount

class Info:
    taskid = 0
    group_label = 0
    stage = "reduce" if kind == "reduce" else "map"

class Input:
    def __init__(self, path):
        self.url = "file://" + path
        self.format = fmt
        self.path = path
    def chunks(self):
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk

class Writer:
    def __init__(self, path):
        self.handle = open(path, "wb")
    def write(self, data):
        return self.handle.write(data)

class Task:
    info = Info()
    def __init__(self):
        self.writers = {}
    def inputs(self):
        return iter([Input(p) for p in paths])
    def output(self, label=0):
        if label not in self.writers:
            self.writers[label] = Writer(os.path.join(out_dir, f"out-{label}"))
        return self.writers[label]

task = Task()
t2 = time.process_time()
run_task_stage(wordcount, wordcount.stage(Info.stage), task, RunSpec(tmpdir=out_dir + "-sort"))
for writer in task.writers.values():
    writer.handle.close()
t3 = time.process_time()
print(json.dumps({"imports": t1 - t0, "task": t3 - t2}))
"""


JOB = """
from collections import Counter
from itertools import chain

from pydisco.job import map_reduce


def count_words(lines):
    counts = Counter()
    counts.update(chain.from_iterable(map(str.split, lines)))
    return counts.items()


def total(word, counts):
    yield word, sum(counts)


wordcount = map_reduce(task=count_words, reduce=total, partitions=PARTITIONS)
"""


def _prepare(
    work: Path, size_mib: int, map_tasks: int, map_mib: int, partitions: int
) -> tuple[str, list[str], str]:
    """The job's directory, the map outputs of partition 0 and a text of ``map_mib`` MiB."""
    sys.path.insert(0, str(ROOT))
    import attrs

    from bench.wordcount import generate
    from pydisco.job.inline import InlineRunner

    job_dir = work / f"job-{partitions}"
    job_dir.mkdir(exist_ok=True)
    (job_dir / "wcjob.py").write_text(JOB.replace("PARTITIONS", str(partitions)))
    sys.path.insert(0, str(job_dir))
    from wcjob import wordcount  # type: ignore[import-not-found]

    text = generate(work / "data", size_mib)
    inline = work / f"inline-{size_mib}-{map_tasks}-{partitions}"
    if not inline.exists():
        job = attrs.evolve(wordcount, map_tasks=map_tasks)
        InlineRunner(str(inline)).run(job, [str(text)], original=wordcount)
    (run,) = inline.iterdir()
    inputs = sorted(str(p / "out-0") for p in run.iterdir() if p.name.startswith("map-"))
    piece = work / "data" / f"map-{map_mib}MiB.txt"
    with open(text, "rb") as src, open(piece, "wb") as dst:
        dst.write(src.read(map_mib << 20))
    return str(job_dir), inputs, str(piece)


def _child(
    tree: str, kind: str, job_dir: str, out: Path, fmt: str, paths: list[str]
) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, job_dir, str(out), fmt, *paths],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    data = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"the child for {tree} failed ({status})")
    figures: dict[str, float] = json.loads(data)
    figures["process"] = usage.ru_utime + usage.ru_stime
    return figures


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="another checkout (a directory holding pydisco/)")
    parser.add_argument("--size-mib", type=int, default=50)
    parser.add_argument("--map-tasks", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=2, help="of the word count job")
    parser.add_argument("--map-mib", type=int, default=0, help="also a map task over N MiB")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--keep", help="work in this directory and keep it (data is reused)")
    args = parser.parse_args()
    trees = {"after": str(ROOT)}
    if args.before:
        trees = {"before": os.path.abspath(args.before), **trees}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-worker-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        job_dir, inputs, piece = _prepare(
            work, args.size_mib, args.map_tasks, max(args.map_mib, 1), args.partitions
        )
        records = sum(Path(p).read_bytes().count(b"\n") for p in inputs)
        print(f"reduce task: {len(inputs)} inputs, {records} records; rounds {args.rounds}")
        kinds = [("reduce", "json", inputs)]
        if args.map_mib:
            kinds.append(("map", "lines", [piece]))
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        seen: dict[str, dict[str, bytes]] = {}
        names = list(trees)
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                for kind, fmt, paths in kinds:
                    out = work / f"out-{name}-{kind}"
                    figures = _child(trees[name], kind, job_dir, out, fmt, paths)
                    results.setdefault((name, kind), []).append(figures)
                    produced = _outputs(out)
                    first = seen.setdefault(kind, produced)
                    if produced != first:
                        raise SystemExit(f"{name}'s {kind} output differs from the first tree's")
        for kind, _fmt, _paths in kinds:
            print(f"\n{kind} task (CPU seconds, medians)")
            print(f"{'tree':8} {'imports':>9} {'task':>9} {'process':>9}")
            medians = {}
            for name in names:
                rows = results[(name, kind)]
                medians[name] = {
                    field: statistics.median(r[field] for r in rows)
                    for field in ("imports", "task", "process")
                }
                m = medians[name]
                print(f"{name:8} {m['imports']:9.4f} {m['task']:9.4f} {m['process']:9.4f}")
            if "before" in medians:
                b, a = medians["before"], medians["after"]
                print(
                    f"{'a/b':8} {a['imports'] / b['imports']:9.2f} {a['task'] / b['task']:9.2f}"
                    f" {a['process'] / b['process']:9.2f}"
                )
        print("\noutputs identical across trees: yes")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
