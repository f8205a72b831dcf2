"""An independent, minimal job pack writer and reader (struct + json + zipfile only).

Written from protocol-spec/jobpack.md without pydisco.jobpack, so that the
interoperability tests compare two implementations of the spec.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from typing import Any


def zip_bytes(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | (modes or {}).get(name, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def write_raw(
    d: bytes, e: bytes = b"{}", jobhome: bytes = b"", jobdata: bytes = b"", version: int = 2
) -> bytes:
    offsets = [128, 128 + len(d), 128 + len(d) + len(e), 128 + len(d) + len(e) + len(jobhome)]
    header = struct.pack("!HHIIII", 0xD5C0, version, *offsets).ljust(128, b"\0")
    return header + d + e + jobhome + jobdata


def write_pack(
    jobdict: Any,
    jobenvs: Any = None,
    jobhome: bytes = b"",
    jobdata: bytes = b"",
    version: int = 2,
) -> bytes:
    d = json.dumps(jobdict).encode()
    e = json.dumps({} if jobenvs is None else jobenvs).encode()
    return write_raw(d, e, jobhome, jobdata, version)


def read_pack(data: bytes) -> dict[str, Any]:
    magic, version, d, e, h, j = struct.unpack_from("!HHIIII", data)
    assert magic == 0xD5C0
    assert d == 128 and e > d and h >= e and j >= h and len(data) >= j
    home = data[h:j]
    files = {}
    if home:
        with zipfile.ZipFile(io.BytesIO(home)) as archive:
            files = {info.filename: archive.read(info) for info in archive.infolist()}
            modes = {
                info.filename: (info.external_attr >> 16) & 0o7777 for info in archive.infolist()
            }
    else:
        modes = {}
    return {
        "version": version,
        "jobdict": json.loads(data[d:e]),
        "jobenvs": json.loads(data[e:h]),
        "files": files,
        "modes": modes,
        "jobdata": data[j:],
    }
