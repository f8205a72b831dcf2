"""The case of issue #20 with the Python job API: a node that does not exist in the table."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from examples.jobs.wordcount import wordcount_by_word
from pydisco.client import ConfigEntry, Master

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_python_job_with_a_missing_node_in_the_table(reference_master: Any) -> None:
    """The table (set as ``disco.config = ...`` does) names a node that does not exist
    beside the working one: the map/reduce job completes on the working node."""
    text = b"the quick brown fox\njumps over the lazy dog\nthe dog sleeps\n"
    with Master(reference_master.url) as client:
        client.save_config_table([ConfigEntry("missingnode_0", 1), ConfigEntry("localhost", 2)])
        results = wordcount_by_word.run([text, text], runner=reference_master.url)
        assert dict(results) == dict(collections.Counter((text * 2).decode().split()))
        nodes = {node.host: node for node in client.nodeinfo()}
        assert not nodes["missingnode_0"].connected and nodes["missingnode_0"].job_ok == 0
        assert nodes["localhost"].connected and nodes["localhost"].job_ok >= 3
