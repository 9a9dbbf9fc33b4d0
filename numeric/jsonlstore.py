"""Append-only JSON Lines stores with a header and a checksum per record (sweep and verify stores).

A store file is UTF-8 JSON Lines:

* line 1, the header: ``{"qbound_store": KIND, "schema": 2, ...}`` (KIND is ``"sweep"`` or
  ``"verify"``), so a store is recognised before it is touched and a foreign file is refused,
  never rewritten;
* every other line one record, a JSON object carrying ``"checksum"``: the first 16 hex digits of
  the SHA-256 of the canonical JSON (sorted keys, no spaces) of the record without that field.

Reading is tolerant, record by record: a line that is not UTF-8, not JSON, fails its checksum (a
value edited by hand) or is cut off by an interrupted write is skipped with one warning per file
(:class:`StoreWarning`), so its unit is recomputed and appended again; the last valid record of a
key wins. A torn last line is cut off (``ftruncate``, which cannot touch the complete records before
it) before anything is appended, so the next record starts on a line of its own.

Older stores (schema 1: no header, no checksums) are still read: a headerless file is a store when
at least one line is a record of the right shape and no line is JSON of another shape; its records
without a checksum are taken as they are, and new records are appended with checksums.

>>> rec = seal({"key": "k1", "result": 1.5})
>>> json.loads(rec)["checksum"] == checksum({"key": "k1", "result": 1.5})
True
>>> check_record(json.loads(rec)), check_record(json.loads(rec.replace("1.5", "2.5")))
(True, False)
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from qbound.numeric.errors import InputError, QboundError

SCHEMA_VERSION = 2
HEADER_KEY = "qbound_store"
CHECKSUM_KEY = "checksum"


class StoreWarning(UserWarning):
    """Records of a store were skipped (torn, corrupt, edited, not UTF-8): they are recomputed."""


class NotAStore(InputError):
    """The file is not a store of the expected kind; it was left unchanged."""


class StoreWriteError(QboundError):
    """Appending to a store failed (disk full, read-only, ...); the records before it are kept."""


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def checksum(rec: dict) -> str:
    """First 16 hex digits of the SHA-256 of the canonical JSON of ``rec`` without its checksum."""
    body = {k: v for k, v in rec.items() if k != CHECKSUM_KEY}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()[:16]


def check_record(rec: dict) -> bool:
    """Whether ``rec`` carries a checksum that matches its content."""
    return isinstance(rec.get(CHECKSUM_KEY), str) and rec[CHECKSUM_KEY] == checksum(rec)


def seal(rec: dict, default=None) -> str:
    """The JSON line (no newline) of ``rec`` with its checksum; ``default`` as for :func:`json.dumps`.

    The checksum is taken over the JSON form (numpy scalars etc. already converted), so reading the
    line back and checking it gives the same digest.
    """
    body = json.loads(json.dumps({k: v for k, v in rec.items() if k != CHECKSUM_KEY}, default=default))
    body[CHECKSUM_KEY] = checksum(body)
    return json.dumps(body, sort_keys=True)


def header(kind: str, **extra) -> dict:
    from datetime import datetime, timezone
    h = {HEADER_KEY: kind, "schema": SCHEMA_VERSION,
         "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    h.update(extra)
    return h


@dataclass
class Contents:
    """What :func:`read_store` found: the header (None for a schema-1 or empty file), the valid
    records in file order, and one line per skipped record."""

    header: dict | None = None
    records: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    torn_tail: bool = False
    legacy: bool = False


def read_store(path, kind: str, is_record: Callable[[dict], bool], *, warn: bool = True,
               hint: str = "") -> Contents:
    """Read the store at ``path`` (see the module docstring); :class:`NotAStore` for a foreign file.

    ``is_record(obj)`` says whether a decoded JSON object has the shape of a record of this store.
    A missing or empty file is an empty store.
    """
    out = Contents()
    if not os.path.exists(path):
        return out
    if not os.path.isfile(path):
        raise NotAStore(_refusal(path, kind, "not a regular file", hint))
    foreign = None
    n_lines = 0
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            n_lines = n
            last = not raw.endswith(b"\n")
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.skipped.append(f"line {n}: not UTF-8")
                continue
            except json.JSONDecodeError:
                if last:
                    out.torn_tail = True
                    out.skipped.append(f"line {n}: cut off by an interrupted write")
                else:
                    out.skipped.append(f"line {n}: not valid JSON")
                continue
            if isinstance(obj, dict) and HEADER_KEY in obj:
                if out.header is None and not out.records and not out.skipped:
                    if obj[HEADER_KEY] != kind:
                        raise NotAStore(_refusal(path, kind, f"it is a qbound {obj[HEADER_KEY]} store", hint))
                    out.header = obj
                else:
                    out.skipped.append(f"line {n}: a second header")
                continue
            if not (isinstance(obj, dict) and is_record(obj)):
                if out.header is None and foreign is None:
                    foreign = f"line {n} is not a {kind} record"
                out.skipped.append(f"line {n}: not a {kind} record")
                continue
            if CHECKSUM_KEY in obj or out.header is not None:
                if not check_record(obj):
                    out.skipped.append(f"line {n}: checksum mismatch (edited or corrupted)")
                    continue
                obj.pop(CHECKSUM_KEY)
            if last:  # a complete record whose newline is missing
                out.torn_tail = True
            out.records.append(obj)
    if out.header is None:
        if foreign is not None or (not out.records and out.skipped):
            raise NotAStore(_refusal(path, kind, foreign or "no line is a record", hint))
        out.legacy = bool(out.records)
    if warn and out.skipped:
        shown = "; ".join(out.skipped[:4]) + ("; ..." if len(out.skipped) > 4 else "")
        warnings.warn(StoreWarning(f"{path}: {len(out.skipped)} of {n_lines} lines skipped; a resumed run "
                                   f"recomputes them ({shown})"), stacklevel=2)
    return out


def _refusal(path, kind, why, hint) -> str:
    return (f"{path} is not a qbound {kind} store ({why}); it was left unchanged." + (f" {hint}" if hint else ""))


def repair_tail(path) -> None:
    """Cut a torn last line off ``path`` (bytes after the last newline that are not a complete JSON
    object), or end a complete one with its newline. Only bytes after the last newline change, so
    no complete record can be lost, even if this is interrupted."""
    if not os.path.exists(path):
        return
    size = os.path.getsize(path)
    if size == 0:
        return
    with open(path, "rb+") as fh:
        # find the last newline without reading a large store whole
        pos, tail = size, b""
        while pos > 0:
            step = min(65536, pos)
            fh.seek(pos - step)
            chunk = fh.read(step)
            i = chunk.rfind(b"\n")
            if i >= 0:
                tail = chunk[i + 1:] + tail
                pos = pos - step + i + 1
                break
            tail = chunk + tail
            pos -= step
        else:
            pos = 0
        if not tail:
            return
        try:
            obj = json.loads(tail.decode("utf-8"))
            complete = isinstance(obj, dict)
        except (UnicodeDecodeError, json.JSONDecodeError):
            complete = False
        if complete:
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")
        else:
            fh.truncate(pos)
        fh.flush()
        os.fsync(fh.fileno())


def write_whole(fd: int, data: bytes, *, fsync: bool = False) -> None:
    """Append ``data`` at the end of the file open on ``fd`` with ``os.write`` (no user-space
    buffer), all or nothing: when a write fails part way (ENOSPC, EFBIG, EIO) the file is cut back to
    its length before ``data`` and the OSError is raised, so a line-per-record file never ends in
    part of a record.

    >>> import tempfile
    >>> fd, p = tempfile.mkstemp()
    >>> write_whole(fd, b'{"a": 1}\\n'); os.close(fd); open(p).read()
    '{"a": 1}\\n'
    """
    start = os.lseek(fd, 0, os.SEEK_END)
    view = memoryview(data)
    try:
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, start)
        except OSError:
            pass
        raise


class _FdFile:
    """A file open on a raw descriptor ``fd`` (closed once, by :meth:`close` or the ``with`` block)."""

    fd: int | None = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class JsonLines(_FdFile):
    """A plain JSON Lines file (one JSON object per line, no header, no checksum), created or
    emptied when opened, each record appended whole by :func:`write_whole`: after a failed write
    (a full disk) the file holds the complete records before it and nothing more.

    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "r.jsonl")
    >>> with JsonLines(p) as out:
    ...     out.write({"b": 2, "a": 1})
    >>> open(p).read()
    '{"a": 1, "b": 2}\\n'
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, rec: dict) -> None:
        assert self.fd is not None, "closed"
        write_whole(self.fd, (json.dumps(rec, sort_keys=True) + "\n").encode())


