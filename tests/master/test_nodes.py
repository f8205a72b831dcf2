"""Nodes that are missing, fail, leave or join mid-job, and the node/event views of them.

Real masters on loopback, real workers. Nodes are loopback addresses (127.0.0.x)
the master listens on; a node whose name does not resolve, or whose address
cannot be listened on, is not connected and never gets a task.
"""

from __future__ import annotations

import json

import httpx

from pydisco.master.job import hh_dir
from tests.master.helpers import make_pack, submit, wait


def get(url: str, path: str, **kw):
    return httpx.get(f"{url}{path}", timeout=30, **kw)


def test_jobevents_skips_a_torn_line_and_nodeinfo_has_disk_figures(reference_master, tmp_path):
    url = reference_master.url
    name = submit(url, make_pack(tmp_path, inputs=[[0, 0, ["raw://a b"]]]))
    assert wait(url, name)[0] == "ready"
    events_file = hh_dir(reference_master.core.root, name) / "events"
    lines = events_file.read_text().splitlines(keepends=True)
    with events_file.open("a") as out:
        out.write('["2026/01/01 00:00:00","mas')  # a write cut short by a crash
    reply = get(url, "/disco/ctrl/jobevents", params={"name": name, "num": "1000"})
    assert reply.headers["content-type"] == "text/plain"
    assert reply.text == "[" + ",".join(reversed(lines)) + "]"
    assert json.loads(reply.text) == [json.loads(line) for line in reversed(lines)]
    filtered = get(url, "/disco/ctrl/jobevents", params={"name": name, "filter": "MAS"})
    from_master = [json.loads(line) for line in lines if '"master"' in line]
    assert json.loads(filtered.text) == list(reversed(from_master))

    missing = get(url, "/disco/ctrl/jobevents", params={"name": "nosuch"})
    assert missing.status_code == 404 and missing.text == "Not found."
    assert missing.headers["content-type"] == "text/plain"

    (info,) = get(url, "/disco/ctrl/nodeinfo").json().values()
    assert info["connected"] is True and info["job_ok"] == 1
    assert isinstance(info["diskfree"], int) and info["diskfree"] > 0
    assert isinstance(info["diskused"], int) and info["diskused"] > 0
