"""What every ``discotool`` subcommand shares: options, the master, errors, exit codes, output.

One error convention for every subcommand: a failure raises :class:`CommandError`
(or a library :class:`~pydisco.errors.PydiscoError`, turned into one by
:func:`handle_errors`), which prints one line, ``Error: ...``, on stderr and exits
with one of the codes below; click's own usage errors are turned into the same
one line (exit 2) by the top-level group. A command whose answer is itself a
status (``ddfs exists``, ``conform``, ``inspect`` of a pack a master would refuse)
prints its answer and ends with :func:`exit_status`. No traceback, no
``sys.exit`` elsewhere.

Exit codes of ``discotool``:

== ======================================================================
0  success (for ``wait``/``submit --wait``: the job is ``ready``)
1  the job or the operation failed (job dead, job unknown, job pack refused
   or invalid, HTTP error, unreadable results, wait timed out, a conformance
   rule failed, the master could not start)
2  usage error (bad option or argument)
3  the master could not be reached
130 interrupted (Ctrl-C); a job being waited for keeps running
== ======================================================================

Tables and progress use ``rich`` only when stdout (progress: stderr) is a
terminal; otherwise output is plain tab-separated lines. ``--json`` prints one
JSON document (or one per line for streams) for scripts.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar, cast

import click

from pydisco.errors import PydiscoError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class CommandError(click.ClickException):
    """A one-line error on stderr and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def usage_error(exc: click.UsageError) -> CommandError:
    """Click's usage error as one ``Error: ...`` line (exit 2) naming where help is."""
    message = exc.format_message()
    if exc.ctx is not None:
        message = f"{message.rstrip('.')}. See '{exc.ctx.command_path} --help'."
    return CommandError(message, EXIT_USAGE)


def exit_status(code: int) -> NoReturn:
    """End a command whose printed answer is a status (no error message)."""
    click.get_current_context().exit(code)


class GlobalOptions:
    """The global ``--master``/``--json``/``--token`` values for one invocation."""

    def __init__(self, master: str | None, json_output: bool, token: str | None) -> None:
        self.master = master
        self.json = json_output
        self.token = token


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value not in (None, False):
            ctx.meta[f"pydisco.{name}"] = value
        return value

    return callback


def client_options(func: F) -> F:
    """``--master``, ``--token`` and ``--json``, accepted before or after the subcommand."""
    func = click.option(
        "--json",
        "json_output",
        is_flag=True,
        expose_value=False,
        callback=_remember("json"),
        help="Print JSON for scripts.",
    )(func)
    func = click.option(
        "--token",
        metavar="TOKEN",
        expose_value=False,
        callback=_remember("token"),
        help="Bearer token for a master started with one (default: $DISCO_TOKEN).",
    )(func)
    func = click.option(
        "--master",
        "-m",
        metavar="URL",
        expose_value=False,
        callback=_remember("master"),
        help="Master URL (default: $DISCO_MASTER, else http://$DISCO_MASTER_HOST:$DISCO_PORT, "
        "else http://127.0.0.1:8989).",
    )(func)
    return func


def options() -> GlobalOptions:
    meta = click.get_current_context().meta
    return GlobalOptions(
        meta.get("pydisco.master"), bool(meta.get("pydisco.json")), meta.get("pydisco.token")
    )


def connect() -> Any:
    """A :class:`~pydisco.client.Master` for the chosen master."""
    from pydisco.client import Master

    opts = options()
    try:
        return Master(opts.master, token=opts.token)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def exit_code_for(exc: BaseException) -> int:
    from pydisco.client import MasterUnreachable

    return EXIT_UNREACHABLE if isinstance(exc, MasterUnreachable) else EXIT_FAILED


def handle_errors(func: F) -> F:
    """Turn pydisco and OS errors into one-line messages and exit codes (no tracebacks)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except PydiscoError as exc:
            raise CommandError(_cli_message(exc), exit_code_for(exc)) from None
        except BrokenPipeError:  # pragma: no cover - output piped into head
            sys.exit(EXIT_OK)
        except OSError as exc:
            raise CommandError(f"{exc}. Check the path and its permissions.") from None

    return cast(F, wrapper)


def _cli_message(exc: PydiscoError) -> str:
    """The library's message, plus how to act on it from the command line."""
    from pydisco.client.errors import HTTPStatusError, InvalidMasterURL, MasterUnreachable

    if isinstance(exc, HTTPStatusError) and exc.status == 401:
        return f"{exc} On the command line: --token or DISCO_TOKEN."
    if isinstance(exc, (MasterUnreachable, InvalidMasterURL)):
        return f"{exc} On the command line: --master."
    return str(exc)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty() and not options().json


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def emit_json_line(value: Any) -> None:
    click.echo(json.dumps(value, default=str))


def table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table: ``rich`` on a terminal, tab-separated lines (with a header) otherwise."""
    if stdout_is_tty():
        from rich.console import Console
        from rich.table import Table

        tbl = Table(title=title)
        for header in headers:
            tbl.add_column(header)
        for row in rows:
            tbl.add_row(*(str(cell) for cell in row))
        Console().print(tbl)
        return
    click.echo("\t".join(headers))
    for row in rows:
        click.echo("\t".join(str(cell) for cell in row))


def note(message: str) -> None:
    """A status line on stderr (stdout stays clean for data)."""
    click.echo(message, err=True)


@contextmanager
def interrupt_message(message: str) -> Iterator[None]:
    """On Ctrl-C: print ``message`` on stderr and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(message, err=True)
        sys.exit(EXIT_INTERRUPTED)


_RESULT_MODES = [
    click.option("--cat", "mode", flag_value="cat", help="Print the result data itself."),
    click.option(
        "--urls", "mode", flag_value="urls", help="Print plain data URLs (dir:// indexes read)."
    ),
    click.option(
        "--label",
        "labels",
        type=int,
        multiple=True,
        help="Only results with this label (repeatable; with --cat or --urls).",
    ),
]


def result_modes(func: Any) -> Any:
    """The ``--cat``/``--urls``/``--label`` options of the commands that print results.

    Here, not in :mod:`pydisco.cli.jobs`, so that ``discotool run`` can declare
    them without importing the HTTP client before its local master starts.
    """
    for decorator in reversed(_RESULT_MODES):
        func = decorator(func)
    return func
