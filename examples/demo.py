"""``make demo``: a word count, end to end, on the bundled reference master.

1. Generate a few MB of deterministic text (seeded PRNG, Zipf-like word
   frequencies) into a temporary directory, split into several input files.
2. Build a job pack whose job home is ``examples/wordcount/worker.py`` plus
   the pure-Python worker runtime, with the pipeline ``map:split``,
   ``reduce:group_label``.
3. Start a reference master in this process on a free loopback port, submit
   the pack with :class:`pydisco.client.Master`, show progress while waiting,
   read the results (``dir://`` indexes, then the data) and print the top 10
   words.

Run it with ``make demo`` or ``.venv/bin/python examples/demo.py``;
``--bytes-per-file N`` makes the input smaller or larger (the test runs it small).
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pydisco.client import JobInfo, Master
from pydisco.jobpack import build_jobpack
from pydisco.master import ReferenceMaster
from pydisco.worker.runtime import install_runtime

HERE = Path(__file__).resolve().parent
WORKER = HERE / "wordcount" / "worker.py"

SEED = 5_4_2014
INPUT_FILES = 6
BYTES_PER_FILE = 700_000
VOCABULARY = 5000
PARTITIONS = 4


def vocabulary(rng: random.Random) -> list[str]:
    """Pronounceable pseudo-words, all distinct."""
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        syllables = rng.randint(1, 4)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


def generate_inputs(directory: Path, bytes_per_file: int = BYTES_PER_FILE) -> list[Path]:
    """Write the input files; the same seed always gives the same bytes."""
    rng = random.Random(SEED)
    words = vocabulary(rng)
    rng.shuffle(words)
    weights = [1.0 / rank for rank in range(1, len(words) + 1)]  # Zipf's law, s = 1
    paths = []
    for number in range(INPUT_FILES):
        lines, size = [], 0
        while size < bytes_per_file:
            line = " ".join(rng.choices(words, weights, k=rng.randint(6, 14)))
            lines.append(line)
            size += len(line) + 1
        path = directory / f"part-{number:02d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        paths.append(path)
    return paths


def build_pack(home: Path, inputs: list[Path]) -> io.BytesIO:
    home.mkdir()
    shutil.copy(WORKER, home / "worker.py")
    install_runtime(str(home))
    pack = io.BytesIO()
    build_jobpack(
        pack,
        home,
        worker="worker.py",
        inputs=[path.as_uri() for path in inputs],
        pipeline=["map:split", "reduce:group_label"],
        prefix="WordCount",
        jobenvs={"WORDCOUNT_PARTITIONS": str(PARTITIONS)},
    )
    pack.seek(0)
    return pack


class ProgressPrinter:
    """Prints a line whenever a stage's counts change."""

    def __init__(self) -> None:
        self.last: object = None

    def __call__(self, info: JobInfo) -> None:
        state = info.stages
        if state == self.last:
            return
        self.last = state
        counts = "  ".join(f"{s.stage}: {s.done} done, {s.running} running" for s in info.stages)
        print(f"  [{info.status}] {counts}", flush=True)


def read_counts(master: Master, name: str) -> dict[str, int]:
    """The job's results (``word<TAB>count`` lines) as a dict; a word seen twice is an error."""
    counts: dict[str, int] = {}
    for line in master.iter_result_lines(name):
        word, _, number = line.decode("utf-8").rstrip("\n").rpartition("\t")
        if word in counts:
            raise SystemExit(f"demo: {word!r} appears in two reduce outputs")
        counts[word] = int(number)
    return counts


def expected_counts(inputs: list[Path]) -> Counter[str]:
    """The same count, done in this process: the demo checks the job against it."""
    counts: Counter[str] = Counter()
    for path in inputs:
        counts.update(path.read_text(encoding="ascii").split())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A word count on the bundled master.")
    parser.add_argument(
        "--bytes-per-file",
        type=int,
        default=BYTES_PER_FILE,
        help=f"size of each of the {INPUT_FILES} input files (default {BYTES_PER_FILE})",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pydisco-demo-") as temp:
        root = Path(temp)
        (root / "inputs").mkdir()
        inputs = generate_inputs(root / "inputs", args.bytes_per_file)
        size = sum(path.stat().st_size for path in inputs)
        print(f"Generated {size / 1e6:.1f} MB of text in {len(inputs)} files.")
        pack = build_pack(root / "home", inputs)
        print(
            f"Built a {len(pack.getvalue()) / 1e3:.0f} kB job pack (map:split, reduce:group_label)."
        )
        with (
            ReferenceMaster.start_in_thread(root / "data") as handle,
            Master(handle.url) as master,
        ):
            print(f"Reference master listening at {handle.url}")
            name = master.submit(pack)
            print(f"Submitted {name}; waiting for it:")
            master.wait(name, poll_interval=0.25, timeout=120, on_progress=ProgressPrinter())
            counts = read_counts(master, name)
        expected = expected_counts(inputs)
    if counts != expected:
        wrong = sorted(set(counts.items()) ^ set(expected.items()))[:5]
        print(f"\nThe job's counts differ from a single-process count, e.g. {wrong}")
        return 1
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    print(f"\nTop 10 of {len(counts)} distinct words (checked against a single-process count):")
    width = max(len(word) for word, _ in top)
    for rank, (word, number) in enumerate(top, 1):
        print(f"  {rank:2d}. {word:<{width}}  {number}")
    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
