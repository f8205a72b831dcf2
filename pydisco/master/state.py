"""The master's state and what the HTTP API asks of it: node table, scheduler, jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from pydisco import jsoncodec
from pydisco.jobpack import InvalidJobPack, JobPack, JobPackError
from pydisco.jobpack.submit import check_submit
from pydisco.master.config import (
    MasterSettings,
    NodeTable,
    check_settings,
    default_table,
    parse_nodes_option,
)
from pydisco.master.ddfs import Ddfs
from pydisco.master.errors import ConfigError
from pydisco.master.events import append_event
from pydisco.master.job import MasterJob
from pydisco.master.jobstore import STATE_FILE, hh_dir, load_record, on_disk
from pydisco.master.layout import JobNamer, atomic_write, hexhash, node_file
from pydisco.master.nodes import Link, NodeLinks
from pydisco.master.processes import reap_all
from pydisco.master.scheduler import Scheduler
from pydisco.master.survivors import WorkerRecords

__all__ = ["MasterState", "SubmitResult"]

log = logging.getLogger("pydisco.master")

CONFIG_FILE = "config.json"
SETTINGS_KEY = "settings"
#: The longest ``get_results`` wait (Erlang's ``receive ... after`` limit, 2^32-1 ms).
MAX_WAIT_MS = 2**32 - 1
#: Seconds an index of another host (a v1 ``dir://`` job input) may take to connect or to
#: send its next bytes.
INDEX_FETCH_TIMEOUT = 60.0


class SubmitResult:
    """A job name, or Disco's reason for refusing the pack."""

    def __init__(self, name: str | None = None, reason: str | None = None) -> None:
        self.name = name
        self.reason = reason


