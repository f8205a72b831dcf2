"""One grouping (pydisco.master.grouping): the inline runner forms tasks with the master's code."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.job import inline
from pydisco.master.grouping import DataOutput, OutputRef, group_outputs

GROUPINGS = ["split", "group_label", "group_node", "group_node_label", "group_all"]


@settings(max_examples=200)
@given(st.sampled_from(GROUPINGS), st.lists(st.integers(0, 5), max_size=12))
def test_inline_tasks_are_the_masters(grouping: str, labels: list[int]) -> None:
    items = [(label, f"item{n}") for n, label in enumerate(labels)]
    tasks = inline.group_items(grouping, items)

    refs = [
        OutputRef((-1, n), DataOutput(label, 0, (f"http://{inline.HOST}/{n}",)))
        for n, label in enumerate(labels)
    ]
    master = group_outputs(grouping, refs)
    assert [group for group, _ in tasks] == [group for _, group, _ in master]
    assert [names for _, names in tasks] == [
        [f"item{task_input.source[1]}" for task_input in inputs] for _, _, inputs in master
    ]
    # Every output goes to exactly one task, and a task's label is its outputs' label.
    assert sorted(name for _, names in tasks for name in names) == sorted(n for _, n in items)
    if grouping in ("split", "group_label", "group_node_label"):
        for (label, _host), names in tasks:
            assert {labels[int(name.removeprefix("item"))] for name in names} == {label}


def test_the_grouping_names_are_the_protocols() -> None:
    from pydisco.job import api
    from pydisco.jobpack.parts import Grouping
    from pydisco.protocol.messages import GROUPINGS

    assert api.GROUPINGS is GROUPINGS
    assert tuple(grouping.value for grouping in Grouping) == GROUPINGS
    for name in GROUPINGS:
        group_outputs(name, [])  # the master's grouping code knows every name
