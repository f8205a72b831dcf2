"""Hypothesis strategies that generate every protocol message, valid by construction."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pydisco.protocol import messages as m

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
small_ints = st.integers(min_value=0, max_value=2**31)
texts = st.text(max_size=200)
urls = st.builds(
    lambda scheme, rest: f"{scheme}://{rest}",
    st.sampled_from(["raw", "http", "disco", "dir", "file"]),
    st.text(max_size=60),
)
labels: st.SearchStrategy[Any] = st.one_of(small_ints, st.just(m.ALL_LABELS))

replicas = st.builds(m.Replica, small_ints, urls)
inputs = st.builds(
    m.Input,
    small_ints,
    st.sampled_from(list(m.InputStatus)),
    labels,
    st.lists(replicas, max_size=4).map(tuple),
)
task_infos = st.builds(
    m.TaskInfo,
    taskid=small_ints,
    master=texts,
    disco_port=small_ints,
    put_port=small_ints,
    ddfs_data=texts,
    disco_data=texts,
    stage=texts,
    grouping=st.sampled_from(m.GROUPINGS),
    group=st.tuples(small_ints, texts),
    jobfile=texts,
    jobname=texts,
    host=texts,
)

worker_messages: st.SearchStrategy[Any] = st.one_of(
    st.builds(m.Worker, texts, ints),
    st.builds(m.TaskRequest, texts),
    st.just(m.InputRequest()),
    st.builds(
        m.InputRequest,
        st.sampled_from(["include", "exclude"]),
        st.lists(ints, max_size=20).map(tuple),
    ),
    st.builds(m.InputErr, ints, st.lists(ints, max_size=5).map(tuple)),
    st.builds(m.Msg, texts),
    st.builds(m.Output, ints, texts, ints),
    st.builds(m.Done, texts),
    st.builds(m.Error, texts),
    st.builds(m.Fatal, texts),
    st.builds(m.Ping, texts),
)
master_messages: st.SearchStrategy[Any] = st.one_of(
    st.builds(m.Ok, texts),
    st.builds(m.TaskReply, task_infos),
    st.builds(m.InputReply, st.booleans(), st.lists(inputs, max_size=5).map(tuple)),
    st.builds(m.Retry, st.lists(replicas, max_size=4).map(tuple)),
    st.builds(m.Fail, texts),
    st.builds(m.Wait, small_ints),
)
