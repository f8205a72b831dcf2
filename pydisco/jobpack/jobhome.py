"""The job home: a zip archive that becomes the job's working directory on each node.

Real Disco unzips the job home without any checks (and then runs
``chmod 0755`` on the worker). pydisco refuses entries that are absolute,
contain ``..``, resolve outside the target, are symbolic links, devices,
FIFOs or sockets, contain NUL or backslash characters, and caps the number of
entries and the bytes actually decompressed, so a hostile job pack cannot
write outside its job home or fill the disk.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any, TypedDict

import attrs

from pydisco.jobpack.errors import (
    BuildError,
    CorruptJobHome,
    ExtractionCancelled,
    JobHomeError,
    UnsafeJobHome,
)
from pydisco.jobpack.sections import CHUNK

#: Default cap on job home entries.
DEFAULT_MAX_ENTRIES = 100_000
#: Default cap on bytes decompressed from a job home (4 GiB, the format's own ceiling).
DEFAULT_MAX_BYTES = 4 * 1024**3
#: Default cap on an entry's declared size over its compressed size (deflate's own
#: ceiling is about 1032; real source files stay far below 100).
DEFAULT_MAX_RATIO = 1100
#: Entries at most this large are never refused for their ratio.
RATIO_FREE_BYTES = 1 << 20
#: Central directories larger than this are refused before they are parsed.
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
#: The only compression methods Disco's unzip (Erlang's ``zip`` module) reads.
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
#: What :mod:`zipfile` and :mod:`zlib` raise on damaged archives: bad data and CRCs
#: (BadZipFile, zlib.error), cut streams (EOFError), encryption (RuntimeError),
#: unknown versions or methods (NotImplementedError), short headers (struct.error),
#: undecodable names (UnicodeDecodeError is a ValueError) and read failures (OSError).
ZIP_FAILURES: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    ValueError,
    OverflowError,
    OSError,
    KeyError,
    IndexError,
)
#: What damaged compressed data raises while it is read (read errors of the output
#: file, OSError, are not among them).
DAMAGED_DATA: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    struct.error,
)


class HomeLimits(TypedDict):
    """The job home limits, as keyword arguments of the checks and extraction."""

    max_entries: int
    max_bytes: int
    max_ratio: int


_KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "char-device",
    stat.S_IFBLK: "block-device",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
}
_MSDOS_DIR = 0x10


@attrs.frozen
class JobHomeEntry:
    """One member of a job home zip, as listed by ``discotool inspect``."""

    name: str
    size: int
    compressed_size: int
    mode: int
    kind: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the entry."""
        return {
            "name": self.name,
            "size": self.size,
            "compressed_size": self.compressed_size,
            "mode": f"{self.mode:04o}",
            "kind": self.kind,
        }


def entry_kind(info: zipfile.ZipInfo) -> str:
    """``file``, ``dir``, ``symlink``, a device kind, ``fifo``, ``socket`` or ``unknown``."""
    mode = info.external_attr >> 16
    fmt = stat.S_IFMT(mode)
    if fmt:
        return _KINDS.get(fmt, "unknown")
    if info.filename.endswith("/") or info.external_attr & _MSDOS_DIR:
        return "dir"
    return "file"


def entry_mode(info: zipfile.ZipInfo) -> int:
    """The permission bits stored for the entry (0 when the archiver stored none)."""
    return stat.S_IMODE(info.external_attr >> 16)


def describe(info: zipfile.ZipInfo) -> JobHomeEntry:
    """The listing row of a zip member."""
    return JobHomeEntry(
        info.filename, info.file_size, info.compress_size, entry_mode(info), entry_kind(info)
    )


def name_problem(name: str) -> str:
    """Why an entry name is unsafe, or ``""`` when it is a plain relative path."""
    if not name or name in ("/", "./"):
        return "has an empty name"
    if "\0" in name:
        return "contains a NUL character"
    if "\\" in name:
        return "contains a backslash, which some tools read as a path separator"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "contains a '..' component"
    return ""


def entry_problem(info: zipfile.ZipInfo) -> str:
    """Why an entry must not be extracted, or ``""``."""
    problem = name_problem(info.filename)
    if problem:
        return problem
    kind = entry_kind(info)
    if kind not in ("file", "dir"):
        return f"is a {kind}, not a regular file or directory"
    return ""


