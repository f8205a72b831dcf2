"""One error convention in every ``discotool`` subcommand: errors are raised as
``CommandError`` (or a library error turned into one) and exit codes come from
``pydisco.cli._output``; no module of its own exits or raises click's errors."""

from __future__ import annotations

import ast
import pathlib

import pydisco.cli

CLI = pathlib.Path(pydisco.cli.__file__).parent
#: The two modules that own the convention.
OWNERS = {"_output.py", "main.py"}
#: What only the owners may use.
FORBIDDEN_CALLS = {("sys", "exit")}
FORBIDDEN_RAISES = {"UsageError", "BadParameter", "ClickException", "Abort", "SystemExit"}


def _violations(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in FORBIDDEN_CALLS:
                found.append(f"{path.name}:{node.lineno}: {owner.id}.{node.func.attr}()")
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name in FORBIDDEN_RAISES:
                found.append(f"{path.name}:{node.lineno}: raise {name}")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.startswith("EXIT_"):
                    found.append(f"{path.name}:{node.lineno}: its own {target.id}")
    return found


def test_no_subcommand_has_its_own_error_convention() -> None:
    modules = [p for p in sorted(CLI.glob("*.py")) if p.name not in OWNERS]
    assert len(modules) >= 8  # master, pack, conform, ddfs, jobs, cluster, run, ...
    assert [v for p in modules for v in _violations(p)] == []


def test_the_check_finds_each_kind_of_violation(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys, click\n"
        "EXIT_USAGE = 2\n"
        "def f():\n"
        "    sys.exit(1)\n"
        "def g():\n"
        "    raise click.UsageError('x')\n"
    )
    assert sorted(_violations(bad)) == [
        "bad.py:2: its own EXIT_USAGE",
        "bad.py:4: sys.exit()",
        "bad.py:6: raise UsageError",
    ]
