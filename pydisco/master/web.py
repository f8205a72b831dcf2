"""The HTTP API (facts §9) and data serving (facts §6.3), as an aiohttp application.

Reply kinds follow Disco: JSON values are 200 ``application/json``; raw text is
200 ``text/plain``; unknown things are 404 ``Not found.``; refused requests are
400 with a JSON string saying why. Where Disco crashes (500) on a bad request,
this answers 400 with a JSON error instead.
"""

from __future__ import annotations

import hmac
import os
import tempfile
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from pydisco import __version__, jsoncodec
from pydisco.identity import HEADER as IDENTITY_HEADER
from pydisco.integers import parse_decimal
from pydisco.master.config import DISCO_VERSION, MAX_CTRL_BODY_BYTES
from pydisco.master.errors import ConfigError
from pydisco.master.events import filter_events
from pydisco.master.files import serve_file
from pydisco.master.state import MasterState
from pydisco.master.webui import add_routes as add_webui_routes

__all__ = ["MUTATING", "make_app"]

#: Requests that change state; they need the token when one is set.
MUTATING = frozenset(
    {
        "kill_job",
        "purge_job",
        "clean_job",
        "blacklist",
        "whitelist",
        "gc_blacklist",
        "gc_whitelist",
        "save_config_table",
        "save_settings",
        "load_config_table",
    }
)
#: How many events ``jobevents`` returns at most.
MAX_EVENTS = 1000
COPY_CHUNK = 1 << 20
#: mochiweb's plain-text header, as Disco sends it (aiohttp would add a charset).
TEXT_PLAIN = {"Content-Type": "text/plain"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request Disco would refuse (or crash on): 400 with a JSON string."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def ok(value: Any) -> web.Response:
    """Disco's ``{ok, T}``: 200 JSON."""
    return web.Response(body=jsoncodec.dumps(value), content_type="application/json")


def text(body: str, status: int = 200) -> web.Response:
    """A plain-text reply with Disco's exact ``Content-Type: text/plain`` (no charset)."""
    return web.Response(status=status, body=body.encode(), headers=TEXT_PLAIN)


def raw(body: str) -> web.Response:
    """Disco's ``{raw, D}``: 200 text/plain."""
    return text(body)


def not_found() -> web.Response:
    """Disco's ``not_found``."""
    return text("Not found.", 404)


def refused(reason: str, status: int = 400) -> web.Response:
    """A JSON error string."""
    return web.Response(
        status=status, body=jsoncodec.dumps(reason), content_type="application/json"
    )


def make_app(state: MasterState) -> web.Application:
    """The aiohttp application serving ``state``."""
    app = web.Application(client_max_size=MAX_CTRL_BODY_BYTES, middlewares=[_refusals])
    app.on_response_prepare.append(_identify)
    add_webui_routes(app)  # `/` and `/ui/*`: the status page (facts §9.1)
    Api(state).add_routes(app.router)
    return app


@web.middleware
async def _refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A :class:`Refused` request gets its JSON reason."""
    try:
        return await handler(request)
    except Refused as exc:
        return refused(exc.reason, exc.status)


async def _identify(_request: web.Request, response: web.StreamResponse) -> None:
    """Mark every reply as the reference master's (see :mod:`pydisco.identity`)."""
    response.headers[IDENTITY_HEADER] = __version__


class Api:
    """Request handlers; one instance per master."""

    def __init__(self, state: MasterState) -> None:
        self.state = state
        self.data = state.settings.data_dir.resolve()
        self.get_ops: dict[str, Handler] = {
            "joblist": self.joblist,
            "jobinfo": self.jobinfo,
            "parameters": self.parameters,
            "rawevents": self.rawevents,
            "jobevents": self.jobevents,
            "nodeinfo": self.nodeinfo,
            "get_blacklist": self.get_blacklist,
            "get_gc_blacklist": self.get_gc_blacklist,
            "get_settings": self.get_settings,
            "get_stageresults": self.get_stageresults,
            "load_config_table": self.load_config_table,
        }
        self.post_ops: dict[str, Callable[[Any], Awaitable[web.StreamResponse]]] = {
            "kill_job": self.kill_job,
            "purge_job": self.purge_job,
            "clean_job": self.clean_job,
            "get_results": self.get_results,
            "blacklist": self.blacklist,
            "whitelist": self.whitelist,
            "gc_blacklist": self.gc_blacklist,
            "gc_whitelist": self.gc_whitelist,
            "save_config_table": self.save_config_table,
            "save_settings": self.save_settings,
        }

    # -- routes --------------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """One named route per endpoint, as Disco's ``disco_web`` has them.

        aiohttp tries the longest matching path first, so a request that names
        no endpoint (a wrong method, an unknown operation) falls through to
        ``/disco/ctrl/{op}`` (404, after the token check of a request that
        changes state), ``/disco/{path}`` (data serving) or ``/{tail}`` (404):
        Disco's ``Not found.``, never aiohttp's own 404 or 405.
        """
        router.add_route("GET", "/disco/version", self.version, name="version")
        submit = router.add_resource("/disco/job/{name:[^/]*}", name="new_job")
        submit.add_route("POST", self.new_job)
        submit.add_route("*", self.not_found)
        for op, handler in self.get_ops.items():
            router.add_route("GET", f"/disco/ctrl/{op}", self._guarded(op, handler), name=op)
        for op, post in self.post_ops.items():
            router.add_route("POST", f"/disco/ctrl/{op}", self._posted(op, post), name=op)
        router.add_route("*", "/disco/ctrl/{op}", self.unknown_op, name="ctrl")
        router.add_route("*", "/ddfs/{path:.*}", self.state.ddfs.api.dispatch, name="ddfs")
        router.add_route("*", "/disco/{path:.*}", self.data_file, name="data")
        router.add_route("*", "/{path:.*}", self.not_found, name="not_found")

    def _guarded(self, op: str, handler: Handler) -> Handler:
        """``handler``, behind the token check when ``op`` changes state."""
        if op not in MUTATING:
            return handler

        async def guarded(request: web.Request) -> web.StreamResponse:
            self._authorise(request)
            return await handler(request)

        return guarded

    def _posted(self, op: str, handler: Callable[[Any], Awaitable[web.StreamResponse]]) -> Handler:
        """A POST operation: token check when it changes state, then its JSON body."""

        async def posted(request: web.Request) -> web.StreamResponse:
            return await handler(await self._body(request))

        return self._guarded(op, posted)

    async def version(self, request: web.Request) -> web.StreamResponse:
        """``GET /disco/version``."""
        return ok(DISCO_VERSION)

    async def unknown_op(self, request: web.Request) -> web.StreamResponse:
        """``/disco/ctrl/<op>`` that names no operation for this method: 404."""
        if request.match_info["op"] in MUTATING:
            self._authorise(request)
        return not_found()

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Anything no endpoint serves."""
        return not_found()

    def _authorise(self, request: web.Request) -> None:
        token = self.state.settings.token
        if token is None:
            return
        given = request.headers.get("X-Disco-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer ") :]
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Refused(
                "This master requires a token on requests that change state: send "
                "'Authorization: Bearer <token>' or 'X-Disco-Token: <token>'.",
                401,
            )

    async def _body(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_CTRL_BODY_BYTES:
            raise Refused("Request body too large", 413)
        data = await request.read()
        try:
            value = jsoncodec.loads(data)
        except jsoncodec.JSONError as exc:
            raise Refused(f"The request body is not valid JSON: {exc}") from None
        if not _unicode(value):
            raise Refused(
                "The request body holds a string that is not Unicode text (a lone surrogate "
                "escape such as \\ud800); send names and values as UTF-8 text."
            )
        return value

    def _job(self, request: web.Request) -> Any:
        name = request.query.get("name")
        if name is None:
            raise Refused("The 'name' parameter is missing.")
        return self.state.jobs.get(name)

    # -- job submission ------------------------------------------------------------------------

    async def new_job(self, request: web.Request) -> web.StreamResponse:
        """``POST /disco/job/<anything>``: stream the pack to disk, validate, start."""
        self._authorise(request)
        settings = self.state.settings
        if settings.accept_new_jobs == 0:
            return text("No new jobs should be submitted to this cluster.", 403)
        limit = settings.max_jobpack_bytes
        too_large = text("Job packet too large", 413)
        too_large.force_close()  # the rest of the body is never read
        if request.content_length is not None and request.content_length > limit:
            return too_large
        fd, tmp_name = tempfile.mkstemp(prefix="jobpack-", dir=self.state.root / "tmp")
        tmp = Path(tmp_name)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.content.iter_chunked(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        tmp.unlink(missing_ok=True)
                        return too_large
                    out.write(chunk)
            result = await self.state.submit(tmp)
        finally:
            if tmp.exists():
                tmp.unlink(missing_ok=True)
        if result.name is not None:
            return ok(["ok", result.name])
        return ok(["error", f"Job failed to start: {result.reason}"])

    # -- GET ops -------------------------------------------------------------------------------

    async def joblist(self, request: web.Request) -> web.StreamResponse:
        jobs = sorted(self.state.jobs.values(), key=lambda j: j.created, reverse=True)
        return ok([[int(j.created), j.status, j.name] for j in jobs])

    async def jobinfo(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        return ok(job.info()) if job else not_found()

    async def parameters(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None or not job.pack_path.is_file():
            return not_found()
        return await serve_file(request, job.pack_path, "text/plain")

    async def rawevents(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None:
            return not_found()
        job.events.flush()
        if not job.events.path.is_file():
            return not_found()
        return await serve_file(request, job.events.path, "text/plain")

    async def jobevents(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None:
            return not_found()
        asked = parse_decimal(request.query.get("num", "10"), signed=True)
        if asked is None:
            raise Refused("The 'num' parameter must be an integer.")
        num = min(asked, MAX_EVENTS)
        query = request.query.get("filter", "")
        job.events.flush()
        try:
            data = job.events.path.read_bytes()
        except OSError:
            data = b""
        # Only whole lines that are JSON arrays are spliced in: a torn last line (a crash
        # mid-write) or a damaged file cannot turn the reply into invalid JSON.
        lines = [
            line + "\n"
            for line in data.decode("ascii", "replace").splitlines()
            if _is_event_line(line)
        ]
        if query:
            chosen = filter_events(lines, query, max(num, 0))
        else:
            chosen = list(reversed(lines[-num:])) if num > 0 else []
        if not chosen:
            return raw("")
        # Disco splices each line in as raw JSON: ``[`` + lines joined by ``,`` + ``]``,
        # so every element is the event's own ``[time, host, message]`` array.
        return raw("[" + ",".join(chosen) + "]")

    async def nodeinfo(self, request: web.Request) -> web.StreamResponse:
        disk = disk_kb(self.data)
        reply = {}
        for name, node in self.state.scheduler.nodes.items():
            if not node.in_table:
                continue  # left the table; listed again if it comes back
            entry: dict[str, Any] = {
                "job_ok": node.job_ok,
                "data_error": node.data_error,
                "error": node.error,
                "max_workers": node.slots,
                "connected": node.connected,
                "blacklisted": node.blacklisted,
            }
            if node.tasks:
                entry["tasks"] = list(node.tasks)
            if disk is not None:
                entry["diskfree"], entry["diskused"] = disk
            reply[name] = entry
        return ok(reply)

    async def get_blacklist(self, request: web.Request) -> web.StreamResponse:
        return ok(self.state.table.blacklist)

    async def get_gc_blacklist(self, request: web.Request) -> web.StreamResponse:
        return ok(self.state.table.gc_blacklist)

    async def get_settings(self, request: web.Request) -> web.StreamResponse:
        return ok(self.state.current_settings())

    async def get_stageresults(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        stage = request.query.get("stage")
        if stage is None:
            raise Refused("The 'stage' parameter is missing.")
        if job is None or stage not in job.stage_results:
            return not_found()
        return ok(job.stage_results[stage])

    async def load_config_table(self, request: web.Request) -> web.StreamResponse:
        return ok(self.state.reload_table())

    # -- POST ops ------------------------------------------------------------------------------

    @staticmethod
    def _string(body: Any) -> str:
        if not isinstance(body, str):
            raise Refused(f"string expected, '{jsoncodec.dumps_text(body)}' received")
        return body

    async def kill_job(self, body: Any) -> web.StreamResponse:
        await self.state.kill(self._string(body))
        return ok("")

    async def purge_job(self, body: Any) -> web.StreamResponse:
        await self.state.purge(self._string(body))
        return ok("")

    async def clean_job(self, body: Any) -> web.StreamResponse:
        await self.state.clean(self._string(body))
        return ok("")

    async def get_results(self, body: Any) -> web.StreamResponse:
        if (
            not isinstance(body, list)
            or len(body) != 2
            or not isinstance(body[0], int)
            or isinstance(body[0], bool)
            or not isinstance(body[1], list)
            or not all(isinstance(n, str) for n in body[1])
        ):
            raise Refused(
                f"[timeout_ms, [job names]] expected, '{jsoncodec.dumps_text(body)}' received"
            )
        return ok(await self.state.get_results(max(body[0], 0), body[1]))

    async def blacklist(self, body: Any) -> web.StreamResponse:
        self.state.set_listed("blacklist", self._string(body), True)
        return ok("")

    async def whitelist(self, body: Any) -> web.StreamResponse:
        self.state.set_listed("blacklist", self._string(body), False)
        return ok("")

    async def gc_blacklist(self, body: Any) -> web.StreamResponse:
        self.state.set_listed("gc_blacklist", self._string(body), True)
        return ok("")

    async def gc_whitelist(self, body: Any) -> web.StreamResponse:
        self.state.set_listed("gc_blacklist", self._string(body), False)
        return ok("")

    async def save_config_table(self, body: Any) -> web.StreamResponse:
        try:
            self.state.save_table(body)
        except ConfigError as exc:
            raise Refused(str(exc)) from None
        return ok("table saved!")

    async def save_settings(self, body: Any) -> web.StreamResponse:
        try:
            self.state.save_settings(body)
        except ConfigError as exc:
            raise Refused(str(exc)) from None
        return ok("Settings saved")

    # -- data ----------------------------------------------------------------------------------

    async def data_file(self, request: web.Request) -> web.StreamResponse:
        """``GET /disco/<path>``: a file under the data directory, never outside it."""
        # The path as sent (still percent-encoded): its segments are checked before decoding.
        raw_path = request.raw_path.split("?", 1)[0]
        if request.method not in ("GET", "HEAD") or not raw_path.startswith("/disco/"):
            return not_found()
        rel = urllib.parse.unquote(raw_path[len("/disco/") :])
        if not rel or "\x00" in rel or any(p in ("", ".", "..") for p in rel.split("/")):
            return not_found()  # empty segments (a trailing slash too), dots, absolute paths
        target = self.data / rel
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return not_found()
        if not real.is_relative_to(self.data):
            return not_found()
        if real.is_dir():
            return text("Forbidden", 403)
        if not real.is_file():
            return not_found()
        return await serve_file(request, real, "application/octet-stream")


def _unicode(value: Any) -> bool:
    """Whether every string in a decoded JSON value (keys too) is encodable text.

    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return True


def _is_event_line(line: str) -> bool:
    """Whether ``line`` is one whole event: a JSON array of three values."""
    if not line.startswith("["):
        return False
    try:
        value = jsoncodec.loads(line)
    except jsoncodec.JSONError:
        return False
    return isinstance(value, list) and len(value) == 3


def disk_kb(path: Path) -> tuple[int, int] | None:
    """``(free, used)`` of the file system holding ``path``, in KiB as ``df -k`` gives them.

    Every node keeps its data under the one data directory, so they share the figure.
    """
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize // 1024
    used = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
    return free, used
