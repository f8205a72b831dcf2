"""Pure parts of the master: grouping, names, node specs, output classification."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydisco.dataurls import UnsafeURL
from pydisco.master.config import ConfigError, NodeTable, expand_spec, parse_nodes_option
from pydisco.master.events import filter_events, normalise_filter
from pydisco.master.grouping import DataOutput, DirOutput, OutputRef, group_outputs
from pydisco.master.layout import (
    JobNamer,
    format_duration,
    hexhash,
    join_local,
    node_file,
    url_host,
)
from pydisco.protocol.messages import classify_output


def test_job_names_are_disco_format_and_increasing():
    namer = JobNamer()
    names = [namer.make("WordCount") for _ in range(50)]
    assert all(re.fullmatch(r"WordCount@[0-9a-f]+:[0-9a-f]+:[0-9a-f]+", n) for n in names)
    stamps = [tuple(int(x, 16) for x in n.split("@")[1].split(":")) for n in names]
    assert stamps == sorted(stamps) and len(set(stamps)) == 50
    assert namer.make("").startswith("@")


def test_hexhash_and_paths():
    assert hexhash("job@1:2:3") == hashlib.md5(b"job@1:2:3").hexdigest()[:2]
    assert join_local("a//b/./c/") == "a/b/c"
    assert join_local("../x") == "../x"
    assert url_host("raw://hello") == "hello"
    assert url_host("http://h1:8989/x") == "h1"
    assert url_host("/local/file") == ""
    assert format_duration(3723.0456) == "1:02:03.046"


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("5e/map:0-1/out", "local"),
        ("out/file", "local"),
        ("/etc/passwd", "invalid"),
        ("http://h/x", "remote"),
        ("disco://h/disco/x", "remote"),
        ("map:0/file", "remote"),  # mochiweb sees a scheme: Disco's own misclassification
        ("//host/path", "remote"),
    ],
)
def test_output_classification(location, kind):
    assert classify_output(location) == kind


def test_node_specs():
    assert expand_spec("node01:10")[::9] == ["node01", "node10"]
    assert expand_spec("n8:10") == ["n08", "n09", "n10"]
    assert expand_spec("localhost") == ["localhost"]
    with pytest.raises(ConfigError):
        expand_spec("a:b:c")
    assert parse_nodes_option("127.0.0.2=2,127.0.0.3=1").nodes() == {
        "127.0.0.2": 2,
        "127.0.0.3": 1,
    }
    table = NodeTable.from_json([["a", "1"]])  # legacy bare list
    assert table.nodes() == {"a": 1}
    with pytest.raises(ConfigError, match="duplicate nodes"):
        NodeTable.check_hosts([["a1:2", "1"], ["a2", "1"]])


def test_event_filter():
    assert normalise_filter("Ready: Job DONE!") == "ready:jobdone!"
    lines = [f'["t","master","{m}"]\n' for m in ("a one", "b two", "a three")]
    assert filter_events(lines, "ThRee", 10) == [lines[2]]
    assert filter_events(lines, "master", 2) == [lines[1], lines[0]]  # oldest N, newest first


def _dir(task, host, labels):
    return OutputRef(
        (task, 0), DirOutput(host, f"dir://{host}/{task}", tuple((lb, 1) for lb in labels))
    )


def test_groupings():
    outs = [
        _dir(0, "n1", [0, 1]),
        _dir(1, "n2", [1]),
        OutputRef((2, 0), DataOutput(2, 5, ("http://n1/x",))),
    ]
    outs.append(_dir(3, "n2", []))  # no labels: skipped
    outs.append(OutputRef((4, 0), DataOutput(0, 0, ())))  # no replicas: skipped
    split = group_outputs("split", outs)
    assert [g for _, g, _ in split] == [(0, "n1"), (1, "n1"), (1, "n2"), (2, "n1")]
    by_label = group_outputs("group_label", outs)
    assert [(g, [i.label for i in ins]) for _, g, ins in by_label] == [
        ((0, ""), [0]),
        ((1, ""), [1, 1]),
        ((2, ""), [2]),
    ]
    by_node = group_outputs("group_node", outs)
    assert [(g, [i.label for i in ins]) for _, g, ins in by_node] == [
        ((0, "n1"), ["all", 2]),
        ((0, "n2"), ["all"]),
    ]
    pairs = group_outputs("group_node_label", outs)
    assert [g for _, g, _ in pairs] == [(0, "n1"), (1, "n1"), (1, "n2"), (2, "n1")]
    [(_, group, inputs)] = group_outputs("group_all", outs)
    assert group == (0, "") and [i.label for i in inputs] == ["all", "all", 2]
    assert group_outputs("group_all", []) == [((0, ""), (0, ""), [])]


def test_node_file_names_only_files_of_our_nodes_inside_the_data_dir(tmp_path):
    data = tmp_path / "data"
    (data / "n1" / "hh").mkdir(parents=True)
    (tmp_path / "secret").write_text("x")
    (data / "n1" / "hh" / "out").symlink_to(tmp_path / "secret")
    nodes = {"n1"}
    ours = node_file("dir://n1/disco/n1/hh/j/.disco/a.results", nodes, data)
    assert ours == data.resolve() / "n1/hh/j/.disco/a.results"
    assert node_file("disco://n1/disco/n1//hh/./x", nodes, data) == data.resolve() / "n1/hh/x"
    assert node_file("disco://n2/disco/n1/hh/x", nodes, data) is None  # not our node
    assert node_file("disco://n1/ddfs/vol0/blob/x", nodes, data) is None  # not /disco/
    assert node_file("disco://n1/disco/n1/hh/out", nodes, data) is None  # leads out
    with pytest.raises(UnsafeURL):
        node_file("disco://n1/disco/n1/../../secret", nodes, data)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("abc.-_%", min_size=1, max_size=5), min_size=1, max_size=4))
def test_node_file_maps_the_disco_path_under_the_data_dir(tmp_path_factory, segments):
    data = tmp_path_factory.getbasetemp() / "node-file-data"
    path = "/".join(segments)
    url = f"disco://n1/disco/{path}"
    kept = [s for s in segments if s != "."]
    if ".." in kept or not kept:  # a way out, or no file named at all
        with pytest.raises(UnsafeURL):
            node_file(url, {"n1"}, data)
    else:
        assert node_file(url, {"n1"}, data) == data.resolve().joinpath(*kept)