class Appender(_FdFile):
    """Append sealed records to a store file with ``os.write`` (no user-space buffer: a record is in
    the kernel when :meth:`append` returns; ``fsync=True`` also forces it to disk).

    Creates the file with its header when it is missing or empty. A failed write (ENOSPC, EIO, ...)
    is undone (the file is cut back to its length before the record) and raised as
    :class:`StoreWriteError` with a one-line message; the records before it are kept.
    """

    def __init__(self, path, kind: str, *, fsync: bool = False, default=None, header_extra=None):
        self.path = str(path)
        self.kind = kind
        self.fsync = fsync
        self.default = default
        self.count = 0
        repair_tail(self.path)
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreWriteError(_write_message(self.path, exc, 0)) from None
        if os.fstat(self.fd).st_size == 0:
            self._write((json.dumps(header(kind, **(header_extra or {})), sort_keys=True) + "\n").encode())

    def _write(self, data: bytes) -> None:
        try:
            write_whole(self.fd, data, fsync=self.fsync)
        except OSError as exc:
            raise StoreWriteError(_write_message(self.path, exc, self.count)) from None

    def append(self, rec: dict) -> str:
        """Write one record (with its checksum); returns its line."""
        line = seal(rec, default=self.default)
        self._write((line + "\n").encode())
        self.count += 1
        return line


