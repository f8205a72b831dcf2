"""Where the master keeps its jobs on disk: ``<root>/<hh>/<jobname>/``.

Each master job dir holds the job pack (``jobfile``), the events and
``state.json``, the job's record (status, pipeline counts, results), written
atomically whenever it changes and read back when the master restarts.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pydisco import jsoncodec
from pydisco.master.layout import atomic_write, hexhash

__all__ = ["STATE_FILE", "hh_dir", "load_record", "on_disk", "save_record"]

STATE_FILE = "state.json"


def hh_dir(root: Path, name: str) -> Path:
    """``<root>/<hh>/<name>``."""
    return root / hexhash(name) / name


def on_disk(root: Path) -> list[Path]:
    """Every master job dir under ``root``."""
    if not root.is_dir():
        return []
    found: list[Path] = []
    for hh in root.iterdir():
        if hh.is_dir() and len(hh.name) == 2:
            found.extend(d for d in hh.iterdir() if d.is_dir() and (d / "jobfile").exists())
    return found


def save_record(job_dir: Path, record: dict[str, Any]) -> None:
    """Write ``state.json`` atomically (a full disk loses the update, not the old record)."""
    with contextlib.suppress(OSError):
        atomic_write(job_dir / STATE_FILE, jsoncodec.dumps(record))


def load_record(job_dir: Path) -> dict[str, Any]:
    """The saved record, or ``{}`` if there is none or it cannot be read."""
    with contextlib.suppress(OSError, ValueError):
        loaded = jsoncodec.loads((job_dir / STATE_FILE).read_bytes())
        if isinstance(loaded, dict):
            return loaded
    return {}
