"""Jobs run inline: word count, the 3-stage pipeline, join, chaining, groupings and errors."""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

import pytest

from examples.jobs.join import orders_by_person
from examples.jobs.kmeans import kmeans
from examples.jobs.pagerank import pagerank
from examples.jobs.pipeline import pipeline
from examples.jobs.wordcount import wordcount, wordcount_by_word
from pydisco.job import Job, JobDefinitionError, Source, Stage, load_job, locate_job, map_reduce

TEXT = "the quick brown fox\njumps over the lazy dog\nThe dog sleeps\n"


def _counts(text: str) -> dict[str, int]:
    return dict(collections.Counter(text.split()))


@pytest.mark.parametrize("job", [wordcount, wordcount_by_word], ids=["per_task", "per_word"])
def test_wordcount_inline(tmp_path: Path, job: Job) -> None:
    path = tmp_path / "a.txt"
    path.write_text(TEXT * 50)
    results = job.run([str(path), TEXT.encode()])
    assert dict(results) == _counts(TEXT * 51)
    assert set(results.by_label()) <= {0, 1, 2, 3}


def test_map_reduce_takes_exactly_one_map() -> None:
    with pytest.raises(JobDefinitionError, match="exactly one of map"):
        map_reduce()
    with pytest.raises(JobDefinitionError, match="exactly one of map"):
        map_reduce(print, task=print)
    stage = map_reduce(task=sorted).stages[0]
    assert (stage.kind, stage.grouping) == ("task", "split")


def test_big_file_is_split_into_line_aligned_chunks(tmp_path: Path) -> None:
    rng = random.Random(7)
    words = [f"w{rng.randrange(300)}" for _ in range(20000)]
    lines = [" ".join(words[i : i + 7]) for i in range(0, len(words), 7)]
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines))  # no final newline
    small = wordcount.with_params(None)
    small = Job(small.stages, chunk_size=4096, name="wc")
    results = small.run(str(path), workdir=str(tmp_path / "work"))
    assert dict(results) == _counts(" ".join(words))
    assert len(list((tmp_path / "work").glob("*/map-*"))) > 10


def test_reduce_sees_each_key_once_in_encoded_key_order() -> None:
    seen: list[str] = []

    def reduce(key: str, values: Any) -> Any:
        seen.append(key)
        yield key, sorted(values)

    job = map_reduce(lambda line: ((w, 1) for w in line.split()), reduce, partitions=1)
    job = Job(job.stages, sort_memory=500)  # spills: external sort
    lines = "\n".join(" ".join(random.Random(i).sample("abcdefghij", 5)) for i in range(200))
    results = dict(job.run(lines.encode()))
    assert seen == sorted(set(seen), key=lambda k: ('"' + k + '"').encode())
    assert len(seen) == len(set(seen)) == 10
    assert sum(len(v) for v in results.values()) == 1000


def test_three_stage_pipeline_inline() -> None:
    results = dict(pipeline.run([TEXT.encode(), TEXT.encode()]))
    expected = {w.lower(): 0 for w in TEXT.split() if len(w) >= 4}
    for w in TEXT.split():
        if len(w) >= 4:
            expected[w.lower()] += 2
    assert results == expected
    assert dict(pipeline.run([TEXT.encode()], params={"min_length": 5})) == {
        "quick": 1,
        "brown": 1,
        "jumps": 1,
        "sleeps": 1,
    }


def test_join_of_two_inputs() -> None:
    people = b"1,ann\n2,bob\n3,cy\n"
    orders = b"10,1,5.5\n11,2,1.0\n12,1,4.5\n"
    assert dict(orders_by_person.run([people, orders])) == {"ann": 10.0, "bob": 1.0, "cy": 0}


def test_kmeans_iterations() -> None:
    rng = random.Random(1)
    points = [(rng.gauss(0, 0.1), rng.gauss(0, 0.1)) for _ in range(100)]
    points += [(rng.gauss(5, 0.1), rng.gauss(5, 0.1)) for _ in range(100)]
    data = "\n".join(f"{x} {y}" for x, y in points).encode()
    centres = sorted(kmeans([data], [[0.0, 1.0], [1.0, 0.0]], iterations=4))
    assert abs(centres[0][0]) < 0.2 and abs(centres[1][0] - 5) < 0.2


def test_pagerank_chains_results() -> None:
    graph = b"a b c\nb c\nc a\nd c\n"
    ranks = pagerank([graph], pages=4, iterations=20)
    assert max(ranks, key=ranks.__getitem__) == "c"
    assert 0.9 < sum(ranks.values()) < 1.01


