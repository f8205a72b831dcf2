"""The status page in a real browser (headless Chromium) against a real master running jobs."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from pydisco.master import MasterHandle, ReferenceMaster
from tests.master.helpers import events, submit, wait
from tests.webui.helpers import UI, fragment, ui_pack

NODES = "127.0.0.2=2,127.0.0.3=1"
NASTY_PREFIX = "<script>window['__pwned']=1<script>"  # no "/" or ".": a valid prefix
NASTY_OWNER = "<img src=x onerror=window.__pwned=2>"
NASTY_MESSAGE = "<script>window.__pwned=3</script> & <b>bold</b>"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webui")


@pytest.fixture(scope="module")
def master(data: Path) -> Iterator[MasterHandle]:
    with ReferenceMaster.start_in_thread(data / "disco", nodes=NODES, retry_delay=0.0) as handle:
        yield handle


@pytest.fixture(scope="module")
def finished(master: MasterHandle, data: Path) -> dict[str, str]:
    """Two finished jobs: map+reduce over three inputs with one retried task, and one
    whose name, owner and event text are markup."""
    markers = data / "markers"
    markers.mkdir()
    multi = submit(
        master.url,
        ui_pack(
            data,
            prefix="Multi",
            envs={"FAIL_ONCE": "map:0", "MARKER_DIR": str(markers)},
            inputs=["raw://alpha", "raw://beta", "raw://gamma"],
            stages=("map", "reduce"),
        ),
    )
    nasty = submit(
        master.url,
        ui_pack(
            data,
            prefix=NASTY_PREFIX,
            owner=NASTY_OWNER,
            envs={"SAY": json.dumps(NASTY_MESSAGE)},
        ),
    )
    for name in (multi, nasty):
        assert wait(master.url, name)[0] == "ready"
    return {"multi": multi, "nasty": nasty}


@pytest.fixture
def ui(browser: WebDriver, master: MasterHandle, tmp_path: Path) -> Iterator[UI]:
    page = UI(browser, master.url, tmp_path / "screenshots")
    yield page
    assert page.errors() == []


def held_job(master: MasterHandle, tmp_path: Path, prefix: str = "Held") -> tuple[str, Path]:
    """A job whose one task runs until the returned file exists."""
    release = tmp_path / f"release-{prefix}"
    name = submit(master.url, ui_pack(tmp_path, prefix=prefix, envs={"RELEASE": str(release)}))
    return name, release


def jobinfo(master: MasterHandle, name: str) -> Any:
    reply = httpx.get(f"{master.url}/disco/ctrl/jobinfo", params={"name": name}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def event_texts(ui: UI) -> list[str]:
    return ui.texts("#events .event .ev-text")


def test_jobs_page_lists_jobs_newest_first_and_filters(
    ui: UI, master: MasterHandle, finished: dict[str, str], tmp_path: Path
) -> None:
    running, release = held_job(master, tmp_path, "Listed")
    try:
        ui.open()
        ui.until(lambda d: len(ui.all("#job-rows tr[data-job]")) >= 3, "the job rows")
        ui.until(lambda d: "tester@localhost" in ui.texts("#job-rows td.owner"), "the owners")
        names = ui.attrs("#job-rows tr[data-job]", "data-job")
        listed = httpx.get(f"{master.url}/disco/ctrl/joblist", timeout=30).json()
        assert names == [name for _start, _status, name in listed]  # newest first
        order = [names.index(n) for n in (running, finished["nasty"], finished["multi"])]
        assert order == sorted(order)
        row = f'#job-rows tr[data-job="{running}"]'
        assert ui.texts(f"{row} .badge") == ["active"]
        ui.until(lambda d: ui.texts(f"{row} .duration") != [""], "a duration")
        multi = f'#job-rows tr[data-job="{finished["multi"]}"] .duration'
        ui.until(lambda d: ui.texts(multi) != [""], "the duration of a finished job")
        ui.shot("jobs")

        Select(ui.find("#status-filter")).select_by_value("active")
        ui.until(lambda d: ui.texts("#job-rows a.job-link") == [running], "only the active job")
        Select(ui.find("#status-filter")).select_by_value("")
        ui.find("#job-filter").send_keys("multi")
        ui.until(lambda d: ui.texts("#job-rows a.job-link") == [finished["multi"]], "the match")
        ui.find("#job-filter").clear()
        ui.find("#job-filter").send_keys("nomatch-zzz")
        ui.until(lambda d: ui.texts("#job-rows td.empty") == ["No job matches."], "no match")
        ui.shot("jobs-filtered")

        # the list is live: a job that ends changes status without a reload
        ui.find("#job-filter").clear()
        ui.driver.execute_script("window.__same = 1")
        release.touch()
        ui.until(lambda d: ui.attr(row, "data-status") == "ready", "the job turning ready")
        assert ui.driver.execute_script("return window.__same") == 1
    finally:
        release.touch()
    assert wait(master.url, running)[0] == "ready"


def test_job_page_shows_stages_jobdict_inputs_and_results(
    ui: UI, master: MasterHandle, finished: dict[str, str]
) -> None:
    name = finished["multi"]
    info = jobinfo(master, name)
    ui.open(fragment(name))
    ui.until(lambda d: ui.texts("#job-status .badge") == ["ready"], "the status")
    for stage, *counts in info["pipeline"]:
        shown = ui.attrs(f'#stages .stage[data-stage="{stage}"] .count', "data-value")
        assert shown == [str(c) for c in counts], stage
    assert ui.attr('#stages .stage[data-stage="map"] .count-failed', "data-value") == "1"
    assert len(ui.all('#stages .stage[data-stage="map"] .seg-done')) == 1
    ui.until(lambda d: "ui.sh" in ui.find("#jobdict").text, "the job dict")
    assert "map (split) \u2192 reduce (split)" in ui.find("#jobdict").text
    assert ui.texts("#inputs li") == info["inputs"]
    links = ui.all("#results a")
    assert [a.text for a in links] == info["results"] and len(links) == 3
    for a in links:  # each result links to data this master serves
        assert httpx.get(str(a.get_attribute("href")), timeout=30).status_code == 200
    assert ui.find("#kill").get_property("disabled") is True
    ui.shot("job")


def test_timeline_has_one_bar_per_task_run(
    ui: UI, master: MasterHandle, finished: dict[str, str]
) -> None:
    name = finished["multi"]
    runs = [m for m in events(master.url, name) if " assigned to " in m]
    assert len(runs) == 7  # 3 maps + 1 retry + 3 reduces
    ui.open(fragment(name))
    ui.until(lambda d: len(ui.all("#timeline .tl-bar")) == len(runs), "one bar per run")
    bars = ui.all("#timeline .tl-bar")
    seen = sorted((b.get_attribute("data-task"), b.get_attribute("data-attempt")) for b in bars)
    assert seen == sorted(
        [("map:0", "1"), ("map:0", "2"), ("map:1", "1"), ("map:2", "1")]
        + [(f"reduce:{n}", "1") for n in (3, 4, 5)]
    )
    outcomes = {(b.get_attribute("data-task"), b.get_attribute("data-attempt")): b for b in bars}
    first, retry = outcomes[("map:0", "1")], outcomes[("map:0", "2")]
    assert first.get_attribute("data-outcome") == "failed"
    assert "failing once on purpose" in str(first.get_attribute("title"))
    assert retry.get_attribute("data-outcome") == "done" and "retry" in str(
        retry.get_attribute("class")
    )
    assert {b.get_attribute("data-outcome") for b in bars} == {"done", "failed"}
    # rows are node slots: never more rows for a node than it has slots
    rows = [(r.get_attribute("data-host"), r.get_attribute("data-slot")) for r in ui.all(".tl-row")]
    slots = {"127.0.0.2": 2, "127.0.0.3": 1}
    assert rows and all(int(str(slot)) <= slots[str(host)] for host, slot in rows)
    colour = {
        b.get_attribute("data-task"): b.value_of_css_property("background-color") for b in bars
    }
    assert colour["map:1"] != colour["reduce:3"]  # coloured by stage
    ui.shot("timeline")


def test_events_follow_a_running_job_without_reload(
    ui: UI, master: MasterHandle, tmp_path: Path
) -> None:
    name, release = held_job(master, tmp_path, "Live")
    try:
        ui.open(fragment(name))
        ui.until(lambda d: "MSG: [map:0] waiting for the release file" in event_texts(ui), "MSG")
        assert ui.texts("#job-status .badge") == ["active"]
        assert ui.attrs(".tl-bar", "data-outcome") == ["running"]
        ui.driver.execute_script("window.__same = 1")
        ui.shot("running")
        release.touch()
        ui.until(lambda d: any(t.startswith("READY:") for t in event_texts(ui)), "READY")
        ui.until(lambda d: ui.texts("#job-status .badge") == ["ready"], "the new status")
        assert ui.driver.execute_script("return window.__same") == 1  # no reload
        ready = ui.find("#events .event.level-ready .ev-text")
        assert str(ready.get_property("textContent")).startswith("READY: Job done in")
        assert event_texts(ui) == events(master.url, name)  # every event, once, in order
        ui.until(lambda d: ui.attrs(".tl-bar", "data-outcome") == ["done"], "the bar done")
        ui.shot("ready")
    finally:
        release.touch()


def test_kill_button_kills_a_running_job(ui: UI, master: MasterHandle, tmp_path: Path) -> None:
    name, release = held_job(master, tmp_path, "Doomed")
    try:
        ui.open(fragment(name))
        ui.until(lambda d: "MSG: [map:0] waiting for the release file" in event_texts(ui), "MSG")
        ui.click("#kill")
        ui.until(lambda d: ui.texts("#job-status .badge") == ["dead"], "the job dead")
        warnings = "#events .level-warning .ev-text"
        ui.until(lambda d: "WARN: Job killed" in ui.texts(warnings), "the WARN event")
        assert wait(master.url, name)[0] == "dead"
        ui.until(lambda d: ui.attrs(".tl-bar", "data-outcome") == ["killed"], "a killed bar")
        assert ui.find("#kill").get_property("disabled") is True
        assert ui.texts("#results p") == ["None: the job did not finish."]
        ui.shot("killed")
    finally:
        release.touch()


def test_warnings_and_errors_are_highlighted(
    ui: UI, master: MasterHandle, finished: dict[str, str], tmp_path: Path
) -> None:
    name = submit(master.url, ui_pack(tmp_path, prefix="Fatal", envs={"FATAL": '"giving up"'}))
    assert wait(master.url, name)[0] == "dead"
    ui.open(fragment(name))
    ui.until(lambda d: ui.texts("#job-status .badge") == ["dead"], "the status")
    ui.until(lambda d: ui.all("#events .level-error"), "an error event")
    assert ui.texts("#events .level-error .ev-text") == ["FATAL: [map:0] giving up"]
    ui.until(lambda d: ui.attrs(".tl-bar", "data-outcome") == ["fatal"], "a fatal bar")
    ui.open(fragment(finished["multi"]))
    ui.until(lambda d: ui.all("#events .level-warning"), "a warning event")
    warnings = ui.texts("#events .level-warning .ev-text")
    assert warnings[0] == "WARNING: [map:0] failing once on purpose"
    assert warnings[1].startswith('Task map:0 failed on "127.0.0.')  # the retry notice too
    assert len(warnings) == 2


def test_event_filter_uses_the_masters_search(
    ui: UI, master: MasterHandle, finished: dict[str, str]
) -> None:
    ui.open(fragment(finished["multi"]))
    ui.until(lambda d: len(event_texts(ui)) > 10, "the events")
    box = ui.find("#event-filter")
    box.send_keys("Received\n")  # the master keeps only [a-z0-9:-_!@] of a filter
    ui.until(lambda d: "match" in ui.find("#event-note").text, "the filtered list")
    shown = event_texts(ui)
    assert shown == [m for m in events(master.url, finished["multi"]) if "Received results" in m]
    box.clear()
    box.send_keys("\n")
    ui.until(lambda d: len(event_texts(ui)) == len(events(master.url, finished["multi"])), "all")


def test_jobevents_replies_of_both_shapes_are_read(
    ui: UI, master: MasterHandle, finished: dict[str, str]
) -> None:
    ui.open()
    parse = "return window.pydisco.parseJobEvents(arguments[0])"
    event = ["2026/12/06 22:10:24", "master", "READY: Job done in 0:00:01.371"]
    older = ["2026/12/06 22:10:23", "master", "Stage map finished in 0:00:01.000"]
    lines = [json.dumps(e, separators=(",", ":")) + "\n" for e in (event, older)]
    disco = "[" + ",".join(lines) + "]"
    strings = json.dumps([json.dumps(e) + "\n" for e in (event, older)])
    assert ui.driver.execute_script(parse, disco) == [event, older]
    assert ui.driver.execute_script(parse, strings) == [event, older]
    assert ui.driver.execute_script(parse, "") == []
    # and what this master sends today
    name = finished["multi"]
    reply = httpx.get(
        f"{master.url}/disco/ctrl/jobevents", params={"name": name, "num": 3}, timeout=30
    )
    got = ui.driver.execute_script(parse, reply.text)
    assert [m for _t, _h, m in got] == events(master.url, name)[::-1][:3]


def test_values_are_shown_as_text_never_as_markup(
    ui: UI, master: MasterHandle, finished: dict[str, str]
) -> None:
    name = finished["nasty"]
    assert name.startswith(NASTY_PREFIX)
    ui.open()
    ui.until(lambda d: NASTY_OWNER in ui.texts("#job-rows td.owner"), "the owner as text")
    assert name in ui.texts("#job-rows a.job-link")
    ui.shot("escaped-list")
    ui.open(fragment(name))
    ui.until(lambda d: f"MSG: [map:0] {NASTY_MESSAGE}" in event_texts(ui), "the event as text")
    assert ui.texts("#job-name") == [name]
    assert NASTY_OWNER in ui.texts(".job-head dd")
    assert f'Created job "{name}"' in event_texts(ui)
    ui.until(lambda d: NASTY_OWNER in ui.texts("#jobdict dd"), "the job dict owner")
    # nothing was parsed as markup: no element came from the data, no script ran
    assert ui.all("img, #events b, .job-head b, #jobdict b, script:not([src])") == []
    assert len(ui.all("script")) == 1
    assert ui.driver.execute_script("return window.__pwned") is None
    ui.shot("escaped-job")


def test_nodes_page_shows_slots_running_tasks_and_blacklists(
    ui: UI, master: MasterHandle, tmp_path: Path
) -> None:
    name, release = held_job(master, tmp_path, "Busy")
    try:
        ui.open("#/nodes")
        ui.until(lambda d: len(ui.all("#node-rows tr[data-node]")) == 2, "both nodes")
        ui.until(lambda d: name in ui.texts("#node-rows td.tasks a"), "the running task's job")
        assert ui.texts('#node-rows tr[data-node="127.0.0.2"] td.slots-cell') == [" 1/2"]
        assert ui.texts('#node-rows tr[data-node="127.0.0.3"] td.slots-cell') == [" 0/1"]
        assert len(ui.all(".slot.busy")) == 1
        ui.shot("nodes")
    finally:
        release.touch()
    assert wait(master.url, name)[0] == "ready"
    ui.click('#node-rows tr[data-node="127.0.0.3"] button.blacklist')
    node = '#node-rows tr[data-node="127.0.0.3"]'
    ui.until(lambda d: ui.attr(node, "data-blacklisted") == "true", "the node blacklisted")
    blacklist = httpx.get(f"{master.url}/disco/ctrl/get_blacklist", timeout=30).json()
    assert blacklist == ["127.0.0.3"]
    ui.shot("blacklisted")
    ui.click('#node-rows tr[data-node="127.0.0.3"] button.whitelist')
    ui.until(lambda d: ui.attr(node, "data-blacklisted") == "false", "the node whitelisted")
    assert httpx.get(f"{master.url}/disco/ctrl/get_blacklist", timeout=30).json() == []


def test_settings_page_saves_settings(ui: UI, master: MasterHandle) -> None:
    ui.open("#/settings")
    field = ui.until(lambda d: ui.all("#setting-max_failure_rate"), "the settings form")[0]
    assert field.get_property("value") == "100"
    field.clear()
    field.send_keys("7")
    ui.click("#save-settings")
    ui.until(lambda d: "Settings saved" in ui.texts("#flash .flash-text"), "the reply")
    settings = httpx.get(f"{master.url}/disco/ctrl/get_settings", timeout=30).json()
    assert settings["max_failure_rate"] == 7
    ui.click("#load-table")
    ui.until(lambda d: ui.all("#table-rows tr"), "the node table")
    specs = [e.get_property("value") for e in ui.all("#table-rows input.spec")]
    assert specs == ["127.0.0.2", "127.0.0.3"]
    ui.shot("settings")
    field = ui.find("#setting-max_failure_rate")
    field.clear()
    field.send_keys("100")
    ui.click("#save-settings")
    ui.until(
        lambda d: (
            httpx.get(f"{master.url}/disco/ctrl/get_settings", timeout=30).json()[
                "max_failure_rate"
            ]
            == 100
        ),
        "the setting restored",
    )


def test_clean_and_purge_ask_twice_then_forget_the_job(
    ui: UI, master: MasterHandle, tmp_path: Path
) -> None:
    names = [submit(master.url, ui_pack(tmp_path, prefix=p)) for p in ("Cleaned", "Purged")]
    for name, button in zip(names, ("#clean", "#purge"), strict=True):
        assert wait(master.url, name)[0] == "ready"
        ui.open(fragment(name))
        ui.until(lambda d: ui.texts("#job-status .badge") == ["ready"], "the status")
        ui.click(button)
        assert ui.find(button).text.startswith("Really")
        assert jobinfo(master, name)["active"] == "ready"  # nothing happened yet
        ui.click(button)
        ui.until(lambda d: ui.find("main").get_attribute("data-page") == "JobsPage", "the jobs")
        reply = httpx.get(f"{master.url}/disco/ctrl/jobinfo", params={"name": name}, timeout=30)
        assert reply.status_code == 404
        ui.until(lambda d, gone=name: gone not in ui.texts("#job-rows a.job-link"), "it gone")


def test_token_is_asked_once_and_a_refusal_is_shown(browser: WebDriver, tmp_path: Path) -> None:
    with ReferenceMaster.start_in_thread(tmp_path / "disco", token="s3cret") as guarded:
        ui = UI(browser, guarded.url, tmp_path / "screenshots")
        ui.open("#/settings")
        ui.until(lambda d: ui.all("#setting-accept_new_jobs"), "the settings form")
        assert browser.execute_script("return sessionStorage.length") == 0

        ui.click("#save-settings")
        ui.until(lambda d: ui.find("#token-dialog").get_property("open"), "the token dialog")
        assert "token" in ui.find("#token-reason").text
        ui.find("#token-input").send_keys("wrong")
        ui.shot("token")
        ui.click("#token-ok")
        ui.until(lambda d: ui.all("#flash .flash.auth"), "the refusal")
        refusal = ui.texts("#flash .flash.auth .flash-text")[0]
        assert refusal.startswith("Refused (401): The token was refused.")
        assert browser.execute_script("return sessionStorage.length") == 0  # a wrong one is dropped
        ui.shot("refused")

        ui.click("#save-settings")
        ui.until(lambda d: ui.find("#token-dialog").get_property("open"), "the dialog again")
        ui.find("#token-input").send_keys("s3cret")
        ui.click("#token-ok")
        ui.until(lambda d: "Settings saved" in ui.texts("#flash .flash-text"), "the save")
        stored = browser.execute_script("return sessionStorage.getItem('pydisco.master.token')")
        assert stored == "s3cret"
        assert browser.execute_script("return localStorage.length") == 0
        assert "token set" in ui.find("#token-state").text

        # asked once: the next action uses the stored token without asking
        browser.execute_script("document.getElementById('flash').replaceChildren()")
        ui.click("#save-settings")
        ui.until(lambda d: "Settings saved" in ui.texts("#flash .flash-text"), "a second save")
        assert ui.find("#token-dialog").get_property("open") is False
        browser.execute_script("sessionStorage.clear()")
        assert ui.errors() == []


def test_the_docs_screenshot_script_shoots_every_page(
    browser: WebDriver, master: MasterHandle, tmp_path: Path
) -> None:
    """docs/screenshots.py (which made the pictures in docs/master.md) works as it is."""
    script = Path(__file__).parents[2] / "docs" / "screenshots.py"
    spec = importlib.util.spec_from_file_location("docs_screenshots", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        saved = module.shoot(browser, master.url, tmp_path, tmp_path / "shots", pause=0)
    finally:
        browser.set_window_size(1280, 1000)
    names = ["jobs", "job", "job-running", "nodes", "settings"]
    assert [p.name for p in saved] == [f"webui-{n}.png" for n in names]
    for path in saved:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in names:
        assert (script.parent / f"webui-{name}.png").is_file(), "docs/master.md shows each page"


def test_the_url_discotool_master_prints_opens_on_the_jobs_page(
    browser: WebDriver, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCO_")}
    command = [sys.executable, "-m", "pydisco", "master", "--port", "0", "--data", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            ui = UI(browser, url, tmp_path / "screenshots")
            browser.get(url)
            ui.until(lambda d: ui.texts("#job-rows td.empty") == ["No jobs yet."], "the jobs")
            assert ui.texts("nav a.current") == ["Jobs"]
            assert ui.errors() == []
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0


RECORD_FETCHES = """
window.__fetches = [];
const real = window.fetch;
window.fetch = function (url, init) {
  window.__fetches.push([String(url), performance.now()]);
  return real.call(this, url, init);
};
"""


@pytest.mark.parametrize("page", ["jobs", "job"])
def test_an_open_page_polls_at_most_once_a_second(
    ui: UI, master: MasterHandle, tmp_path: Path, page: str
) -> None:
    name, release = held_job(master, tmp_path, "Polled")
    try:
        ui.open("#/jobs" if page == "jobs" else fragment(name))
        ui.until(lambda d: ui.all("#job-rows tr, #events .event"), "the page")
        ui.driver.execute_script(RECORD_FETCHES)
        probe = "/disco/ctrl/joblist" if page == "jobs" else "/disco/ctrl/jobinfo"
        script = "return window.__fetches.filter(f => f[0].startsWith(arguments[0])).map(f => f[1])"
        times = ui.until(
            lambda d: (t := d.execute_script(script, probe)) and len(t) >= 3 and t, "three polls"
        )
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 990, gaps  # never sooner than a second after the last round
    finally:
        release.touch()


def test_timeline_runs_from_every_kind_of_task_end(ui: UI) -> None:
    """buildRuns over Disco's event texts (facts §9.4): each way a run ends, and slot reuse."""
    t = "2026/12/06 10:00:0"
    log = [
        (f"{t}0", "master", "map:0 assigned to a"),
        (f"{t}0", "master", "map:1 assigned to a"),
        (f"{t}1", "a", "DONE: [map:0] Task finished in 0:00:00.500"),
        (f"{t}1", "master", "map:2 assigned to a"),  # takes map:0's slot, before SYS
        (f"{t}1", "master", "SYS: [map:0] Received results from a"),
        (f"{t}2", "a", "WARNING: [map:1] disk full"),
        (f"{t}2", "master", 'Task map:1 failed on "a", 1th failures so far. Sleeping 0 seconds'),
        (f"{t}2", "master", "map:1 assigned to b"),
        (f"{t}3", "b", "FATAL: [map:1] kaput"),
        (f"{t}3", "master", "red:3 assigned to b"),
        (f"{t}4", "master", "ERROR: [red:3] Task red:3 failed 2 times. At most 1 failures..."),
    ]
    ui.open()
    ui.until(lambda d: d.execute_script("return Boolean(window.pydisco)"), "the script")
    runs = ui.driver.execute_script(
        "return window.pydisco.buildRuns(arguments[0], false).runs"
        ".map(r => [r.tag, r.host, r.slot, r.attempt, r.outcome, r.took, r.reason])",
        [list(e) for e in log],
    )
    assert runs == [
        ["map:0", "a", 0, 1, "done", 0.5, ""],
        ["map:1", "a", 1, 1, "failed", None, "disk full"],
        ["map:2", "a", 0, 1, "killed", None, ""],  # never ended: the job is over
        ["map:1", "b", 0, 2, "fatal", None, "kaput"],
        ["red:3", "b", 0, 1, "failed", None, ""],
    ]
    times = ui.driver.execute_script(
        "return window.pydisco.eventTimes(arguments[0])", [list(e) for e in log]
    )
    assert times == sorted(times) and len(set(times)) == len(times)  # spread within a second
