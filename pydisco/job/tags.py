"""``tag://`` job inputs: each becomes one input per blob, as Disco's client expands them.

The tag is read from a master's DDFS (ddfs facts §4.4): every blob reachable from
it, breadth first, each linked tag once (missing linked tags skipped, a missing
tag itself an error); the token in ``tag://user:TOKEN@/name`` is used for that
tag only. Blob replicas stay ``disco://`` URLs when the job runs on that same
master (workers read their own node's blobs as local files); otherwise they
become the ``http://`` URLs that serve them.
"""

from __future__ import annotations

from pydisco.job.sources import Source

__all__ = ["expand_tags", "is_tag_input"]


def is_tag_input(source: Source) -> bool:
    """Whether ``source`` names a DDFS tag."""
    return bool(source.urls) and source.urls[0].startswith("tag://")


def expand_tags(sources: list[Source], master: str | None, *, keep_disco: bool) -> list[Source]:
    """``sources`` with every tag input replaced by its blobs, read from ``master``'s DDFS
    (``None``: the environment's master, as for :class:`pydisco.client.DDFS`)."""
    if not any(is_tag_input(s) for s in sources):
        return sources
    from pydisco.client import DDFS

    expanded: list[Source] = []
    with DDFS(master) as ddfs:
        for source in sources:
            if not is_tag_input(source):
                expanded.append(source)
                continue
            for replicas in ddfs.expand(source.urls[0]):
                urls = replicas if keep_disco else [ddfs.blob_url(u) for u in replicas]
                expanded.append(Source(tuple(urls), source.format, source.label))
    return expanded
