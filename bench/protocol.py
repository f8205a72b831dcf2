"""Protocol benchmark: typed frame decoding and encoding, and worker start-up.

Run from the repository root::

    .venv/bin/python bench/protocol.py            # full run
    .venv/bin/python bench/protocol.py --quick    # fewer rounds
    .venv/bin/python bench/protocol.py --instructions   # valgrind instruction counts

1. Frames per second for a realistic mix (a TASK reply, an INPUT reply
   listing 1000 inputs, an OUTPUT), decoded into validated typed messages
   with :class:`~pydisco.protocol.FrameDecoder` and
   :func:`~pydisco.protocol.decode_frame`, against a baseline in the same
   process: naive framing (split on spaces) and the standard library's
   ``json.loads``, with no validation. Encoding likewise:
   :func:`~pydisco.protocol.encode_message` against ``json.dumps`` of a
   ready-made payload. The ratio is typed / baseline (higher is better;
   1.0 means typed is as fast as the untyped baseline). Typed decoding runs
   twice: :func:`~pydisco.protocol.decode_frame` (INPUT replies parsed and
   checked by msgspec) and :func:`~pydisco.protocol.messages.decode_json_frame`
   (the path of nodes without msgspec).
2. Worker start-up: time from spawn to the first INPUT request, over 20
   runs (median and p90), for the example echo worker under the venv's
   Python and under a bare ``python -I -S`` with the shipped runtime in the
   job home, against ``python -c pass`` (and ``python -I -S -c pass``)
   measured in the same run. The child's CPU time (user + system, from
   ``wait4``) is shown too: on a shared machine it is far steadier than the
   wall time, which includes waiting for a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Final

from pydisco import jsoncodec
from pydisco.protocol import (
    Frame,
    FrameDecoder,
    Input,
    InputReply,
    InputStatus,
    MasterSession,
    Ok,
    Output,
    Replica,
    TaskInfo,
    TaskReply,
    decode_frame,
    encode_message,
    messages,
)
from pydisco.protocol.messages import Message, Role

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ECHO_WORKER = os.path.join(REPO, "examples", "workers", "python", "echo_worker.py")

TASK = TaskInfo(
    taskid=17,
    master="http://master.example:8989",
    disco_port=8989,
    put_port=8990,
    ddfs_data="/srv/disco/ddfs",
    disco_data="/srv/disco/data",
    stage="map",
    grouping="split",
    group=(0, "node07"),
    jobfile="/srv/disco/data/node07/c9/WordCount@55f:6a1c2:3b0e5/jobfile",
    jobname="WordCount@55f:6a1c2:3b0e5",
    host="node07",
)


def _blob(node: int, number: int) -> str:
    return f"disco://node{node % 50:02d}/ddfs/vol0/blob/{number % 256:02x}/part-{number}$5f1-2a3"


def mix() -> list[tuple[Message, Role]]:
    """The messages of the mix, each with the side that sends it."""
    inputs = tuple(
        Input(
            number,
            InputStatus.OK,
            number % 8,
            (Replica(0, _blob(number, number)), Replica(1, _blob(number + 7, number))),
        )
        for number in range(1000)
    )
    return [
        (TaskReply(TASK), "master"),
        (InputReply(True, inputs), "master"),
        (Output(3, "5e/map:0-node07-17-5f1a2b3c4d5e6-4242/map-3", 123_456_789), "worker"),
    ]


def _best_rates(*functions: Callable[[], int], rounds: int) -> list[float]:
    """Frames per second of the fastest of ``rounds`` runs of each function, interleaved.

    Interleaving (typed, baseline, typed, ...) exposes all to the same
    background load, so their ratios hold even on a busy machine.
    """
    best = [float("inf")] * len(functions)
    frames = [0] * len(functions)
    for _ in range(rounds):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            frames[index] = function()
            best[index] = min(best[index], time.perf_counter() - start)
    return [count / seconds for count, seconds in zip(frames, best, strict=True)]


def _decode_functions(
    repeat: int,
) -> tuple[Callable[[], int], Callable[[], int], Callable[[], int]]:
    """Typed decoding (msgspec for INPUT replies; JSON only, as on nodes without msgspec)
    and the baseline, of the mix ``repeat`` times over; each returns its frames."""
    mixed = mix()
    wire = b"".join(encode_message(message) for message, _ in mixed) * repeat
    senders: list[Role] = [sender for _, sender in mixed] * repeat
    assert messages.msgspec_input_decoder() is not None, "msgspec is not installed"

    def typed_with(decode: Callable[[Frame, Role], object]) -> Callable[[], int]:
        def typed() -> int:
            decoder = FrameDecoder()
            decoder.receive_data(wire)
            count = 0
            for frame, sender in zip(decoder, senders, strict=True):
                decode(frame, sender)
                count += 1
            return count

        return typed

    def baseline() -> int:
        data = wire
        position = 0
        count = 0
        while position < len(data):
            name_end = data.index(b" ", position)
            length_end = data.index(b" ", name_end + 1)
            length = int(data[name_end + 1 : length_end])
            body = data[length_end + 1 : length_end + 1 + length]
            _ = (data[position:name_end].decode("ascii"), json.loads(body))
            position = length_end + 2 + length
            count += 1
        return count

    typed, typed_json = typed_with(decode_frame), typed_with(messages.decode_json_frame)
    assert typed() == typed_json() == baseline() == len(senders)
    return typed, typed_json, baseline


def bench_decode(rounds: int, repeat: int) -> list[float]:
    """Frames/s: typed with msgspec, typed without it (the nodes' path), baseline."""
    return _best_rates(*_decode_functions(repeat), rounds=rounds)


def bench_encode(rounds: int, repeat: int) -> list[float]:
    sent = [message for message, _ in mix()] * repeat
    payloads = [(message.NAME, message.to_payload()) for message in sent]

    def typed() -> int:
        for message in sent:
            encode_message(message)
        return len(sent)

    def baseline() -> int:
        for name, payload in payloads:
            body = json.dumps(payload).encode("ascii")
            _ = b"%s %d %s\n" % (name.encode("ascii"), len(body), body)
        return len(payloads)

    return _best_rates(typed, baseline, rounds=rounds)


# --- start-up ------------------------------------------------------------------------------


def _spawn_until_input(argv: list[str], home: str) -> tuple[float, float]:
    """Seconds from spawn until the worker's first INPUT request has arrived, and its CPU time."""
    session = MasterSession()
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=home, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdin is not None and process.stdout is not None
    fd = process.stdout.fileno()
    task = TaskInfo(**{**TASK.to_payload(), "group": (0, "node07"), "jobfile": "jobfile"})
    try:
        while True:
            select.select([fd], [], [], 10)
            data = os.read(fd, 65536)
            if not data:
                raise RuntimeError(f"{argv} exited before INPUT")
            session.receive_data(data)
            for message in iter(session.next_event, None):
                if not hasattr(message, "NAME"):
                    break
                if message.NAME == "INPUT":
                    elapsed = time.perf_counter() - start
                    process.kill()
                    return elapsed, _reap(process)
                reply = Ok() if message.NAME == "WORKER" else TaskReply(task)
                process.stdin.write(session.send(reply))
                process.stdin.flush()
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
        process.stdin.close()
        process.stdout.close()


def _reap(process: subprocess.Popen[bytes]) -> float:
    """Wait for ``process``; the CPU seconds (user + system) it used."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def _spawn_pass(argv: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    process = subprocess.Popen(argv)
    cpu = _reap(process)
    return time.perf_counter() - start, cpu


def _summary(samples: list[tuple[float, float]]) -> str:
    ordered = sorted(wall for wall, _ in samples)
    median = statistics.median(ordered) * 1000
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] * 1000
    cpu = statistics.median(cpu for _, cpu in samples) * 1000
    return f"median {median:6.1f} ms   p90 {p90:6.1f} ms   cpu median {cpu:6.1f} ms"


def bench_startup(runs: int) -> list[tuple[str, list[tuple[float, float]]]]:
    from pydisco.worker.runtime import install_runtime

    python = sys.executable
    bare = [python, "-I", "-S"]
    with tempfile.TemporaryDirectory() as home:
        install_runtime(home)
        shutil.copy(ECHO_WORKER, home)
        worker = os.path.join(home, "echo_worker.py")
        cases: list[tuple[str, Callable[[], tuple[float, float]]]] = [
            ("python -c pass", lambda: _spawn_pass([python, "-c", "pass"])),
            ("echo worker, venv python", lambda: _spawn_until_input([python, worker], home)),
            ("python -I -S -c pass", lambda: _spawn_pass([*bare, "-c", "pass"])),
            (
                "echo worker, python -I -S + shipped runtime",
                lambda: _spawn_until_input([*bare, worker], home),
            ),
        ]
        for _, case in cases:  # warm the page cache and write .pyc files
            case()
        results: list[tuple[str, list[tuple[float, float]]]] = [(name, []) for name, _ in cases]
        for _ in range(runs):  # interleaved, so load changes hit every case alike
            for (_, samples), (_, case) in zip(results, cases, strict=True):
                samples.append(case())
    return results


# --- instruction counts (valgrind) ---------------------------------------------------------


def _instructions(argv: list[str]) -> int:
    """Instructions ``argv`` executes, counted by valgrind's callgrind (steady under load)."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no instruction count from valgrind for {argv}")


_DECODE_MODES: Final = ("typed, msgspec", "typed, no msgspec", "baseline")
#: Import the worker and decode one big INPUT reply, which tries to import msgspec
#: (the shipped runtime lacks it): the cost of that failed attempt.
_BIG_REPLY_DECODE: Final = (
    "import pydisco.worker\n"
    "from pydisco.protocol import Frame, decode_frame, messages as m\n"
    "entries = ','.join(['[0,\"ok\",0,[[0,\"%s\"]]]' % ('x' * 1000)] * 800)\n"
    "payload = ('[\"done\",[' + entries + ']]').encode()\n"
    "decode_frame(Frame('INPUT', payload), 'master')\n"
    "assert m.msgspec_input_decoder() is None\n"
)


def bench_instructions() -> None:
    """Instruction counts: decoding per mix (typed vs baseline) and start-up imports."""
    python = sys.executable
    me = os.path.abspath(__file__)
    mixes = 10
    per_mix = {
        mode: (
            _instructions([python, me, "--run-decode", mode, str(mixes)])
            - _instructions([python, me, "--run-decode", mode, "0"])
        )
        / mixes
        for mode in _DECODE_MODES
    }
    print("Instructions (valgrind callgrind; millions):")
    for mode in _DECODE_MODES:
        print(
            f"  decode one mix, {mode:16s} {per_mix[mode] / 1e6:6.2f}"
            f"   ratio baseline / this {per_mix['baseline'] / per_mix[mode]:.2f}"
        )
    bare = [python, "-I", "-S"]
    with tempfile.TemporaryDirectory() as home:
        from pydisco.worker.runtime import install_runtime

        install_runtime(home)
        path = f"import sys; sys.path.insert(0, {home!r}); "
        cases = [
            ("python -c pass", [python, "-c", "pass"]),
            ("python -c 'import attrs'", [python, "-c", "import attrs"]),
            (
                "python: import pydisco.worker (shipped)",
                [python, "-c", path + "import pydisco.worker"],
            ),
            (
                "python: import pydisco.worker, msgspec",
                [python, "-c", path + "import pydisco.worker, msgspec"],
            ),
            ("python -I -S -c pass", [*bare, "-c", "pass"]),
            ("python -I -S: import attrs (shipped)", [*bare, "-c", path + "import attrs"]),
            ("python -I -S: import pydisco.worker", [*bare, "-c", path + "import pydisco.worker"]),
            (
                "python -I -S: pydisco.worker, big INPUT reply",
                [*bare, "-c", path + _BIG_REPLY_DECODE],
            ),
        ]
        for _, argv in cases:  # write the .pyc files first
            subprocess.run(argv, check=True)
        for name, argv in cases:
            print(f"  {name:45s} {_instructions(argv) / 1e6:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with valgrind instead"
    )
    parser.add_argument("--run-decode", nargs=2, metavar=("MODE", "MIXES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_decode:  # one side of --instructions: decode the mix MIXES times
        functions = dict(zip(_DECODE_MODES, _decode_functions(1), strict=True))
        function = functions[args.run_decode[0]]
        for _ in range(int(args.run_decode[1])):
            function()
        return
    if args.instructions:
        bench_instructions()
        return
    rounds, repeat, runs = (5, 10, 10) if args.quick else (25, 20, 20)

    print(f"Python {sys.version.split()[0]}, ujson: {jsoncodec.ujson_available()}")
    print("Frames: TASK reply + INPUT reply (1000 inputs, 2 replicas each) + OUTPUT")
    typed, without, baseline = bench_decode(rounds, repeat)
    print(
        f"  decode  typed {typed:10.0f} frames/s   baseline {baseline:10.0f} frames/s"
        f"   ratio {typed / baseline:.2f}   (no msgspec: {without:10.0f} frames/s,"
        f" ratio {without / baseline:.2f})"
    )
    typed, baseline = bench_encode(rounds, repeat)
    print(
        f"  encode  typed {typed:10.0f} frames/s   baseline {baseline:10.0f} frames/s"
        f"   ratio {typed / baseline:.2f}"
    )
    print(f"Worker start-up: spawn to first INPUT, {runs} runs")
    for name, samples in bench_startup(runs):
        print(f"  {name:45s} {_summary(samples)}")


if __name__ == "__main__":
    main()