def test_groupings_inline() -> None:
    seen: dict[str, list[int]] = collections.defaultdict(list)

    def record(name: str) -> Any:
        def task(records: Any) -> Any:
            items = list(records)
            seen[name].append(len(items))
            yield from items

        return task

    job = Job(
        [
            Stage("first", "split", map=lambda line: [(line, 1)], partitions=3),
            Stage("by_label", "group_label", task=record("by_label")),
            Stage("by_node", "group_node", task=record("by_node")),
            Stage("by_node_label", "group_node_label", task=record("by_node_label")),
            Stage("all", "group_all", task=record("all")),
        ]
    )
    results = list(job.run([b"a\nb\nc\nd\ne\nf\n", b"g\n"]))
    assert sorted(k for k, _ in results) == list("abcdefg")
    assert len(seen["by_label"]) <= 3 and sum(seen["by_label"]) == 7
    assert seen["by_node"] == [7]
    assert seen["all"] == [7]


def test_group_all_runs_once_with_no_input() -> None:
    calls = []

    def task(records: Any) -> Any:
        calls.append(list(records))
        return [("n", 0)]

    job = Job([Stage("m", "split", map=lambda r: []), Stage("all", "group_all", task=task)])
    assert list(job.run([b"x\n"])) == [("n", 0)]
    assert calls == [[]]


def test_pickle_records_keep_python_values() -> None:
    job = map_reduce(
        lambda line: [((line, 1), {line})],
        lambda k, vs: [(k, set().union(*vs))],
        records="pickle",
    )
    assert dict(job.run(b"a\nb\na\n")) == {("a", 1): {"a"}, ("b", 1): {"b"}}


def test_records_input_and_explicit_source(tmp_path: Path) -> None:
    counted = wordcount.run(TEXT.encode())
    doubled = map_reduce(lambda kv: [(kv[0], kv[1] * 2)]).run(counted)
    assert dict(doubled) == {k: 2 * v for k, v in _counts(TEXT).items()}
    path = tmp_path / "r.jsonl"
    path.write_text('["x",1]\n["x",2]\n')
    summed = map_reduce(lambda kv: [kv], lambda k, vs: [(k, sum(vs))])
    assert dict(summed.run(Source.file(path, "json"))) == {"x": 3}


def test_user_exception_propagates_inline_with_a_note() -> None:
    def broken(line: str) -> Any:
        raise ZeroDivisionError("boom in " + line)

    job = map_reduce(broken)
    with pytest.raises(ZeroDivisionError, match="boom in hello") as info:
        job.run(b"hello\n")
    notes = "".join(getattr(info.value, "__notes__", []))
    if notes:
        assert "stage 'map', task 0" in notes and "raw data" in notes


def test_definition_errors() -> None:
    with pytest.raises(JobDefinitionError):
        Stage("x", "split")
    with pytest.raises(JobDefinitionError):
        Stage("x", "sideways", map=print)
    with pytest.raises(JobDefinitionError):
        Job([Stage("x", map=print), Stage("x", map=print)])


def test_load_and_locate_jobs() -> None:
    assert load_job("examples.jobs.wordcount:wordcount") is wordcount
    assert load_job("examples.jobs.pipeline") is pipeline
    assert locate_job(wordcount) == "examples.jobs.wordcount:wordcount"
    with pytest.raises(JobDefinitionError):
        locate_job(map_reduce(print))


def test_combine_buffer_flushes_without_losing_pairs() -> None:
    words = [f"w{i % 500}" for i in range(20000)]
    lines = "\n".join(" ".join(words[i : i + 40]) for i in range(0, len(words), 40))
    job = Job(wordcount_by_word.stages, combine_memory=5000)  # flushes mid-line, many times
    assert dict(job.run(lines.encode())) == _counts(" ".join(words))


def test_results_of_a_classic_disco_job_are_read(tmp_path: Path) -> None:
    from tests.job.test_records import classic_v1

    path = tmp_path / "disco-results"
    path.write_bytes(classic_v1([("a", 2), ("b", 1), ("a", 3)]))
    summed = map_reduce(lambda kv: [kv], lambda k, vs: [(k, sum(vs))])
    assert dict(summed.run(Source.file(path, "disco"))) == {"a": 5, "b": 1}


def test_public_names() -> None:
    import pydisco.job

    for name in pydisco.job.__all__:
        assert hasattr(pydisco.job, name), name


def test_combine_with_unhashable_keys() -> None:
    def pairs(line: str) -> Any:
        for word in line.split():
            yield [word, len(word)], 1

    def add(key: Any, counts: Any) -> Any:
        yield key, sum(counts)

    job = Job(map_reduce(pairs, add, combine=add, partitions=2).stages, combine_memory=2000)
    text = ("ab c ab " * 100 + "\n") * 5
    assert dict(job.run(text.encode()).to_dict()) == {("ab", 2): 1000, ("c", 1): 500}