def _unsafe(info: zipfile.ZipInfo, problem: str) -> UnsafeJobHome:
    return UnsafeJobHome(
        f"The job home entry {info.filename!r} {problem}; refusing to use this job home. "
        "Rebuild it from a plain directory of regular files.",
        entry=info.filename,
    )


def _end_record(fp: IO[bytes]) -> tuple[bytes, int, int] | None:
    """The file's tail, where its end of central directory record starts in that tail, and
    the file's size; ``None`` without a whole end record."""
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    tail_len = min(size, 22 + 65535)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    return tail, at, size


def _central_directory(fp: IO[bytes]) -> tuple[int, int]:
    """Declared (entry count, central directory bytes) from the end records, or (-1, -1)."""
    end = _end_record(fp)
    if end is None:
        return -1, -1
    tail, at, size = end
    count, cd_size = struct.unpack_from("<xxxxxxxxxxHI", tail, at)
    locator = at - 20
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        (z64_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        if z64_offset + 56 <= size:
            fp.seek(z64_offset)
            record = fp.read(56)
            if record[:4] == b"PK\x06\x06":
                count, cd_size = struct.unpack_from("<QQ", record, 32)
    return count, cd_size


def _entry_at_fault(fp: IO[bytes]) -> str:
    """Best effort: the name of the first central directory record zipfile cannot take."""
    try:
        end = _end_record(fp)
        if end is None:
            return ""
        tail, at, _ = end
        count, cd_size, cd_offset = struct.unpack_from("<10xHII", tail, at)
        fp.seek(cd_offset)
        directory = fp.read(min(cd_size, MAX_CENTRAL_DIRECTORY))
        pos = 0
        for _ in range(count):
            if directory[pos : pos + 4] != b"PK\x01\x02" or len(directory) < pos + 46:
                return ""
            version, flags = struct.unpack_from("<2xBxH", directory, pos + 4)
            n, m, k = struct.unpack_from("<HHH", directory, pos + 28)
            raw = directory[pos + 46 : pos + 46 + n]
            name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
            if version > zipfile.MAX_EXTRACT_VERSION or len(raw) < n:
                return name
            if flags & 0x800:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return name
            pos += 46 + n + m + k
    except ZIP_FAILURES:
        return ""
    return ""


def open_zip(fp: IO[bytes], *, max_entries: int = DEFAULT_MAX_ENTRIES) -> zipfile.ZipFile:
    """Open a job home zip, refusing oversized central directories before parsing them."""
    try:
        count, cd_size = _central_directory(fp)
    except ZIP_FAILURES as exc:
        raise JobHomeError(f"The job home could not be read: {exc}.") from None
    if count < 0:
        raise JobHomeError(
            "The job home is not a zip archive (no end of central directory record); "
            "real Disco would fail every task of this job. Rebuild the job pack."
        )
    if count > max_entries:
        raise UnsafeJobHome(
            f"The job home declares {count} entries, more than the limit of {max_entries}; "
            "it may be a zip bomb. Raise max_entries if the job home really needs them."
        )
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise UnsafeJobHome(
            f"The job home's central directory is {cd_size} bytes, more than "
            f"{MAX_CENTRAL_DIRECTORY}; refusing to parse it."
        )
    fp.seek(0)
    try:
        archive = zipfile.ZipFile(fp)
    except ZIP_FAILURES as exc:
        entry = _entry_at_fault(fp)
        where = f" at entry {entry!r}" if entry else ""
        raise CorruptJobHome(
            f"The job home is not a readable zip archive ({type(exc).__name__}{where}: {exc}); "
            "real Disco would fail every task of this job. Rebuild the job pack.",
            entry=entry,
        ) from None
    if len(archive.infolist()) > max_entries:
        raise UnsafeJobHome(
            f"The job home has {len(archive.infolist())} entries, more than the limit of "
            f"{max_entries}; it may be a zip bomb."
        )
    return archive


def list_entries(fp: IO[bytes], *, max_entries: int = DEFAULT_MAX_ENTRIES) -> list[JobHomeEntry]:
    """The entries of a job home zip, in archive order."""
    with open_zip(fp, max_entries=max_entries) as archive:
        return [describe(info) for info in archive.infolist()]


def worker_problem(worker: str) -> str:
    """Why a worker path cannot name a file inside the job home, or ``""``."""
    if not isinstance(worker, str) or not worker:
        return "is empty or not a string"
    return name_problem(worker.rstrip("/")) or ("names a directory" if worker.endswith("/") else "")


class _ByteBudget:
    def __init__(self, limit: int, cancel: threading.Event | None = None) -> None:
        self.limit = limit
        self.used = 0
        self.cancel = cancel

    def spend(self, n: int, name: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ExtractionCancelled(
                f"The job home was being extracted (at entry {name!r}) when its job was "
                "killed; what was written is removed.",
                entry=name,
            )
        self.used += n
        if self.used > self.limit:
            raise UnsafeJobHome(
                f"The job home decompresses to more than {self.limit} bytes (reached at "
                f"entry {name!r}, limit max_bytes); it may be a zip bomb. Raise max_bytes "
                "if it is genuine.",
                entry=name,
            )


def _corrupt(info: zipfile.ZipInfo, problem: str) -> CorruptJobHome:
    return CorruptJobHome(
        f"The job home entry {info.filename!r} {problem}; rebuild the job pack.",
        entry=info.filename,
    )


def check_listing(
    infos: list[zipfile.ZipInfo],
    *,
    worker: str | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
) -> None:
    """Check a job home's central directory without reading any entry's data.

    Refuses (naming the entry and the limit) too many entries, unsafe names and
    types, names given twice or nested under a file, methods other than stored
    and deflated, encryption, declared sizes above ``max_bytes`` in total, an
    entry declaring more than ``max_ratio`` times its compressed size, and a
    worker that is not a file of the job home.
    """
    if len(infos) > max_entries:
        raise UnsafeJobHome(
            f"The job home has {len(infos)} entries, more than the limit of {max_entries} "
            "(max_entries); it may be a zip bomb."
        )
    files: set[str] = set()
    dirs: set[str] = set()
    declared = 0
    for info in infos:
        problem = entry_problem(info)
        if problem:
            raise _unsafe(info, problem)
        parts = [p for p in info.filename.split("/") if p not in ("", ".")]
        path = "/".join(parts)
        is_dir = entry_kind(info) == "dir"
        if path in files or (path in dirs and not is_dir):
            raise _unsafe(info, "names the same path as an earlier entry")
        parents = ["/".join(parts[:n]) for n in range(1, len(parts))]
        if any(p in files for p in parents):
            raise _unsafe(info, "is inside a path that another entry makes a file")
        dirs.update(parents)
        if is_dir:
            dirs.add(path)
            continue
        files.add(path)
        if info.flag_bits & 0x1:
            raise _corrupt(info, "is encrypted, which Disco's unzip cannot read")
        if info.compress_type not in METHODS:
            raise _corrupt(
                info,
                f"uses compression method {info.compress_type}; only stored (0) and "
                "deflated (8) can be unzipped by Disco",
            )
        declared += info.file_size
        if declared > max_bytes:
            raise UnsafeJobHome(
                f"The job home declares more than {max_bytes} bytes once decompressed "
                f"(reached at entry {info.filename!r}, limit max_bytes); it may be a zip bomb.",
                entry=info.filename,
            )
        if info.file_size > RATIO_FREE_BYTES and (
            info.file_size > max_ratio * max(info.compress_size, 1)
        ):
            raise UnsafeJobHome(
                f"The job home entry {info.filename!r} declares {info.file_size} bytes from "
                f"{info.compress_size} compressed, a ratio above the limit of {max_ratio} "
                "(max_ratio); it is a zip bomb.",
                entry=info.filename,
            )
    if worker is not None:
        problem = worker_problem(worker)
        if problem:
            raise UnsafeJobHome(
                f"The worker path {worker!r} {problem}; it must be a relative path inside "
                "the job home.",
                entry=str(worker),
            )
        if "/".join(p for p in worker.split("/") if p not in ("", ".")) not in files:
            raise JobHomeError(
                f"The worker {worker!r} is not a file in the job home; real Disco's chmod of "
                "it would fail at every task. Check the job dict's 'worker' against the job "
                "home listing.",
                entry=worker,
            )


def verify_zip(
    archive: zipfile.ZipFile,
    *,
    worker: str | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
    cancel: threading.Event | None = None,
) -> None:
    """The full job home check, writing nothing: :func:`check_listing`, then every
    entry decompressed and counted, its size and CRC compared with its headers."""
    infos = archive.infolist()
    check_listing(
        infos, worker=worker, max_entries=max_entries, max_bytes=max_bytes, max_ratio=max_ratio
    )
    budget = _ByteBudget(max_bytes, cancel)
    for info in infos:
        if entry_kind(info) == "dir":
            continue
        size = 0
        try:
            with archive.open(info) as src:
                while chunk := src.read(CHUNK):
                    budget.spend(len(chunk), info.filename)
                    size += len(chunk)
        except ZIP_FAILURES as exc:
            raise _corrupt(
                info, f"could not be decompressed ({type(exc).__name__}: {exc})"
            ) from None
        if size != info.file_size:
            raise _corrupt(info, f"decompresses to {size} bytes but declares {info.file_size}")


def _file_mode(info: zipfile.ZipInfo) -> int:
    mode = entry_mode(info)
    # Keep execute bits, drop setuid/setgid/sticky and group/other write, stay readable.
    return (mode & 0o755) | 0o644 if mode else 0o644


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def extract_zip(
    archive: zipfile.ZipFile,
    dest: str | os.PathLike[str],
    *,
    worker: str | None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
    protect: Collection[tuple[int, int]] = (),
    cancel: threading.Event | None = None,
) -> list[str]:
    """Extract every entry safely into ``dest``; returns the names written.

    The central directory is checked (:func:`check_listing`) before anything
    is written. Bytes are counted as they are decompressed, whatever the
    headers claim. If anything fails, or ``cancel`` is set, every file and
    directory this call created (``dest`` included) is removed again. The
    worker gets mode 0755. Existing files whose ``(st_dev, st_ino)`` is in
    ``protect`` (the job pack being read, when it lives in ``dest``) are never
    overwritten.
    """
    infos = archive.infolist()
    check_listing(
        infos, worker=worker, max_entries=max_entries, max_bytes=max_bytes, max_ratio=max_ratio
    )
    created: list[str] = []
    budget = _ByteBudget(max_bytes, cancel)
    try:
        root = os.path.abspath(dest)
        _make_dirs(root, root, created, anchor=False)
        root = os.path.realpath(root)
        for info in infos:
            _extract_one(
                archive, info, root, budget=budget, created=created, protect=frozenset(protect)
            )
        if worker is not None:
            _make_worker_executable(root, worker)
    except BaseException:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)
        raise
    return [info.filename for info in infos]


def _extract_one(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    root: str,
    *,
    budget: _ByteBudget,
    created: list[str],
    protect: frozenset[tuple[int, int]],
) -> None:
    target = os.path.join(root, *[p for p in info.filename.split("/") if p not in ("", ".")])
    parent = target if entry_kind(info) == "dir" else os.path.dirname(target)
    if not _inside(root, os.path.realpath(parent)) or not _inside(root, target):
        raise _unsafe(info, "resolves outside the job home")
    _make_dirs(root, parent, created)
    if entry_kind(info) == "dir":
        return
    if os.path.islink(target):
        raise _unsafe(info, "would overwrite a symbolic link")
    if protect and os.path.exists(target):
        st = os.stat(target)
        if (st.st_dev, st.st_ino) in protect:
            raise _unsafe(info, "would overwrite the job pack being extracted")
    fresh = not os.path.exists(target)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise JobHomeError(
            f"Could not create {info.filename!r} in the job home: {exc}.", entry=info.filename
        ) from None
    if fresh:
        created.append(target)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as src:
            while chunk := src.read(CHUNK):
                budget.spend(len(chunk), info.filename)
                out.write(chunk)
                size += len(chunk)
    except ZIP_FAILURES as exc:
        raise _corrupt(info, f"could not be decompressed ({type(exc).__name__}: {exc})") from None
    if size != info.file_size:
        raise _corrupt(info, f"decompresses to {size} bytes but declares {info.file_size}")
    os.chmod(target, _file_mode(info))


def _make_dirs(root: str, path: str, created: list[str], *, anchor: bool = True) -> None:
    """Create ``path`` and its missing parents up to ``root``, recording each one made.

    With ``anchor=False`` ``path`` itself is made too (the walk stops at the first
    existing directory), so extraction can remove a target it created.
    """
    missing = []
    while (path != root or not anchor) and not os.path.isdir(path):
        if os.path.lexists(path):
            raise JobHomeError(f"{path!r} exists in the job home and is not a directory.")
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory, 0o755)
        created.append(directory)