@contextmanager
def atomic_file(path, mode: str = "w", encoding: str = "utf-8"):
    """Write a whole file atomically: yields a file object on a temporary file beside ``path``;
    when the block ends without error it is flushed, fsync'ed and renamed over ``path``; on any
    error (a full disk, Ctrl-C) the temporary file is removed and ``path`` is left as it was, so a
    report or figure from an earlier run is never replaced by a truncated one.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "r.json")
    >>> with atomic_file(p) as fh:
    ...     _ = fh.write('{"a": 1}')
    >>> try:
    ...     with atomic_file(p) as fh:
    ...         _ = fh.write("half a rep")
    ...         raise OSError(errno.ENOSPC, "No space left on device")
    ... except OSError:
    ...     pass
    >>> open(p).read(), os.listdir(d)
    ('{"a": 1}', ['r.json'])
    """
    import tempfile
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        try:
            perm = os.stat(path).st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            perm = 0o666 & ~umask
        os.fchmod(fd, perm)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})) as fh:
            fd = None
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_message(path, exc: OSError, count: int) -> str:
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        why = "no space left on device"
    return (f"cannot write to {path}: {why}; every record written before this one is kept "
            f"({count} in this run); fix the cause and rerun the same command to resume")


__all__ = ["read_store", "repair_tail", "Appender", "JsonLines", "write_whole", "atomic_file", "seal", "checksum", "check_record", "header", "Contents",
           "NotAStore", "StoreWarning", "StoreWriteError", "SCHEMA_VERSION"]