class MasterState:
    """Jobs and nodes, without HTTP."""

    def __init__(self, settings: MasterSettings) -> None:
        self.settings = settings
        self.root = settings.master_root
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        try:
            self.table = self._load_table()
        except (ConfigError, ValueError) as exc:
            log.warning("saved node table unusable, starting from the default: %s", exc)
            self.table = default_table(settings.host)
        if settings.nodes is not None:
            fresh = parse_nodes_option(settings.nodes)
            fresh.blacklist = self.table.blacklist
            fresh.gc_blacklist = self.table.gc_blacklist
            fresh.prune()
            self.table = fresh
        self._save_table()
        #: Node connections; None until the server listens (no node is connected before).
        self.links: NodeLinks | None = None
        self.scheduler = Scheduler(
            self.table.nodes(), self.table.blacklist, link=self._link, stalled=self._stalled
        )
        self.ddfs = Ddfs(
            settings.ddfs_root,
            self.ddfs_nodes,
            lambda: self.settings.put_port,
            max_blob_bytes=settings.ddfs_max_blob_bytes,
            max_uploads=settings.ddfs_max_uploads,
            max_attributes=settings.ddfs_max_attributes,
            delayed_seconds=settings.ddfs_delayed_seconds,
        )
        self.jobs: dict[str, MasterJob] = {}
        self.namer = JobNamer()
        self.url = ""
        self.port = 0
        self.worker_records = WorkerRecords(self.root)
        self._submit_lock = asyncio.Lock()
        self._starts: set[asyncio.Task[None]] = set()
        self._http: Any = None

    def ddfs_nodes(self) -> list[tuple[str, bool]]:
        """The nodes DDFS may store on: ``(host, not blacklisted)`` in table order."""
        return [(name, not node.blacklisted) for name, node in self.scheduler.nodes.items()]

    # -- JobContext ---------------------------------------------------------------------------

    @property
    def master_url(self) -> str:
        """The URL workers are told in TASK."""
        return self.settings.master_url or self.url

    @property
    def disco_port(self) -> int:
        """The port workers use to read ``disco://`` data of other nodes."""
        return self.port

    async def fetch_index(self, url: str) -> bytes:
        """Read a ``dir://`` index (v1 dir job inputs), locally when it is ours."""
        local = node_file(url, self.scheduler.nodes, self.settings.data_dir)
        if local is not None:
            return await asyncio.to_thread(local.read_bytes)
        # Another host's index: read with the project's HTTP client stack (as a client
        # reads a job's results), imported only for this rare case.
        import httpx

        from pydisco.client.results import AsyncResultReader

        async with httpx.AsyncClient(timeout=INDEX_FETCH_TIMEOUT) as http:
            reader = AsyncResultReader(http, data_port=self.port)
            return b"".join([chunk async for chunk in reader.read([url])])

    def job_finished(self, job: MasterJob) -> None:
        """A job ended (ready or dead)."""
        log.info("job %s is %s", job.name, job.status)

    # -- nodes --------------------------------------------------------------------------------

    def _link(self, name: str) -> tuple[bool, str]:
        if self.links is None:
            return False, "the master is not listening yet"
        link = self.links.status(name)
        return link.connected, link.reason

    async def attach_links(self, links: NodeLinks) -> None:
        """Start connecting the table's nodes; returns once each has had a first attempt."""
        self.links = links
        links.track(self.table.nodes())
        await links.settle()
        self.scheduler.apply(self.table.nodes(), self.table.blacklist)

    def link_changed(self, name: str, link: Link) -> None:
        """A node became connected, or not: log it, tell running jobs, schedule."""
        if link.connected:
            log.info("node %s is connected", name)
            self._tell_jobs(f"Node {name} is connected")
        else:
            log.warning("node %s is not connected: %s", name, link.reason)
            self._tell_jobs(
                f"WARN: Node {name} is not connected: {link.reason}; no task goes there"
            )
        self.scheduler.set_link(name, link.connected, link.reason)

    def _tell_jobs(self, message: str) -> None:
        """Log an event in every running job (node changes affect them all)."""
        for job in self.jobs.values():
            if job.active and job.ctx is not None:
                job.emit(message)

    def _stalled(self, names: list[str], why: str) -> None:
        """No node can take the queued tasks of these jobs: say so in their events."""
        log.warning("no node can run tasks: %s", why)
        for name in names:
            job = self.jobs.get(name)
            if job is not None and job.active:
                job.emit(
                    f"WARN: No node can run tasks now ({why}); this job's tasks wait until one can"
                )

    # -- node table ---------------------------------------------------------------------------

    def _load_table(self) -> NodeTable:
        path = self.root / CONFIG_FILE
        if not path.exists():
            return default_table(self.settings.host)
        raw = jsoncodec.loads(path.read_bytes())
        table = NodeTable.from_json(raw)
        if isinstance(raw, dict) and isinstance(raw.get(SETTINGS_KEY), dict):
            saved = {k: str(v) for k, v in raw[SETTINGS_KEY].items() if type(v) is int}
            try:
                values = check_settings(saved)
            except ConfigError as exc:
                log.warning("saved settings ignored: %s", exc)
            else:
                for key, value in values.items():
                    setattr(self.settings, key, value)
        return table

    def _save_table(self) -> None:
        data = self.table.to_json()
        data[SETTINGS_KEY] = self.current_settings()
        atomic_write(self.root / CONFIG_FILE, jsoncodec.dumps(data))

    def apply_table(self, *, retry_now: bool = False) -> None:
        """Save the table and make the scheduler follow it (new nodes start connecting)."""
        self.table.prune()
        self._save_table()
        before = self._node_view()
        nodes = self.table.nodes()
        if self.links is not None:
            self.links.track(nodes, retry_now=retry_now)
        self.scheduler.apply(nodes, self.table.blacklist)
        after = self._node_view()
        if before != after:
            self._tell_jobs(f"Node table changed: {', '.join(after) or 'no nodes'}")

    def _node_view(self) -> list[str]:
        """``name=slots``, with what keeps new tasks off it, per node in the table."""
        view = []
        for name, state in self.scheduler.nodes.items():
            if state.in_table:
                why = state.why_unusable()
                view.append(f"{name}={state.slots}" + (f" ({why})" if why else ""))
        return view

    def reload_table(self) -> list[list[str]]:
        """``load_config_table``: re-read the config file and apply it; retry lost nodes now."""
        try:
            self.table = self._load_table()
        except (ConfigError, ValueError) as exc:
            log.warning("config table unreadable, keeping the current one: %s", exc)
        self.apply_table(retry_now=True)
        return self.table.hosts

    def save_table(self, hosts: Any) -> None:
        """``save_config_table``; raises ConfigError("duplicate nodes" / "invalid config")."""
        self.table.hosts = NodeTable.check_hosts(hosts)
        self.apply_table()

    def set_listed(self, which: str, host: str, listed: bool) -> None:
        """Add ``host`` to (or remove it from) the blacklist or the GC blacklist."""
        current: list[str] = getattr(self.table, which)
        if listed and host in self.table.nodes() and host not in current:
            current.append(host)
        elif not listed and host in current:
            current.remove(host)
        self.apply_table()

    def current_settings(self) -> dict[str, int]:
        """``get_settings``."""
        return {
            "max_failure_rate": self.settings.max_failure_rate,
            "accept_new_jobs": self.settings.accept_new_jobs,
        }

    def save_settings(self, body: Any) -> None:
        """``save_settings``; raises :class:`ConfigError` naming the bad key or value."""
        for key, value in check_settings(body).items():
            setattr(self.settings, key, value)
        self._save_table()

    # -- jobs ---------------------------------------------------------------------------------

    def restore(self) -> None:
        """Load every job on disk; jobs that were running are now dead.

        Workers a crashed master left running are killed first, and a job that
        was running gets the task counts its events and results indexes prove.
        """
        self.worker_records.kill_survivors()
        found = []
        for job_dir in on_disk(self.root):
            record = load_record(job_dir)
            created = record.get("created")
            if not isinstance(created, (int, float)):
                created = (job_dir / "jobfile").stat().st_mtime
            if record.get("status") not in ("ready", "dead"):
                append_event(
                    job_dir / "events",
                    "ERROR: Job killed because the master restarted while it was running",
                )
                record["status"] = "dead"
                if "pipeline" not in record:
                    record.update(self._describe_pack(job_dir / "jobfile"))
                record["pipeline"] = restored_rows(
                    record.get("pipeline", []),
                    job_dir / "events",
                    list(self.settings.data_dir.glob(f"*/{hexhash(job_dir.name)}/{job_dir.name}")),
                )
                record["created"] = created
                record["name"] = job_dir.name
                atomic_write(job_dir / STATE_FILE, jsoncodec.dumps(record))
            job = MasterJob(job_dir.name, job_dir, created=float(created), record=record)
            job.events.close()
            found.append(job)
        for job in sorted(found, key=lambda j: j.created):
            self.jobs[job.name] = job

    @staticmethod
    def _describe_pack(path: Path) -> dict[str, Any]:
        try:
            with JobPack.open(path) as pack:
                jd = pack.jobdict
        except (OSError, JobPackError):
            return {}
        return {
            "owner": jd.owner,
            "worker": jd.worker,
            "inputs": [u for i in jd.inputs for u in i.urls],
            "pipeline": [[s.name, 0, 0, 0, 0, 0] for s in jd.pipeline],
        }

    async def submit(self, pack_path: Path) -> SubmitResult:
        """Validate a received pack (a temp file), and start its job."""
        try:
            jobdict, envs = await asyncio.to_thread(_open_pack, pack_path, self.settings)
        except InvalidJobPack as exc:
            pack_path.unlink(missing_ok=True)
            if exc.check == "payload":
                # Disco's reason here is Erlang's crash text (function_clause, badarg...).
                return SubmitResult(reason=f"{exc.message} (Disco: {exc.reason})")
            return SubmitResult(reason=exc.reason)
        except (JobPackError, OSError) as exc:
            pack_path.unlink(missing_ok=True)
            return SubmitResult(reason=jsoncodec.dumps_text(str(exc)))
        async with self._submit_lock:
            name = self.namer.make(jobdict.prefix)
            while name in self.jobs:
                name = self.namer.make(jobdict.prefix)
            job_dir = hh_dir(self.root, name)
            job_dir.mkdir(parents=True)
            pack_path.replace(job_dir / "jobfile")
            job = MasterJob(
                name, job_dir, created=time.time(), jobdict=jobdict, envs=envs, ctx=self
            )
            self.jobs[name] = job
        job.emit("New job initialized!")
        job.emit(f'Created job "{name}"')
        for node in self.scheduler.nodes.values():
            if node.in_table and not node.connected:
                job.emit(
                    f"WARN: Node {node.name} is not connected: {node.reason}; no task goes there"
                )
        if not any(not n.blacklisted and n.slots > 0 for n in self.scheduler.nodes.values()):
            job.emit(
                "WARNING: no node can run its tasks now (every node in the table is "
                "blacklisted); they wait until a node is whitelisted or added"
            )
        job.save()
        start = asyncio.get_running_loop().create_task(job.start())
        self._starts.add(start)
        start.add_done_callback(self._starts.discard)
        return SubmitResult(name=name)

    def status(self, name: str) -> str:
        """``active``, ``ready``, ``dead`` or ``unknown job``."""
        job = self.jobs.get(name)
        return job.status if job else "unknown job"

    async def get_results(self, timeout_ms: int, names: list[str]) -> list[Any]:
        """``get_results``: wait up to ``timeout_ms`` for any active one to end.

        The wait is one future, woken by the jobs' end watchers or a loop timer:
        nothing is spawned, so a cancelled request (client gone, master stopping)
        leaves no task or coroutine behind.
        """
        active = [job for name in names if (job := self.jobs.get(name)) and job.active]
        if active and timeout_ms > 0:
            loop = asyncio.get_running_loop()
            woken: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not woken.done():
                    woken.set_result(None)

            timer = loop.call_later(min(timeout_ms, MAX_WAIT_MS) / 1000, wake)
            for job in active:
                job.end_watchers.add(wake)
            try:
                await woken
            finally:
                timer.cancel()
                for job in active:
                    job.end_watchers.discard(wake)
        reply = []
        for name in names:
            job = self.jobs.get(name)
            status = job.status if job else "unknown job"
            results: list[Any] = []
            if job and status == "ready":
                results = [job.results_tag] if job.results_tag else job.results
            reply.append([name, [status, results]])
        return reply

    async def kill(self, name: str) -> None:
        """``kill_job``."""
        job = self.jobs.get(name)
        if job is not None and job.active:
            job.kill()
            await job.wait_runs()

    async def clean(self, name: str) -> None:
        """``clean_job``: kill, delete the master job dir, forget the job."""
        await self.kill(name)
        job = self.jobs.pop(name, None)
        if job is not None:
            job.events.close()
        if _safe_name(name):
            await asyncio.to_thread(shutil.rmtree, hh_dir(self.root, name), True)

    async def purge(self, name: str) -> None:
        """``purge_job``: clean, then delete the job's data on every node."""
        await self.clean(name)
        if not _safe_name(name):
            return
        data = self.settings.data_dir
        hosts = set(self.table.nodes())
        with contextlib.suppress(OSError):
            hosts.update(p.name for p in data.iterdir() if p.is_dir() and p.name[:1] != "_")
        for host in sorted(hosts):
            target = data / host / hexhash(name) / name
            if target.is_dir():
                await asyncio.to_thread(shutil.rmtree, target, True)
        await self.ddfs.forget_job(name)

    async def shutdown(self) -> None:
        """Kill every running job (their workers die) and mark it dead on disk."""
        if self.links is not None:
            self.links.close()
        for start in list(self._starts):
            start.cancel()
        for job in list(self.jobs.values()):
            if job.active and job.ctx is not None:
                job.emit("ERROR: Job killed because the master is stopping")
                job.fail()
        for job in list(self.jobs.values()):
            await job.wait_runs()
            job.events.close()
        await self.scheduler.drain()
        await reap_all()
        self.worker_records.close()


