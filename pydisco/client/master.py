"""Blocking and asynchronous clients for a Disco master's HTTP API.

:class:`Master` and :class:`AsyncMaster` hold the policy (URL, token, timeouts,
retries) and run the endpoint calls that :mod:`pydisco.client._api` describes
over an ``httpx`` transport. Pass ``transport=httpx.MockTransport(handler)``
(for either client) to test without a server.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import httpx

from pydisco.client import _api, _ddfs_api
from pydisco.client.config import ClientConfig
from pydisco.client.errors import (
    BadReply,
    ClientError,
    JobFailed,
    JobUnknown,
    MasterUnreachable,
    WaitTimeout,
)
from pydisco.client.models import Event, JobInfo, JobResults, JobStatus
from pydisco.client.results import (
    AsyncResultReader,
    ResultFile,
    ResultReader,
    in_thread,
    sleep,
)
from pydisco.identity import is_reference_master

if TYPE_CHECKING:
    from pydisco.jobpack import JobPack

__all__ = ["AsyncMaster", "JobPackSource", "Master"]

T = TypeVar("T")
P = ParamSpec("P")

#: A job pack to submit: a path, or a seekable binary file object.
JobPackSource = str | os.PathLike[str] | IO[bytes]

#: Transport-level failures worth retrying: nothing (or nothing whole) came back.
_RETRYABLE = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


class _LazyTls(httpx.BaseTransport):
    """The ``https://`` transport of a client for a plain-http master, made on first use.

    A default transport builds a TLS context with the whole trust store when
    it is created (tens of milliseconds of CPU); an ``http://`` master rarely
    sends a client to an ``https://`` URL, so that is paid only if it does,
    and then with the same verification as any client.
    """

    def __init__(self) -> None:
        self._transport: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.HTTPTransport()
        return self._transport.handle_request(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _AsyncLazyTls(httpx.AsyncBaseTransport):
    """The asynchronous twin of :class:`_LazyTls`."""

    def __init__(self) -> None:
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport()
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


def _plain_context() -> Any:
    """A TLS context that trusts nothing, for transports that only ever speak plain HTTP."""
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _is_plain(url: str) -> bool:
    return url.startswith("http://")


@contextlib.contextmanager
def _binary_jobpack(source: JobPackSource) -> Iterator[_api.Upload]:
    """The job pack as a binary-form upload; a zip-form one is converted to a temp file."""
    from pydisco.jobpack import open_binary

    with open_binary(source) as fileobj:
        yield _api.Upload.of(fileobj)


def _describe(method: Callable[..., Any], factory: Callable[..., Any], name: str) -> None:
    """Give a generated method its name, the call's docstring and a signature with ``self``."""
    signature = inspect.signature(factory)
    returns = str(signature.return_annotation)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__name__ = name
    method.__doc__ = factory.__doc__
    method.__dict__["__signature__"] = signature.replace(
        parameters=[self_param, *signature.parameters.values()],
        return_annotation=returns.removeprefix("Call[").removesuffix("]"),
    )


