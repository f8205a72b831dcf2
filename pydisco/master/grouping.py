"""Outputs of one stage, and how a grouping turns them into the next stage's tasks.

An *output* is either a data output (a label, a size and replica URLs) or a dir
output (a results index on a host, with the labels it holds). A grouping
(facts §10.1) maps outputs to groups ``(label, host)``, each with the inputs
its task will be given. Everything here is pure: no I/O, no clocks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from pydisco.master.layout import url_host
from pydisco.protocol.messages import ALL_LABELS

__all__ = [
    "AssignedInput",
    "DataOutput",
    "DirOutput",
    "GroupKey",
    "Output",
    "OutputRef",
    "group_outputs",
    "output_urls",
]

Label: TypeAlias = int | Literal["all"]
#: Which output: (producing task id, or -1 for job inputs; output index).
OutputId: TypeAlias = tuple[int, int]


@attrs.frozen
class DataOutput:
    """A data output: one label, a size, and its replica URLs."""

    label: int
    size: int
    urls: tuple[str, ...]

    def hosts(self) -> list[str]:
        """The host of each replica URL."""
        return [url_host(url) for url in self.urls]


@attrs.frozen
class DirOutput:
    """A results index (``dir://``) on ``host``, with the total size per label it lists."""

    host: str
    url: str
    labels: tuple[tuple[int, int], ...]

    def label_set(self) -> list[int]:
        """The labels the index holds, ascending."""
        return sorted({label for label, _ in self.labels})


Output: TypeAlias = DataOutput | DirOutput


@attrs.frozen
class OutputRef:
    """An output together with its id in the job."""

    oid: OutputId
    output: Output


@attrs.frozen
class AssignedInput:
    """One input as a task's INPUT reply lists it: a label and its replica URLs."""

    source: OutputId
    label: Label
    urls: tuple[str, ...]


#: A group key: a (label, host) pair, or for ``split`` also the output id.
GroupKey: TypeAlias = tuple[Any, ...]


def output_urls(output: Output) -> list[str]:
    """The replica list of an output, as results report it."""
    if isinstance(output, DirOutput):
        return [output.url]
    return list(output.urls)


def _host_of(output: Output, rng: random.Random) -> str:
    if isinstance(output, DirOutput):
        return output.host
    hosts = output.hosts()
    return rng.choice(hosts) if hosts else ""


def group_outputs(
    grouping: str, outputs: Sequence[OutputRef], rng: random.Random | None = None
) -> list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]]:
    """Group ``outputs`` for a stage with ``grouping``.

    Returns ``(key, (label, host), inputs)`` per group, in task order. Outputs
    with no replica (data) or no label (dir) are skipped, as Disco skips them.
    """
    rng = rng or random.Random()
    live = [
        ref
        for ref in outputs
        if (isinstance(ref.output, DataOutput) and ref.output.urls)
        or (isinstance(ref.output, DirOutput) and ref.output.labels)
    ]
    if grouping == "split":
        return _split(live, rng)
    if grouping == "group_label":
        return _by(live, rng, by_label=True, by_host=False)
    if grouping == "group_node":
        return _by(live, rng, by_label=False, by_host=True)
    if grouping == "group_node_label":
        return _by(live, rng, by_label=True, by_host=True)
    if grouping == "group_all":
        return _all(live)
    raise ValueError(f"unknown grouping {grouping!r}")


def _data_input(ref: OutputRef) -> AssignedInput:
    assert isinstance(ref.output, DataOutput)
    return AssignedInput(ref.oid, ref.output.label, ref.output.urls)


def _split(
    live: Iterable[OutputRef], rng: random.Random
) -> list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]]:
    dirs: list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]] = []
    data: list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]] = []
    for ref in live:
        out = ref.output
        if isinstance(out, DirOutput):
            for label in out.label_set():
                key = ("split", ref.oid, label)
                dirs.append((key, (label, out.host), [AssignedInput(ref.oid, label, (out.url,))]))
        else:
            key = ("split", ref.oid, out.label)
            data.append((key, (out.label, _host_of(out, rng)), [_data_input(ref)]))
    return dirs + data


def _by(
    live: Iterable[OutputRef], rng: random.Random, *, by_label: bool, by_host: bool
) -> list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]]:
    groups: dict[tuple[int, str], list[AssignedInput]] = {}
    for ref in live:
        out = ref.output
        host = _host_of(out, rng) if by_host else ""
        if isinstance(out, DirOutput):
            if by_label:
                for label in out.label_set():
                    groups.setdefault((label, host), []).append(
                        AssignedInput(ref.oid, label, (out.url,))
                    )
            else:
                groups.setdefault((0, host), []).append(
                    AssignedInput(ref.oid, ALL_LABELS, (out.url,))
                )
        else:
            key = (out.label if by_label else 0, host)
            groups.setdefault(key, []).append(_data_input(ref))
    return [(key, key, groups[key]) for key in sorted(groups)]


def _all(live: Iterable[OutputRef]) -> list[tuple[GroupKey, tuple[int, str], list[AssignedInput]]]:
    refs = list(live)
    dirs = [
        AssignedInput(ref.oid, ALL_LABELS, (ref.output.url,))
        for ref in refs
        if isinstance(ref.output, DirOutput)
    ]
    data = [_data_input(ref) for ref in refs if isinstance(ref.output, DataOutput)]
    return [((0, ""), (0, ""), dirs + data)]
