"""Partitioning: which output label a record goes to.

The partition of a record is ``crc32(encoded key bytes) mod partitions``,
with CRC-32 as zlib computes it (IEEE 802.3, the same on every machine and
in every language). Python's ``hash()`` is never used: it is salted per
process (``PYTHONHASHSEED``), so two map tasks would disagree.
"""

from __future__ import annotations

import zlib

__all__ = ["partition_of"]


def partition_of(key_bytes: bytes, partitions: int) -> int:
    """The partition (output label) of a record whose encoded key is ``key_bytes``."""
    if partitions <= 1:
        return 0
    return zlib.crc32(key_bytes) % partitions
