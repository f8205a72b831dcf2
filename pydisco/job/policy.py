"""The failure policy of a master started for the occasion (``runner="local"``, ``discotool run``).

Kept apart from the runners so that the runners, the bundled master and the
command line all take it from one place without importing one another.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["LOCAL_RETRIES", "local_master_settings"]

#: Failures per task a throw-away local master allows (``runner="local"`` and
#: ``discotool run``): none. A job started from this machine fails at its first task
#: failure and says why, as mrjob's local runner does, instead of Disco's up to
#: 100 retries each after ``min(n, 60) s + 1..30 s``.
LOCAL_RETRIES: Final = 0


def local_master_settings(retries: int = LOCAL_RETRIES) -> dict[str, Any]:
    """The settings of a master started for the occasion: ``retries`` failures, no delay.

    The one failure policy of ``runner="local"`` and ``discotool run``
    (``--retries N`` passes ``N``).
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}.")
    return {"retry_delay": 0.0, "max_failure_rate": retries}