def _make_worker_executable(root: str, worker: str) -> None:
    path = os.path.join(root, *worker.split("/"))
    if os.path.islink(path) or not os.path.isfile(path):
        raise JobHomeError(
            f"The worker {worker!r} is not a file in the job home; real Disco's chmod of it "
            "would fail too. Check the job dict's 'worker' against the job home listing.",
            entry=worker,
        )
    os.chmod(path, 0o755)


# Building job homes.


def _walk_files(directory: Path) -> Iterator[tuple[Path, str]]:
    for current, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in dirnames:
            if os.path.islink(os.path.join(current, name)):
                raise BuildError(
                    f"{os.path.join(current, name)} is a symbolic link to a directory; job "
                    "homes hold regular files only. Copy the directory in instead."
                )
        for name in sorted(filenames):
            path = Path(current, name)
            yield path, path.relative_to(directory).as_posix()


def file_identity(fp: Any) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file behind a file object, or ``None``."""
    try:
        st = os.fstat(fp.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def zip_directory(
    directory: str | os.PathLike[str],
    out: IO[bytes],
    *,
    executable: str | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    exclude: Collection[tuple[int, int]] = (),
) -> int:
    """Write a zip of every regular file under ``directory`` to ``out``; returns the count.

    Symbolic links to files are followed; anything else that is not a regular
    file is refused. ``executable`` (the worker) is stored with mode 0755.
    Files whose ``(st_dev, st_ino)`` is in ``exclude`` are left out, and so is
    the file ``out`` writes to, so a pack written inside its own job home
    directory never swallows itself.
    """
    root = Path(directory)
    if not root.is_dir():
        raise BuildError(f"{root} is not a directory; give the job home directory.")
    skip = set(exclude)
    own = file_identity(out)
    if own is not None:
        skip.add(own)
    count = 0
    with zipfile.ZipFile(out, "w", compression=compression, allowZip64=True) as archive:
        for path, arcname in _walk_files(root):
            st = path.stat()
            if (st.st_dev, st.st_ino) in skip:
                continue
            if not stat.S_ISREG(st.st_mode):
                raise BuildError(f"{path} is not a regular file; job homes hold regular files.")
            info = zipfile.ZipInfo.from_file(path, arcname, strict_timestamps=False)
            info.compress_type = compression
            if arcname == executable:
                info.external_attr = (stat.S_IFREG | 0o755) << 16
            with path.open("rb") as src, archive.open(info, "w") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
            count += 1
    return count


def copy_entries(
    source: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    out: IO[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    executable: str | None = None,
) -> int:
    """Re-zip ``infos`` from ``source`` into a new zip on ``out``, one entry at a time.

    Entries are checked as extraction would check them; stored entries stay
    stored and everything else is deflated (the only methods Disco's unzip knows).
    """
    budget = _ByteBudget(max_bytes)
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        for info in infos:
            problem = entry_problem(info)
            if problem:
                raise _unsafe(info, problem)
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.external_attr = info.external_attr
            copy.create_system = info.create_system
            copy.file_size = info.file_size
            copy.compress_type = (
                zipfile.ZIP_STORED
                if info.compress_type == zipfile.ZIP_STORED
                else zipfile.ZIP_DEFLATED
            )
            if info.is_dir():
                archive.writestr(copy, b"")
                continue
            if info.filename == executable:
                copy.external_attr = (stat.S_IFREG | 0o755) << 16
                copy.create_system = 3
            try:
                with (
                    source.open(info) as src,
                    archive.open(copy, "w", force_zip64=info.file_size > (1 << 31)) as dst,
                ):
                    while chunk := src.read(CHUNK):
                        budget.spend(len(chunk), info.filename)
                        dst.write(chunk)
            except ZIP_FAILURES as exc:
                raise CorruptJobHome(
                    f"The zip entry {info.filename!r} could not be read: {exc}.",
                    entry=info.filename,
                ) from None
    return len(infos)
