"""End to end: a map/reduce word count by a POSIX sh worker, over real HTTP."""

from __future__ import annotations

from tests.master.helpers import events, make_pack, read_results, submit, wait, word_counts

TEXTS = ["the quick brown fox", "jumps over the lazy dog", "the end"]


def test_sh_wordcount(reference_master, tmp_path):
    pack = make_pack(
        tmp_path,
        pipeline=[["map", "split", False], ["reduce", "group_label", False]],
        inputs=[[0, 0, [f"raw://{t}"]] for t in TEXTS],
        envs={"NPART": "3"},
        prefix="WordCount",
    )
    name = submit(reference_master.url, pack)
    status, results = wait(reference_master.url, name)
    log = events(reference_master.url, name)
    assert status == "ready", log
    expected: dict[str, int] = {}
    for text in TEXTS:
        for word in text.split():
            expected[word] = expected.get(word, 0) + 1
    assert word_counts(read_results(reference_master.url, results)) == expected
    assert log[0] == "New job initialized!"
    assert log[1] == f'Created job "{name}"'
    assert "Stage map scheduled with 3 tasks" in log
    assert any(m.startswith("READY: Job done in ") for m in log)
    assert any(m.startswith("MSG: [map:0] sh worker map:0 got 1 inputs") for m in log), log
