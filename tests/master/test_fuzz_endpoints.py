"""Every endpoint driven with generated paths, query strings, bodies and Range headers.

Whatever arrives, the master answers below 500, within the client timeout, and
never serves a byte from outside its data directory (a secret file next to it
must never show up). One master serves the module; the examples are bounded.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pydisco.master import ReferenceMaster
from pydisco.master.server import MasterHandle

SECRET = secrets.token_hex(16).encode()
GET_OPS = [
    "joblist",
    "jobinfo",
    "parameters",
    "rawevents",
    "jobevents",
    "nodeinfo",
    "get_blacklist",
    "get_gc_blacklist",
    "get_settings",
    "get_stageresults",
    "load_config_table",
]
POST_OPS = [
    "kill_job",
    "purge_job",
    "clean_job",
    "get_results",
    "blacklist",
    "whitelist",
    "gc_blacklist",
    "gc_whitelist",
    "save_config_table",
    "save_settings",
]


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MasterHandle, httpx.Client]]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "secret.txt").write_bytes(SECRET)
    data = root / "data"
    (data / "localhost").mkdir(parents=True)
    (data / "localhost" / "plain.txt").write_bytes(b"0123456789" * 10)
    (data / "localhost" / "escape").symlink_to(root / "secret.txt")
    with (
        ReferenceMaster.start_in_thread(data, nodes="localhost=1") as handle,
        httpx.Client(base_url=handle.url, timeout=20) as client,
    ):
        yield handle, client


segment = st.sampled_from(
    ["", ".", "..", "%2e%2e", "%2E.", "localhost", "plain.txt", "escape", "secret.txt", "_disco_0",
     "..%2f", "%00", "%ed%a0%80", "%ff", "a b", "~", "config.json", "%2f"]
) | st.text(st.characters(codec="utf-8", exclude_characters="/?#"), max_size=6)  # fmt: skip
paths = st.one_of(
    st.lists(segment, min_size=1, max_size=5).map(lambda p: "/disco/" + "/".join(p)),
    st.sampled_from(GET_OPS + POST_OPS).map(lambda op: f"/disco/ctrl/{op}"),
    st.sampled_from(["/disco/version", "/disco/job/new", "/", "/disco", "/disco/", "//disco"]),
    st.sampled_from(GET_OPS + POST_OPS).map(lambda op: f"/disco/ctrl/{op}/"),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["localhost", "..", "n01:99999999", "1", "-5"])
    | st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), min_size=1, max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b'"\\ud800"', b'[1, ["\\udfff"]]', b'{"max_failure_rate": "-5"}', b"[[]]",
                     b'[["..", "1"]]', b'[["m1:1000000", "1"]]', b"[" * 5000, b'"' + b"a" * 300]),
)  # fmt: skip
queries = st.dictionaries(
    st.sampled_from(["name", "num", "filter", "stage", "x"]),
    st.text(max_size=8) | st.sampled_from(["-1", "99999999999999999999", "..", "\ud800"]),
    max_size=3,
)
ranges = st.none() | st.sampled_from(
    ["bytes=0-4", "bytes=-3", "bytes=5-", "bytes=9-2", "bytes=0-0,2-3", "bytes=999-", "junk",
     "bytes=-0", "bytes=" + "9" * 40 + "-"]
)  # fmt: skip


def _send(
    master: tuple[MasterHandle, httpx.Client],
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    rng: str | None = None,
) -> None:
    _, client = master
    headers = {"Range": rng} if rng else {}
    params = {
        k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in (query or {}).items()
    }
    try:
        request = client.build_request(method, path, params=params, content=body, headers=headers)
    except (httpx.InvalidURL, UnicodeError):
        return  # httpx itself refuses to send it
    reply = client.send(request)
    assert reply.status_code < 500, (method, path, body, reply.status_code, reply.text[:300])
    assert SECRET not in reply.content, (method, path)


FUZZ = settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("op", POST_OPS)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, query=queries)
def test_control_posts(
    master: tuple[MasterHandle, httpx.Client], op: str, body: bytes, query: dict[str, str]
) -> None:
    _send(master, "POST", f"/disco/ctrl/{op}", query, body)


@FUZZ
@given(op=st.sampled_from(GET_OPS), query=queries, slash=st.booleans())
def test_control_gets(
    master: tuple[MasterHandle, httpx.Client], op: str, query: dict[str, str], slash: bool
) -> None:
    _send(master, "GET", f"/disco/ctrl/{op}" + ("/" if slash else ""), query)


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]),
    path=paths,
    query=queries,
    body=bodies,
    rng=ranges,
)
def test_any_path(
    master: tuple[MasterHandle, httpx.Client],
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
    rng: str | None,
) -> None:
    _send(master, method, path, query, body if method in ("POST", "PUT") else None, rng)


def test_the_master_still_answers_after_fuzzing(master: tuple[MasterHandle, httpx.Client]) -> None:
    _, client = master
    assert client.get("/disco/version").json() == "0.5.4"
    assert sorted(client.get("/disco/ctrl/nodeinfo").json()) == ["localhost"]
    assert (
        client.get("/disco/localhost/plain.txt", headers={"Range": "bytes=0-4"}).content == b"01234"
    )
    assert client.get("/disco/localhost/escape").status_code == 404