_SCHEDULED = re.compile(r"^Stage (.+) scheduled with (\d+) tasks$")
_RECEIVED = re.compile(r"^SYS: \[(.+):(\d+)\] Received results from ")
_FAILED = re.compile(r'^Task (.+):(\d+) failed on "')
_FATAL = re.compile(r"^FATAL: \[(.+):(\d+)\] ")
_INDEX = re.compile(r"^(.+)-(\d+)-\d+\.results$")


def restored_rows(rows: list[Any], events: Path, homes: list[Path]) -> list[list[Any]]:
    """A crashed job's ``[stage, pending, waiting, running, done, failed]`` rows, rebuilt.

    ``state.json`` is saved at stage boundaries only, so its counts are stale
    after a crash. The events say how many tasks each stage had, which sent
    results and which failed; a results index in a node's job home (written
    and fsynced before a task counts as done) proves a task done too. Nothing
    runs any more: pending and running are 0, the rest is waiting.
    """
    names = [row[0] for row in rows if isinstance(row, list) and row and isinstance(row[0], str)]
    total: dict[str, int] = {}
    done: dict[str, set[int]] = {name: set() for name in names}
    failed: dict[str, int] = dict.fromkeys(names, 0)
    with contextlib.suppress(OSError), events.open("rb") as lines:
        for line in lines:
            try:
                message = jsoncodec.loads(line)[2]
            except (jsoncodec.JSONError, IndexError, KeyError, TypeError):
                continue
            if not isinstance(message, str):
                continue
            if match := _SCHEDULED.match(message):
                total[match[1]] = int(match[2])
            elif match := _RECEIVED.match(message):
                done.setdefault(match[1], set()).add(int(match[2]))
            elif (match := _FAILED.match(message)) or (match := _FATAL.match(message)):
                failed[match[1]] = failed.get(match[1], 0) + 1
    for home in homes:
        with contextlib.suppress(OSError):
            for index in (home / ".disco").iterdir():
                if match := _INDEX.match(index.name):
                    done.setdefault(match[1], set()).add(int(match[2]))
    restored = []
    for name in names:
        finished = len(done.get(name, ()))
        tasks = max(total.get(name, 0), finished)
        restored.append([name, 0, tasks - finished, 0, finished, failed.get(name, 0)])
    return restored


def _open_pack(path: Path, settings: MasterSettings) -> tuple[Any, dict[str, str]]:
    """Validate the pack and read its whole job home without writing it (off the loop)."""
    with JobPack.open(path) as pack:
        jobdict = pack.jobdict
        check_submit(jobdict.raw, pack.raw_jobenvs)
        pack.verify_jobhome(worker=jobdict.worker, **settings.jobhome_limits())
        return jobdict, dict(pack.jobenvs)


def _safe_name(name: str) -> bool:
    """Disco refuses to delete dirs of names with ``/`` or ``.``; so do we (and empty ones)."""
    return bool(name) and "/" not in name and "." not in name and "\x00" not in name
