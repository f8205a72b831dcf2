"""How pydisco's reference master tells a client that it is not a real Disco master.

Every reply on the reference master's HTTP port carries the header :data:`HEADER`, whose
value is pydisco's version. Real Disco 0.5.4 (mochiweb) never sends it, and
Disco's clients ignore headers they do not know, so the wire stays Disco's.
The difference that matters to a user: the reference master keeps its jobs
across restarts, a Disco master forgets them, so "the master does not know
this job" has a different likely cause on each.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["HEADER", "is_reference_master"]

#: The response header that only pydisco's reference master sends.
HEADER = "X-Pydisco-Master"


def is_reference_master(headers: Mapping[str, str]) -> bool:
    """Whether a reply with these headers came from pydisco's reference master."""
    wanted = HEADER.lower()
    return any(name.lower() == wanted for name in headers)
