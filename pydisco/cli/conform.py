"""``discotool conform -- CMD [ARGS...]``: check a worker executable against the protocol.

Exit status: 0 when no rule failed, 1 when any rule failed, 2 for usage errors
(one ``Error: ...`` line, as every ``discotool`` command).
"""

from __future__ import annotations

import sys

import click

from pydisco.cli._output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    exit_status,
    handle_errors,
)
from pydisco.conformance import (
    RULES,
    SCENARIOS,
    KitSettings,
    RunResult,
    run_kit,
    select_scenarios,
)
from pydisco.conformance.report import progress_line, render_text, write_json, write_junit
from pydisco.protocol.session import Profile

_PROFILES = {
    "both": (Profile.DISCO_054, Profile.SPEC),
    "disco-0.5.4": (Profile.DISCO_054,),
    "spec": (Profile.SPEC,),
}


def _list() -> None:
    click.echo("Scenarios:")
    for scenario in SCENARIOS:
        profiles = "/".join(p.value for p in scenario.profiles)
        click.echo(f"  {scenario.name:<17} {scenario.description} [{profiles}]")
    click.echo("\nRules:")
    for rule in RULES:
        profiles = "/".join(p.value for p in rule.profiles)
        click.echo(f"  {rule.id:<6} {rule.title} [{profiles}]")


@click.command(context_settings={"ignore_unknown_options": False})
@click.option(
    "--profile",
    type=click.Choice(sorted(_PROFILES)),
    default="both",
    show_default=True,
    help="Judge as real Disco 0.5.4 does, as the spec says, or both.",
)
@click.option("--only", multiple=True, metavar="SCENARIO[,...]", help="Run only these scenarios.")
@click.option("--list", "list_only", is_flag=True, help="List scenarios and rules, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds a scenario may take before the worker counts as hung.",
)
@click.option(
    "--exit-timeout",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds the worker has to exit once its stdin is closed.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print a line per scenario run as it ends.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
@handle_errors
def conform(  # noqa: PLR0917 - one parameter per click option
    profile: str,
    only: tuple[str, ...],
    list_only: bool,
    as_json: bool,
    junit: str | None,
    timeout: float,
    exit_timeout: float,
    verbose: bool,
    command: tuple[str, ...],
) -> None:
    """Run the worker CMD the way a Disco master does and report every rule it breaks.

    \b
    Example:
        discotool conform -- ./my-worker --its-option
        discotool conform --junit conform.xml -- node worker.js
    """
    if list_only:
        _list()
        return
    if not command:
        raise CommandError(
            "Give the worker command after --, e.g. discotool conform -- ./w.", EXIT_USAGE
        )
    try:
        scenarios = select_scenarios(only)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    settings = KitSettings(timeout=timeout, exit_timeout=exit_timeout, first_message=timeout)

    def progress(run: RunResult) -> None:
        click.echo(progress_line(run), err=True)

    try:
        result = run_kit(
            command,
            _PROFILES[profile],
            scenarios,
            settings,
            progress if verbose else None,
        )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    if junit:
        write_junit(result, junit)
    # ``discotool --json conform ...`` (the global flag) works too.
    if as_json or click.get_current_context().meta.get("pydisco.json"):
        write_json(result, sys.stdout)
    else:
        render_text(result, sys.stdout, color=sys.stdout.isatty())
    exit_status(EXIT_OK if result.ok else EXIT_FAILED)