def _blocking(factory: Callable[P, _api.Call[T]], name: str) -> Callable[Concatenate[Master, P], T]:
    """The :class:`Master` method for the endpoint ``factory`` describes: it runs the call."""

    def method(self: Master, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.execute(factory(*args, **kwargs))

    _describe(method, factory, name)
    return method


def _awaited(
    factory: Callable[P, _api.Call[T]], name: str
) -> Callable[Concatenate[AsyncMaster, P], Coroutine[Any, Any, T]]:
    """The :class:`AsyncMaster` method for the endpoint ``factory`` describes: awaits the call."""

    async def method(self: AsyncMaster, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.execute(factory(*args, **kwargs))

    _describe(method, factory, name)
    return method


class _Base:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        #: Whether the master is pydisco's reference master (it keeps jobs across restarts)
        #: or a real Disco master, as its last reply said; ``None`` before any reply.
        self.reference_master: bool | None = None

    def _reply(self, response: httpx.Response, body: bytes) -> _api.Reply:
        """The finished reply; notes which kind of master sent it."""
        self.reference_master = is_reference_master(response.headers)
        return _api.Reply(response.status_code, body, str(response.url), dict(response.headers))

    @property
    def url(self) -> str:
        """The master's base URL."""
        return self.config.url

    def _timeout(self, call: _api.Call[Any]) -> httpx.Timeout:
        return httpx.Timeout(
            self.config.timeout,
            connect=self.config.connect_timeout,
            read=self.config.timeout + call.extra_timeout,
        )

    def _request_args(self, call: _api.Call[Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "method": call.method,
            "url": self._target(call),
            "params": list(call.params),
            "headers": call.request_headers(),
            "timeout": self._timeout(call),
        }
        if call.body is not None:
            args["content"] = call.body
        return args

    def _target(self, call: _api.Call[Any]) -> str:
        """The master's URL + the call's path; an absolute path (a DDFS upload URL) as it is."""
        return call.path if "://" in call.path else self.config.url + call.path

    def _full_url(self, call: _api.Call[Any]) -> str:
        return str(httpx.URL(self._target(call), params=list(call.params)))

    def _unreachable(self, call: _api.Call[Any], exc: Exception) -> MasterUnreachable:
        if isinstance(exc, httpx.ConnectTimeout):
            return MasterUnreachable(
                self._full_url(call), f"no connection within {self.config.connect_timeout:g} s"
            )
        if isinstance(exc, httpx.TimeoutException):
            return MasterUnreachable(
                self._full_url(call), f"no answer within {self._timeout(call).read:g} s"
            )
        return MasterUnreachable(self._full_url(call), _reason(exc))

    def _should_retry(self, attempt: int) -> bool:
        return attempt < self.config.retries


def _wait_outcome(result: JobResults, reference_master: bool | None) -> bool:
    """Whether waiting is over: ``True`` when ready; raises for unknown jobs."""
    if result.status is JobStatus.READY:
        return True
    if result.status is JobStatus.UNKNOWN:
        raise JobUnknown(result.name, reference_master=reference_master)
    return False


class _WaitClock:
    """The timing of :meth:`Master.wait` (shared by both clients; no I/O, no sleeping).

    Each poll is a ``get_results`` long poll of up to ``poll_interval``, cut
    short by the deadline. A master that answers at once is not polled in a
    busy loop: :meth:`end_poll` returns how long to sleep before the next poll.
    """

    def __init__(self, name: str, timeout: float | None, poll_interval: float, url: str) -> None:
        self.name = name
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.url = url
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.started = 0.0
        self.poll = poll_interval

    def start_poll(self) -> int:
        """Milliseconds the next ``get_results`` may wait."""
        self.started = time.monotonic()
        self.poll = self.poll_interval
        if self.deadline is not None:
            self.poll = max(min(self.poll, self.deadline - self.started), 0.0)
        return int(self.poll * 1000)

    def end_poll(self) -> float:
        """Seconds to sleep before the next poll; raises :class:`WaitTimeout` when time is up."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise WaitTimeout(self.name, self.timeout or 0.0, self.url)
        return max(self.poll - (now - self.started), 0.0)


def _temp_pack_file() -> IO[bytes]:
    """An anonymous temporary file for a downloaded job pack (the pack closes it)."""
    return tempfile.TemporaryFile(prefix="pydisco-jobpack-")


def _open_pack(temp: IO[bytes]) -> JobPack:
    from pydisco.jobpack import JobPack

    temp.seek(0)
    return JobPack(temp, strict=False, close=True)


def _jobdict_of(pack: JobPack, url: str) -> dict[str, Any]:
    jobdict = pack.raw_jobdict
    if not isinstance(jobdict, dict):
        raise BadReply(url, "a job pack whose job dict is a JSON object", jobdict)
    return jobdict


def _tag_entry(entry: Any) -> str | None:
    """The ``tag://`` URL a result entry is (saved results), or None."""
    first = entry if isinstance(entry, str) else (entry[0] if entry else "")
    return first if isinstance(first, str) and first.startswith("tag://") else None


def _ready_entries(result: JobResults, url: str, reference_master: bool | None) -> Sequence[Any]:
    """A ready job's result entries; a clear error for any other status."""
    if result.status is not JobStatus.READY:
        _wait_outcome(result, reference_master)
        raise ClientError(
            f"Job {result.name} has no results (status {result.status}). Wait for it "
            f"with 'discotool wait {result.name}'; if it is dead, see why with "
            f"'discotool events {result.name}'.",
            url=url,
        )
    return result.results


class Master(_Base):
    """A blocking client for one Disco master.

    ``Master()`` talks to ``DISCO_MASTER`` (or ``http://127.0.0.1:8989``);
    ``Master("http://disco:8989", token=...)`` to another one. Use it as a
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        config: ClientConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        **policy: float,
    ) -> None:
        super().__init__(config or ClientConfig.from_env(url, token, None, **policy))
        mounts: dict[str, httpx.BaseTransport | None] = {}
        if transport is None and _is_plain(self.config.url):
            # http:// needs no TLS context (nor httpcore: see _plainhttp); https:// (a
            # redirect) gets httpx's own transport, verifying, when it happens.
            from pydisco.client._plainhttp import PlainHTTPTransport

            transport = PlainHTTPTransport()
            mounts["https://"] = _LazyTls()
        self._http = httpx.Client(
            headers=self.config.headers(),
            transport=transport,
            mounts=mounts,
            follow_redirects=True,
        )
        self._sleep: Callable[[float], None] = time.sleep

    def __enter__(self) -> Master:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    @property
    def http(self) -> httpx.Client:
        """The underlying ``httpx`` client (result readers share it)."""
        return self._http

    def execute(self, call: _api.Call[T]) -> T:
        """Send ``call`` (retrying connection failures and 503) and parse its reply."""
        attempt = 0
        while True:
            args = self._request_args(call)
            if call.upload is not None:
                args["content"] = call.upload.chunks()
            try:
                with self._http.stream(**args) as response:
                    if response.status_code == 503 and self._should_retry(attempt):
                        response.read()
                    else:
                        reply = self._finish(call, response)
                        return call.parse(_api.check(call, reply))
            except _RETRYABLE as exc:
                if not self._should_retry(attempt):
                    raise self._unreachable(call, exc) from None
            except httpx.HTTPError as exc:
                raise self._unreachable(call, exc) from None
            self._sleep(self.config.delay(attempt))
            attempt += 1

    def _finish(self, call: _api.Call[Any], response: httpx.Response) -> _api.Reply:
        if call.sink is not None and response.is_success:
            try:
                for chunk in response.iter_bytes():
                    call.sink.write(chunk)
            except httpx.HTTPError as exc:  # part is written already: no retry
                raise self._unreachable(call, exc) from None
            body = b""
        else:
            body = response.read()
        return self._reply(response, body)

    # -- endpoints ---------------------------------------------------------------------
    # One call each, described once in _api (request, parser, docstring); AsyncMaster
    # lists the same names (tests/client/test_parity.py compares the two surfaces).

    version = _blocking(_api.version, "version")
    joblist = _blocking(_api.joblist, "joblist")
    jobinfo = _blocking(_api.jobinfo, "jobinfo")
    jobpack_bytes = _blocking(_api.jobpack_bytes, "jobpack_bytes")
    jobevents = _blocking(_api.jobevents, "jobevents")
    nodeinfo = _blocking(_api.nodeinfo, "nodeinfo")
    blacklisted = _blocking(_api.get_blacklist, "blacklisted")
    gc_blacklisted = _blocking(_api.get_gc_blacklist, "gc_blacklisted")
    blacklist = _blocking(_api.blacklist, "blacklist")
    whitelist = _blocking(_api.whitelist, "whitelist")
    gc_blacklist = _blocking(_api.gc_blacklist, "gc_blacklist")
    gc_whitelist = _blocking(_api.gc_whitelist, "gc_whitelist")
    settings = _blocking(_api.get_settings, "settings")
    save_settings = _blocking(_api.save_settings, "save_settings")
    stageresults = _blocking(_api.stageresults, "stageresults")
    config_table = _blocking(_api.load_config_table, "config_table")
    save_config_table = _blocking(_api.save_config_table, "save_config_table")
    kill = _blocking(_api.kill_job, "kill")
    clean = _blocking(_api.clean_job, "clean")
    purge = _blocking(_api.purge_job, "purge")
    get_results = _blocking(_api.get_results, "get_results")

    def submit(self, jobpack: JobPackSource) -> str:
        """Submit a job pack (binary or zip form, streamed); returns the job's name."""
        with _binary_jobpack(jobpack) as upload:
            return self.execute(_api.submit(upload))

    def download_jobpack(self, name: str, dest: str | os.PathLike[str] | IO[bytes]) -> None:
        """Stream the job pack as submitted to a path or a binary file object."""
        if isinstance(dest, (str, os.PathLike)):
            path = Path(dest)
            partial = path.with_name(path.name + ".part")
            try:
                with open(partial, "wb") as out:
                    self.execute(_api.jobpack(name, sink=out))
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
        else:
            self.execute(_api.jobpack(name, sink=dest))

    def jobpack(self, name: str) -> JobPack:
        """The submitted job pack, parsed; a temporary file backs it until it is closed."""
        temp = _temp_pack_file()
        try:
            self.download_jobpack(name, temp)
            return _open_pack(temp)
        except BaseException:
            temp.close()
            raise

    def jobdict(self, name: str) -> dict[str, Any]:
        """The job's job dict, as the submitted job pack holds it."""
        with self.jobpack(name) as pack:
            return _jobdict_of(pack, self.url)

    def rawevents(self, name: str, offset: int = 0) -> bytes:
        """The events file from byte ``offset`` (unsatisfiable ranges handled)."""
        return _api.rawevents_body(self.execute(_api.rawevents(name, offset)), offset)

    def events(self, name: str, offset: int = 0) -> tuple[list[Event], int]:
        """The complete event lines from byte ``offset``, and the offset after them."""
        cursor = _api.EventCursor(name, offset)
        events = cursor.feed(self.execute(cursor.call()))
        return events, cursor.offset

    def follow_events(
        self, name: str, *, poll_interval: float = 1.0, offset: int = 0
    ) -> Iterator[Event]:
        """Every event of the job as it is written, until the job ends."""
        cursor = _api.EventCursor(name, offset)
        while True:
            yield from cursor.feed(self.execute(cursor.call()))
            (result,) = self.get_results([name], timeout_ms=int(poll_interval * 1000))
            if result.status is not JobStatus.ACTIVE:
                yield from cursor.feed(self.execute(cursor.call()))
                return

    def results(self, name: str, timeout_ms: int = 0) -> JobResults:
        """One job's status and results."""
        (result,) = self.get_results([name], timeout_ms)
        return result

    def error_events(self, name: str, limit: int = _api.ERROR_EVENT_LIMIT) -> tuple[Event, ...]:
        """The last ``limit`` error events of the job, oldest first."""
        try:
            events, _ = self.events(name)
        except ClientError:
            return ()
        return _api.last_error_events(events, limit)

    def wait(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: Callable[[JobInfo], None] | None = None,
    ) -> JobResults:
        """Wait for the job to end; its results if ready.

        Raises :class:`JobFailed` (with its last error events) if it ends dead,
        :class:`JobUnknown`, or :class:`WaitTimeout` after ``timeout`` seconds.
        ``on_progress`` gets the job's :class:`JobInfo` after every poll.
        """
        clock = _WaitClock(name, timeout, poll_interval, self.url)
        while True:
            result = self.results(name, timeout_ms=clock.start_poll())
            if on_progress is not None:
                with contextlib.suppress(JobUnknown):
                    on_progress(self.jobinfo(name))
            if _wait_outcome(result, self.reference_master):
                return result
            if result.status is JobStatus.DEAD:
                raise JobFailed(name, self.error_events(name), self.url)
            self._sleep(clock.end_poll())

    # -- results as data ---------------------------------------------------------------

    def _reader(self) -> ResultReader:
        return ResultReader(self._http, data_port=self.config.port)

    def _entries(self, job: str | JobResults | Sequence[Sequence[str]]) -> Sequence[Any]:
        if isinstance(job, str):
            entries = _ready_entries(self.results(job), self.url, self.reference_master)
        else:
            entries = job.results if isinstance(job, JobResults) else job
        if not any(_tag_entry(e) for e in entries):
            return entries
        expanded: list[Any] = []
        for entry in entries:
            tag = _tag_entry(entry)
            if tag is None:
                expanded.append(entry)
                continue
            walk = _ddfs_api.TagWalk(_ddfs_api.tag_ref(tag), None, require_first=True)
            expanded.extend(
                _ddfs_api.walk_blobs(
                    walk, lambda ref, token: self.execute(_ddfs_api.get(ref, token))
                )
            )
        return expanded

    def result_urls(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[list[str]]:
        """The job's results as plain data URLs: one replica list per data file.

        ``dir://`` indexes are read (keeping only ``labels`` when given) and
        ``disco://`` URLs become ``http://host:<port>/...``.
        """
        return [list(urls) for urls in self._reader().deref(self._entries(job), labels)]

    def result_files(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[ResultFile]:
        """Like :meth:`result_urls`, each data file with its label (None outside an index)."""
        return list(self._reader().files(self._entries(job), labels))

    def iter_results(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[bytes]:
        """The job's result data as byte chunks (gunzipped, replicas tried in order)."""
        return self._reader().iter_chunks(self._entries(job), labels)

    def iter_result_lines(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> Iterator[bytes]:
        """The job's result data line by line (each line keeps its ``\\n``)."""
        return self._reader().iter_lines(self._entries(job), labels)


class AsyncMaster(_Base):
    """The asynchronous twin of :class:`Master`: the same endpoints, awaited."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        config: ClientConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **policy: float,
    ) -> None:
        super().__init__(config or ClientConfig.from_env(url, token, None, **policy))
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
        if transport is None and _is_plain(self.config.url):
            transport = httpx.AsyncHTTPTransport(verify=_plain_context())
            mounts["https://"] = _AsyncLazyTls()
        self._http = httpx.AsyncClient(
            headers=self.config.headers(),
            transport=transport,
            mounts=mounts,
            follow_redirects=True,
        )

    async def __aenter__(self) -> AsyncMaster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying ``httpx`` client (result readers share it)."""
        return self._http

    async def execute(self, call: _api.Call[T]) -> T:
        """Send ``call`` (retrying connection failures and 503) and parse its reply."""
        attempt = 0
        while True:
            args = self._request_args(call)
            if call.upload is not None:
                args["content"] = _aiter(call.upload.chunks())
            try:
                async with self._http.stream(**args) as response:
                    if response.status_code == 503 and self._should_retry(attempt):
                        await response.aread()
                    else:
                        reply = await self._finish(call, response)
                        return call.parse(_api.check(call, reply))
            except _RETRYABLE as exc:
                if not self._should_retry(attempt):
                    raise self._unreachable(call, exc) from None
            except httpx.HTTPError as exc:
                raise self._unreachable(call, exc) from None
            await sleep(self.config.delay(attempt))
            attempt += 1

    async def _finish(self, call: _api.Call[Any], response: httpx.Response) -> _api.Reply:
        if call.sink is not None and response.is_success:
            try:
                async for chunk in response.aiter_bytes():
                    await in_thread(call.sink.write, chunk)
            except httpx.HTTPError as exc:  # part is written already: no retry
                raise self._unreachable(call, exc) from None
            body = b""
        else:
            body = await response.aread()
        return self._reply(response, body)

    # -- endpoints ---------------------------------------------------------------------

    version = _awaited(_api.version, "version")
    joblist = _awaited(_api.joblist, "joblist")
    jobinfo = _awaited(_api.jobinfo, "jobinfo")
    jobpack_bytes = _awaited(_api.jobpack_bytes, "jobpack_bytes")
    jobevents = _awaited(_api.jobevents, "jobevents")
    nodeinfo = _awaited(_api.nodeinfo, "nodeinfo")
    blacklisted = _awaited(_api.get_blacklist, "blacklisted")
    gc_blacklisted = _awaited(_api.get_gc_blacklist, "gc_blacklisted")
    blacklist = _awaited(_api.blacklist, "blacklist")
    whitelist = _awaited(_api.whitelist, "whitelist")
    gc_blacklist = _awaited(_api.gc_blacklist, "gc_blacklist")
    gc_whitelist = _awaited(_api.gc_whitelist, "gc_whitelist")
    settings = _awaited(_api.get_settings, "settings")
    save_settings = _awaited(_api.save_settings, "save_settings")
    stageresults = _awaited(_api.stageresults, "stageresults")
    config_table = _awaited(_api.load_config_table, "config_table")
    save_config_table = _awaited(_api.save_config_table, "save_config_table")
    kill = _awaited(_api.kill_job, "kill")
    clean = _awaited(_api.clean_job, "clean")
    purge = _awaited(_api.purge_job, "purge")
    get_results = _awaited(_api.get_results, "get_results")

    async def submit(self, jobpack: JobPackSource) -> str:
        """See :meth:`Master.submit` (files are read off the event loop)."""
        with contextlib.ExitStack() as stack:
            upload = await in_thread(stack.enter_context, _binary_jobpack(jobpack))
            try:
                return await self.execute(_api.submit(upload))
            finally:
                await in_thread(stack.close)

    async def download_jobpack(self, name: str, dest: str | os.PathLike[str] | IO[bytes]) -> None:
        """See :meth:`Master.download_jobpack` (files are written off the event loop)."""
        if not isinstance(dest, (str, os.PathLike)):
            await self.execute(_api.jobpack(name, sink=dest))
            return
        path = Path(dest)
        partial = path.with_name(path.name + ".part")
        try:
            out = await in_thread(open, partial, "wb")
            try:
                await self.execute(_api.jobpack(name, sink=out))
            finally:
                await in_thread(out.close)
            await in_thread(partial.replace, path)
        finally:
            await in_thread(partial.unlink, True)

    async def jobpack(self, name: str) -> JobPack:
        """See :meth:`Master.jobpack`."""
        temp = await in_thread(_temp_pack_file)
        try:
            await self.download_jobpack(name, temp)
            return await in_thread(_open_pack, temp)
        except BaseException:
            temp.close()
            raise

    async def jobdict(self, name: str) -> dict[str, Any]:
        """See :meth:`Master.jobdict`."""
        pack = await self.jobpack(name)
        try:
            return await in_thread(_jobdict_of, pack, self.url)
        finally:
            await in_thread(pack.close)

    async def rawevents(self, name: str, offset: int = 0) -> bytes:
        """See :meth:`Master.rawevents`."""
        return _api.rawevents_body(await self.execute(_api.rawevents(name, offset)), offset)

    async def events(self, name: str, offset: int = 0) -> tuple[list[Event], int]:
        """See :meth:`Master.events`."""
        cursor = _api.EventCursor(name, offset)
        events = cursor.feed(await self.execute(cursor.call()))
        return events, cursor.offset

    async def follow_events(
        self, name: str, *, poll_interval: float = 1.0, offset: int = 0
    ) -> AsyncIterator[Event]:
        """See :meth:`Master.follow_events`."""
        cursor = _api.EventCursor(name, offset)
        while True:
            for event in cursor.feed(await self.execute(cursor.call())):
                yield event
            result = await self.results(name, timeout_ms=int(poll_interval * 1000))
            if result.status is not JobStatus.ACTIVE:
                for event in cursor.feed(await self.execute(cursor.call())):
                    yield event
                return

    async def results(self, name: str, timeout_ms: int = 0) -> JobResults:
        """See :meth:`Master.results`."""
        (result,) = await self.get_results([name], timeout_ms)
        return result

    async def error_events(
        self, name: str, limit: int = _api.ERROR_EVENT_LIMIT
    ) -> tuple[Event, ...]:
        """See :meth:`Master.error_events`."""
        try:
            events, _ = await self.events(name)
        except ClientError:
            return ()
        return _api.last_error_events(events, limit)

    # -- results as data ---------------------------------------------------------------

    async def _entries(self, job: str | JobResults | Sequence[Sequence[str]]) -> Sequence[Any]:
        if isinstance(job, str):
            entries = _ready_entries(await self.results(job), self.url, self.reference_master)
        else:
            entries = job.results if isinstance(job, JobResults) else job
        if not any(_tag_entry(e) for e in entries):
            return entries
        expanded: list[Any] = []
        for entry in entries:
            tag = _tag_entry(entry)
            if tag is None:
                expanded.append(entry)
                continue
            walk = _ddfs_api.TagWalk(_ddfs_api.tag_ref(tag), None, require_first=True)
            fetch = _ddfs_api.walk_blobs_async(
                walk, lambda ref, token: self.execute(_ddfs_api.get(ref, token))
            )
            expanded.extend([blobs async for blobs in fetch])
        return expanded

    def _reader(self) -> AsyncResultReader:
        return AsyncResultReader(self._http, data_port=self.config.port)

    async def result_urls(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[list[str]]:
        """See :meth:`Master.result_urls`."""
        return await self._reader().deref(await self._entries(job), labels)

    async def result_files(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> list[ResultFile]:
        """See :meth:`Master.result_files`."""
        return await self._reader().files(await self._entries(job), labels)

    async def iter_results(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> AsyncIterator[bytes]:
        """See :meth:`Master.iter_results`."""
        async for chunk in self._reader().iter_chunks(await self._entries(job), labels):
            yield chunk

    async def iter_result_lines(
        self, job: str | JobResults | Sequence[Sequence[str]], labels: Sequence[int] | None = None
    ) -> AsyncIterator[bytes]:
        """See :meth:`Master.iter_result_lines`."""
        async for line in self._reader().iter_lines(await self._entries(job), labels):
            yield line

    async def wait(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: Callable[[JobInfo], None] | None = None,
    ) -> JobResults:
        """See :meth:`Master.wait`."""
        clock = _WaitClock(name, timeout, poll_interval, self.url)
        while True:
            result = await self.results(name, timeout_ms=clock.start_poll())
            if on_progress is not None:
                with contextlib.suppress(JobUnknown):
                    on_progress(await self.jobinfo(name))
            if _wait_outcome(result, self.reference_master):
                return result
            if result.status is JobStatus.DEAD:
                raise JobFailed(name, await self.error_events(name), self.url)
            await sleep(clock.end_poll())


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` read off the event loop (they come from a file)."""
    while (chunk := await in_thread(next, chunks, None)) is not None:
        yield chunk
