"""How the master serves the status page (plain HTTP, no browser), and what ships with it."""

from __future__ import annotations

import configparser
import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pydisco.master import MasterHandle, ReferenceMaster
from pydisco.master.webui import ASSETS

WEBUI = Path(__file__).parents[2] / "pydisco" / "master" / "webui"
SETUP_CFG = Path(__file__).parents[2] / "setup.cfg"
NODE = "127.0.0.4"


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterHandle]:
    data = tmp_path_factory.mktemp("serving") / "disco"
    with ReferenceMaster.start_in_thread(data, nodes=f"{NODE}=1") as handle:
        yield handle


def test_the_page_is_served_at_the_root(master: MasterHandle) -> None:
    for path in ("/", "/index.html"):
        reply = httpx.get(master.url + path, timeout=30)
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert reply.content == (WEBUI / "index.html").read_bytes()
        policy = reply.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert "'unsafe-inline'" not in policy
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert httpx.head(master.url + "/", timeout=30).status_code == 200


def test_each_asset_is_served_with_its_type(master: MasterHandle) -> None:
    for name, content_type in ASSETS.items():
        reply = httpx.get(f"{master.url}/ui/{name}", timeout=30)
        assert reply.status_code == 200, name
        assert reply.headers["content-type"] == content_type
        assert reply.content == (WEBUI / name).read_bytes()


@pytest.mark.parametrize("path", ["/ui/nothing.js", "/ui/__init__.py", "/ui/", "/favicon.ico"])
def test_anything_else_is_not_found(master: MasterHandle, path: str) -> None:
    reply = httpx.get(master.url + path, timeout=30)
    assert (reply.status_code, reply.text) == (404, "Not found.")


def test_the_api_is_unchanged_beside_the_page(master: MasterHandle) -> None:
    assert httpx.get(master.url + "/disco/version", timeout=30).json() == "0.5.4"
    assert httpx.get(master.url + "/disco/ctrl/joblist", timeout=30).json() == []
    assert httpx.post(master.url + "/", timeout=30).status_code in (404, 405)


def test_every_node_listener_serves_the_page(master: MasterHandle) -> None:
    assert NODE in master.master.addresses
    reply = httpx.get(f"http://{NODE}:{master.port}/", timeout=30)
    assert reply.status_code == 200
    assert reply.content == (WEBUI / "index.html").read_bytes()
    assert httpx.get(f"http://{NODE}:{master.port}/ui/app.js", timeout=30).status_code == 200


def test_the_page_uses_only_its_own_files() -> None:
    html = (WEBUI / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert referenced and all(ref.startswith("/ui/") for ref in referenced)
    assert {ref.removeprefix("/ui/") for ref in referenced} <= set(ASSETS)
    for name in ASSETS:  # no CDN, no remote font or script: the machines may be offline
        text = (WEBUI / name).read_text()
        assert not re.search(
            r"https?://|//[a-z0-9-]+\.[a-z]", text.replace("http://www.w3.org/2000/svg", "")
        ), name


def test_the_script_never_parses_data_as_markup() -> None:
    script = (WEBUI / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_every_asset_ships_as_package_data() -> None:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    patterns = [
        p.strip() for p in config["options.package_data"]["pydisco.master.webui"].split(",")
    ]
    shipped = {p.name for p in WEBUI.iterdir() if p.suffix != ".py" and p.is_file()}
    assert shipped == set(ASSETS)
    for name in shipped:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
