"""A FUSE filesystem that forgets what was never synced: real power cuts for tests.

A test mounts it (:class:`LossyMount`), runs real programs on it, then *cuts the power*
(the server process is SIGKILLed: everything it held in memory is gone) and *reboots*
(a fresh server mounts what the durable store holds, nothing else).

The model, a disk behind a page cache:

- **Volatile**: every operation (create, write, truncate, rename, unlink, link, mkdir,
  rmdir, chmod, utimens) changes only the in-memory tree of the running server. Reads see
  it, as programs see the page cache.
- **Durable**: a real directory (``store``) holding, per inode number, the bytes last
  synced (``data/<ino>``) and, in ``meta.json``, each inode's kind, mode and times and
  each directory's entries (name -> inode) as last made durable. Each update of it is a
  rename, so a SIGKILL at any moment leaves it whole.
- ``fsync``/``fdatasync`` of a file makes that inode's bytes (and so its size), mode and
  times durable; nothing else. ``fsync`` of a directory (``opendir`` + ``fsyncdir``)
  makes that directory's entries durable, with the kind, mode and times of the inodes
  they name (not their bytes). fdatasync is treated as fsync.
- **After a cut**, the tree is rebuilt from the root (inode 1): each directory holds its
  last durable entries; each inode they name holds its last fsynced bytes, *empty if it
  was never fsynced*; a directory never synced comes back empty. Inodes no durable entry
  reaches are dropped (like fsck's orphan clean-up); a directory named by two durable
  entries (a rename of it that was half made durable) keeps the first one found.
- **A journal** (``journal_interval``, off by default): ext4 with delayed allocation
  commits *all* metadata (every directory's entries, every inode's attributes) every
  few seconds and on every fsync of anything, while file bytes reach the disk only when
  written back much later, or fsynced. With a journal, every ``journal_interval`` seconds
  and on every fsync/fsyncdir the server makes every directory's entries durable, but no
  file's bytes: so a rename can survive a cut while the renamed file comes back with zero
  length, the bug a durable commit (fsync the file, rename, fsync the directory) avoids.
  Without a journal, metadata is durable only through directory fsyncs: the strict POSIX
  reading, so a rename never fsynced through its directory is always lost.
- What the model leaves out, each time the harsher outcome: no partial writeback (an
  unsynced write is lost whole, never half), no ext4 ``auto_da_alloc`` (a rename over an
  existing file does not flush the new file's bytes), ``sync(2)`` makes nothing durable
  (the kernel sends no FUSE_SYNCFS to a /dev/fuse filesystem, only to virtiofs). A clean
  unmount (``fusermount3 -u`` or SIGTERM to the server) syncs everything, as a real one
  does.
- Not implemented: symlinks and mknod (ENOSYS), xattrs (EOPNOTSUPP), fallocate (glibc's
  ``posix_fallocate`` then writes zeros instead). Owners are not modelled. ``fstat`` of a file
  unlinked while open fails with ESTALE: the kernel sends no handle with it and libfuse's
  high-level API has no path left (``hard_remove``; without it libfuse would rename the
  file to a visible ``.fuse_hidden*`` instead).

Locks: the server implements neither ``flock`` nor ``lock``, so libfuse does not ask the
kernel for remote locking and the kernel keeps both ``flock`` and POSIX (``fcntl``) locks
locally, per mount: they work between processes of this machine (SQLite's WAL locks,
aura-async's ``.aura-async/lock``) and vanish with the mount, as on a reboot.

Run as a script (``python lossyfs.py STORE MOUNTPOINT``), it is the server; it runs in the
foreground, single-threaded, and dies with the process that started it. Importing this
module does not import :mod:`mfusepy` (it loads libfuse when imported), so a machine
without FUSE can still collect the tests and skip them (:func:`unavailable`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import functools
import importlib.util
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["LossyMount", "mounted", "sync_dir", "sync_file", "unavailable"]

ROOT_INO = 1
UTIME_NOW = (1 << 30) - 1  # what libfuse passes in tv_nsec for "now" (utimensat(2))
UTIME_OMIT = (1 << 30) - 2  # ... and for "leave this time alone"


# --------------------------------------------------------------------- the model
@dataclass
class Node:
    """One inode of the volatile tree (a regular file or a directory)."""

    ino: int
    mode: int  # the whole st_mode, type bits included
    atime: int  # nanoseconds
    mtime: int
    ctime: int
    data: bytearray = field(default_factory=bytearray)
    entries: dict[str, int] | None = None  # a directory's names; None for a file
    links: int = 0  # names pointing at it
    opened: int = 0  # open file handles

    @property
    def is_dir(self) -> bool:
        return self.entries is not None

    def durable_attrs(self) -> dict[str, Any]:
        """Kind, mode and times as ``meta.json`` keeps them (no entries, no bytes)."""
        return {"mode": self.mode, "atime": self.atime, "mtime": self.mtime}


class Store:
    """The durable half: what survives a cut, kept in a real directory.

    ``meta.json`` maps each inode number to ``{"mode", "atime", "mtime"}`` plus, for a
    directory, ``"entries"``; ``data/<ino>`` holds a file's last fsynced bytes. Both are
    written to a temporary name and renamed, so a SIGKILL never leaves half of one.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.meta_path = root / "meta.json"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.meta: dict[int, dict[str, Any]] = {}
        if self.meta_path.exists():
            raw = json.loads(self.meta_path.read_text(encoding="utf-8"))
            self.meta = {int(ino): value for ino, value in raw.items()}
        for temp in root.rglob("*.tmp"):  # a write the cut interrupted
            temp.unlink()

    def data(self, ino: int) -> bytes:
        path = self.data_dir / str(ino)
        return path.read_bytes() if path.exists() else b""

    def save_data(self, ino: int, content: bytes) -> None:
        _replace(self.data_dir / str(ino), content)

    def save_meta(self) -> None:
        _replace(self.meta_path, json.dumps(self.meta).encode())

    def data_inos(self) -> set[int]:
        return {int(p.name) for p in self.data_dir.iterdir() if p.name.isdigit()}

    def drop_data(self, ino: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / str(ino)).unlink()


def _replace(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (a temporary file, a rename)."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(content)
    temp.replace(path)


def _now() -> int:
    return time.time_ns()


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[Concatenate[LossyOps, P], R]) -> Callable[Concatenate[LossyOps, P], R]:
    """Run a FUSE operation under the server's lock (the journal thread takes it too)."""

    @functools.wraps(method)
    def wrapper(self: LossyOps, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


def _error(code: int) -> OSError:
    """An error mfusepy hands back to the kernel as ``-code``."""
    return OSError(code, os.strerror(code))


class LossyOps:
    """The FUSE operations (mfusepy's high-level API, path-based; file handles are inode
    numbers, so a handle keeps working after a rename or unlink of its path).

    Not a subclass of ``mfusepy.Operations``: mfusepy looks each operation up by name and
    leaves libfuse's default for a missing one, which for ``flock`` and ``lock`` means
    kernel-local locks (see the module docstring). So no attribute may carry the name of
    an operation it does not mean to implement (``lock``, ``flock``, ``ioctl`` ...).
    """

    use_ns = True  # times in nanoseconds (mfusepy's float seconds are deprecated)

    def __init__(self, store: Store, journal_interval: float | None) -> None:
        self.store = store
        self._mutex = threading.Lock()
        self.nodes: dict[int, Node] = {}
        self.journal_interval = journal_interval
        self.dirty = False
        self._boot()
        if journal_interval is not None:
            threading.Thread(target=self._journal, daemon=True, name="journal").start()

    # ------------------------------------------------------------ boot and sync
    def _boot(self) -> None:
        """Build the volatile tree from the durable store only, then write back the
        tree as found (orphans dropped), as fsck would."""
        meta = self.store.meta
        now = _now()
        root = meta.get(ROOT_INO, {"mode": stat.S_IFDIR | 0o755, "atime": now, "mtime": now})
        self.nodes[ROOT_INO] = self._revive(ROOT_INO, root)
        pending = [self.nodes[ROOT_INO]]
        while pending:
            folder = pending.pop(0)
            assert folder.entries is not None
            for name, child in meta.get(folder.ino, {}).get("entries", {}).items():
                values = meta.get(child)
                if values is None:
                    continue  # defensive: a durable entry always has durable attributes
                known = self.nodes.get(child)
                if known is None:
                    known = self.nodes[child] = self._revive(child, values)
                    if known.is_dir:
                        pending.append(known)
                elif known.is_dir:
                    continue  # no directory hard links: the first name found keeps it
                folder.entries[name] = child
        for node in self.nodes.values():
            for child in (node.entries or {}).values():
                self.nodes[child].links += 1
        self.nodes[ROOT_INO].links = 1
        for ino in self.store.data_inos() - set(self.nodes):
            self.store.drop_data(ino)
        self.next_ino = max([*self.nodes, *meta, *self.store.data_inos(), ROOT_INO]) + 1
        self.store.meta = {}
        for node in self.nodes.values():
            self._commit_meta(node, entries=True)
        self.store.save_meta()

    def _revive(self, ino: int, values: dict[str, Any]) -> Node:
        """The node for ``ino`` as the store kept it: a directory empty for now, a file
        with its last fsynced bytes."""
        node = Node(ino, values["mode"], values["atime"], values["mtime"], values["mtime"])
        if stat.S_ISDIR(node.mode):
            node.entries = {}
        else:
            node.data = bytearray(self.store.data(ino))
        return node

    def _commit_meta(self, node: Node, *, entries: bool) -> None:
        """Make ``node``'s attributes durable and, if ``entries``, a directory's names."""
        values = node.durable_attrs()
        if node.entries is not None:
            old = self.store.meta.get(node.ino, {}).get("entries", {})
            values["entries"] = dict(node.entries) if entries else old
        self.store.meta[node.ino] = values

    def _sync_file(self, node: Node) -> None:
        self.store.save_data(node.ino, bytes(node.data))
        self._commit_meta(node, entries=False)
        self._after_sync()

    def _sync_dir(self, node: Node) -> None:
        self._commit_meta(node, entries=True)
        for child in (node.entries or {}).values():
            self._commit_meta(self.nodes[child], entries=False)
        self._after_sync()

    def _after_sync(self) -> None:
        if self.journal_interval is not None:
            self._journal_commit()  # ext4: one journal, an fsync commits all metadata
        else:
            self.store.save_meta()

    def _journal_commit(self) -> None:
        for node in self.nodes.values():
            self._commit_meta(node, entries=True)
        self.store.save_meta()
        self.dirty = False

    def _journal(self) -> None:
        assert self.journal_interval is not None
        try:
            while True:
                time.sleep(self.journal_interval)  # the model's commit timer, not a test's wait
                with self._mutex:
                    if self.dirty:
                        self._journal_commit()
        except BaseException:  # the model is broken: stop serving rather than lie
            logging.getLogger("lossyfs").critical("journal failed", exc_info=True)
            os._exit(70)

    def sync_all(self) -> None:
        """Everything durable: a clean unmount."""
        for node in self.nodes.values():
            if not node.is_dir:
                self.store.save_data(node.ino, bytes(node.data))
            self._commit_meta(node, entries=True)
        self.store.save_meta()

    # ------------------------------------------------------------- the tree
    def _lookup(self, path: str) -> Node:
        node = self.nodes[ROOT_INO]
        for name in path.split("/"):
            if not name:
                continue
            if node.entries is None:
                raise _error(errno.ENOTDIR)
            child = node.entries.get(name)
            if child is None:
                raise _error(errno.ENOENT)
            node = self.nodes[child]
        return node

    def _node(self, path: str | None, fh: int | None) -> Node:
        if fh:
            node = self.nodes.get(fh)
            if node is not None:
                return node
        if path is None:
            raise _error(errno.EBADF)
        return self._lookup(path)

    def _parent(self, path: str) -> tuple[Node, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        parent = self._lookup(head or "/")
        if parent.entries is None:
            raise _error(errno.ENOTDIR)
        if not name:
            raise _error(errno.EINVAL)
        return parent, name

    def _new(self, mode: int) -> Node:
        now = _now()
        node = Node(self.next_ino, mode, now, now, now)
        self.next_ino += 1
        self.nodes[node.ino] = node
        return node

    def _attach(self, parent: Node, name: str, node: Node) -> None:
        assert parent.entries is not None
        parent.entries[name] = node.ino
        node.links += 1
        parent.mtime = parent.ctime = _now()
        self.dirty = True

    def _detach(self, parent: Node, name: str) -> Node:
        assert parent.entries is not None
        node = self.nodes[parent.entries.pop(name)]
        node.links -= 1
        node.ctime = parent.mtime = parent.ctime = _now()
        self._maybe_free(node)
        self.dirty = True
        return node

    def _maybe_free(self, node: Node) -> None:
        if node.links <= 0 and node.opened <= 0 and node.ino != ROOT_INO:
            self.nodes.pop(node.ino, None)

    # ------------------------------------------------------- FUSE operations
    @_locked
    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        node = self._node(path, fh)
        if node.entries is not None:
            subdirs = sum(1 for c in node.entries.values() if self.nodes[c].is_dir)
            nlink, size = 2 + subdirs, 4096
        else:
            nlink, size = node.links, len(node.data)
        return {
            "st_mode": node.mode,
            "st_ino": node.ino,
            "st_nlink": nlink,
            "st_size": size,
            "st_uid": os.getuid(),
            "st_gid": os.getgid(),
            "st_atime": node.atime,
            "st_mtime": node.mtime,
            "st_ctime": node.ctime,
            "st_blksize": 4096,
            "st_blocks": (size + 511) // 512,
        }

    @_locked
    def access(self, path: str, amode: int) -> int:
        self._lookup(path)
        return 0

    @_locked
    def statfs(self, path: str) -> dict[str, int]:
        used = sum(len(n.data) for n in self.nodes.values()) // 4096
        total = 1 << 22  # 16 GiB of 4 KiB blocks
        return {
            "f_bsize": 4096,
            "f_frsize": 4096,
            "f_blocks": total,
            "f_bfree": total - used,
            "f_bavail": total - used,
            "f_files": 1 << 20,
            "f_ffree": (1 << 20) - len(self.nodes),
            "f_favail": (1 << 20) - len(self.nodes),
            "f_namemax": 255,
        }

    @_locked
    def opendir(self, path: str) -> int:
        node = self._lookup(path)
        if not node.is_dir:
            raise _error(errno.ENOTDIR)
        return node.ino

    @_locked
    def readdir(self, path: str | None, fh: int) -> list[tuple[str, dict[str, int], int]]:
        node = self._node(path, fh)
        if node.entries is None:
            raise _error(errno.ENOTDIR)
        # each with its st_ino: with use_ino, glibc's readdir skips an entry whose d_ino is 0
        names = [(".", node.ino), ("..", node.ino), *node.entries.items()]
        return [(n, {"st_ino": i, "st_mode": self.nodes[i].mode}, 0) for n, i in names]

    def releasedir(self, path: str | None, fh: int) -> int:
        return 0

    @_locked
    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        self._sync_dir(self._node(path, fh))
        return 0

    @_locked
    def mkdir(self, path: str, mode: int) -> int:
        parent, name = self._parent(path)
        assert parent.entries is not None
        if name in parent.entries:
            raise _error(errno.EEXIST)
        node = self._new(stat.S_IFDIR | (mode & 0o7777))
        node.entries = {}
        self._attach(parent, name, node)
        return 0

    @_locked
    def rmdir(self, path: str) -> int:
        parent, name = self._parent(path)
        node = self._lookup(path)
        if node.entries is None:
            raise _error(errno.ENOTDIR)
        if node.entries:
            raise _error(errno.ENOTEMPTY)
        self._detach(parent, name)
        return 0

    @_locked
    def create(self, path: str, mode: int, flags: int = 0) -> int:
        parent, name = self._parent(path)
        assert parent.entries is not None
        if name in parent.entries:
            if flags & os.O_EXCL:
                raise _error(errno.EEXIST)
            node = self.nodes[parent.entries[name]]
            if flags & os.O_TRUNC:
                node.data.clear()
        else:
            node = self._new(stat.S_IFREG | (mode & 0o7777))
            self._attach(parent, name, node)
        node.opened += 1
        return node.ino

    @_locked
    def open(self, path: str, flags: int) -> int:
        node = self._lookup(path)
        if flags & os.O_TRUNC and not node.is_dir:
            node.data.clear()
            node.mtime = node.ctime = _now()
        node.opened += 1
        return node.ino

    @_locked
    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        node = self._node(path, fh)
        return bytes(node.data[offset : offset + size])

    @_locked
    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        node = self._node(path, fh)
        if offset > len(node.data):
            node.data.extend(bytes(offset - len(node.data)))
        node.data[offset : offset + len(data)] = data
        node.mtime = node.ctime = _now()
        self.dirty = True
        return len(data)

    @_locked
    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        node = self._node(path, fh)
        if node.is_dir:
            raise _error(errno.EISDIR)
        if length < len(node.data):
            del node.data[length:]
        else:
            node.data.extend(bytes(length - len(node.data)))
        node.mtime = node.ctime = _now()
        self.dirty = True
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        return 0  # close(2) syncs nothing

    @_locked
    def release(self, path: str | None, fh: int) -> int:
        node = self.nodes.get(fh)
        if node is not None:
            node.opened -= 1
            self._maybe_free(node)
        return 0

    @_locked
    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        self._sync_file(self._node(path, fh))
        return 0

    @_locked
    def unlink(self, path: str) -> int:
        parent, name = self._parent(path)
        if self._lookup(path).is_dir:
            raise _error(errno.EISDIR)
        self._detach(parent, name)
        return 0

    @_locked
    def rename(self, old: str, new: str) -> int:
        old_parent, old_name = self._parent(old)
        node = self._lookup(old)
        new_parent, new_name = self._parent(new)
        assert new_parent.entries is not None
        target = new_parent.entries.get(new_name)
        if target == node.ino:
            return 0  # two names of one inode: rename(2) does nothing
        if target is not None:
            existing = self.nodes[target]
            if existing.entries is not None:
                if not node.is_dir:
                    raise _error(errno.EISDIR)
                if existing.entries:
                    raise _error(errno.ENOTEMPTY)
            elif node.is_dir:
                raise _error(errno.ENOTDIR)
            self._detach(new_parent, new_name)
        node.links += 1  # held while it moves, so the detach does not free it
        self._detach(old_parent, old_name)
        self._attach(new_parent, new_name, node)
        node.links -= 1
        return 0

    @_locked
    def link(self, target: str, source: str) -> int:
        """A hard link: ``target`` is the new name, ``source`` the existing file."""
        node = self._lookup(source)
        if node.is_dir:
            raise _error(errno.EPERM)
        parent, name = self._parent(target)
        assert parent.entries is not None
        if name in parent.entries:
            raise _error(errno.EEXIST)
        self._attach(parent, name, node)
        node.ctime = _now()
        return 0

    @_locked
    def chmod(self, path: str | None, mode: int) -> int:
        node = self._node(path, None)
        node.mode = stat.S_IFMT(node.mode) | (mode & 0o7777)
        node.ctime = _now()
        self.dirty = True
        return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        return 0  # owners are not modelled: every file is the server's user's

    @_locked
    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        node = self._node(path, None)
        now = _now()
        atime, mtime = times if times is not None else (now, now)
        # libfuse passes "now" and "omit" as tv_sec 0 with these tv_nsec values
        if atime != UTIME_OMIT:
            node.atime = now if atime == UTIME_NOW else atime
        if mtime != UTIME_OMIT:
            node.mtime = now if mtime == UTIME_NOW else mtime
        node.ctime = now
        self.dirty = True
        return 0

    def destroy(self, path: str) -> None:
        with self._mutex:
            self.sync_all()


def serve(store: Path, mountpoint: Path, journal_interval: float | None, parent: int) -> None:
    """Mount the filesystem at ``mountpoint`` and serve it until unmounted or killed."""
    _die_with(parent)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import mfusepy  # loads libfuse: only the server needs it

    # libfuse changes to / even in the foreground: every path must be absolute
    ops = LossyOps(Store(store.resolve()), journal_interval)
    mfusepy.FUSE(
        ops,
        str(mountpoint),
        foreground=True,
        nothreads=True,  # one request at a time: the model needs no finer locking
        fsname="lossyfs",
        subtype="lossyfs",
        hard_remove=True,  # an unlinked open file is not renamed to .fuse_hidden*
        use_ino=True,  # st_ino is ours: hard links show one inode
        attr_timeout=0,  # no stale sizes through the second name of a hard link
        entry_timeout=0,
        negative_timeout=0,
        auto_unmount=True,  # fusermount3 unmounts as soon as this process dies
    )


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent exits (Linux), so no server outlives a test."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)


# ---------------------------------------------------------------- test side
@functools.cache
def _probe() -> tuple[str | None, str | None]:
    """``(why FUSE cannot be used here, None)`` or ``(None, the libfuse mfusepy loads)``."""
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse (the kernel's FUSE module is not loaded or not exposed)", None
    if shutil.which("fusermount3") is None:
        return "no fusermount3 (apt-get install fuse3 libfuse3-3)", None
    if importlib.util.find_spec("mfusepy") is None:
        return "mfusepy is not installed (pip install mfusepy)", None
    probe = subprocess.run(
        [sys.executable, "-c", "import mfusepy; print(mfusepy._libfuse_path)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or ["no output"]
        return f"mfusepy cannot load libfuse: {lines[-1]}", None
    return None, probe.stdout.strip()


def unavailable() -> str | None:
    """Why FUSE cannot be used here (a skip reason), or ``None`` if it can."""
    return _probe()[0]


def _unescape_mountinfo(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash as ``\ooo``."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def is_mounted(mountpoint: Path) -> bool:
    """Whether a filesystem is mounted at ``mountpoint`` (reads /proc, never the mount)."""
    target = str(mountpoint.resolve())
    with Path("/proc/self/mountinfo").open(encoding="utf-8") as mounts:
        return any(_unescape_mountinfo(line.split()[4]) == target for line in mounts)


def _fusermount(option: str, mountpoint: Path, *, check: bool) -> None:
    command = shutil.which("fusermount3")
    if command is None:
        raise FileNotFoundError("fusermount3")
    subprocess.run([command, option, str(mountpoint)], capture_output=True, check=check)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.005)


class LossyMount:
    """A lossy filesystem served by a child process, mounted at ``mountpoint``.

    Args:
        store: the durable store's directory (created if missing); it alone survives.
        mountpoint: an empty directory to mount on (created if missing).
        journal_interval: commit all metadata this often and on every fsync (ext4-like);
            ``None``: metadata is durable only through directory fsyncs.

    Use it as a context manager, or call :meth:`close`: either way the server is killed
    and the mount removed, whatever happened in between.
    """

    def __init__(
        self, store: Path, mountpoint: Path, *, journal_interval: float | None = None
    ) -> None:
        self.store = store.resolve()
        self.mountpoint = mountpoint.resolve()
        self.journal_interval = journal_interval
        self.log = store.with_name(store.name + ".log")
        self._proc: subprocess.Popen[bytes] | None = None
        self.mounts = 0

    def __enter__(self) -> LossyMount:
        self.mount()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mount(self, timeout: float = 10.0) -> None:
        """Start a fresh server on the durable store and wait until it is mounted."""
        if self._proc is not None:
            raise RuntimeError("already mounted")
        self.store.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(Path(__file__).resolve()), str(self.store)]
        command += [str(self.mountpoint), "--parent", str(os.getpid())]
        if self.journal_interval is not None:
            command += ["--journal-interval", str(self.journal_interval)]
        with self.log.open("ab") as log:
            log.write(f"--- mount {self.mounts + 1}\n".encode())
            log.flush()
            env = dict(os.environ)
            library = _probe()[1]
            if library:  # spares each server mfusepy's search (ldconfig, gcc): ~30 ms
                env["FUSE_LIBRARY_PATH"] = library
            self._proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        self.mounts += 1
        proc = self._proc
        try:
            _wait(
                lambda: proc.poll() is not None or is_mounted(self.mountpoint),
                timeout,
                f"lossyfs did not mount within {timeout} s",
            )
        except TimeoutError:
            self.close()
            raise
        if proc.poll() is not None:
            self._proc = None
            raise RuntimeError(f"lossyfs exited with {proc.returncode}:\n{self.log_text()}")

    def cut(self) -> None:
        """Cut the power: kill the server (all it held unsynced is lost) and unmount."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
        self._unmount()

    def reboot(self) -> None:
        """Cut the power, then mount a fresh server on what the store kept."""
        self.cut()
        self.mount()

    def unmount(self) -> None:
        """A clean unmount: the server syncs everything, then exits."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _fusermount("-u", self.mountpoint, check=True)
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
            self._unmount()

    def close(self) -> None:
        """Kill the server if it runs and make sure nothing is left mounted."""
        self.cut()

    def _unmount(self) -> None:
        # The server is dead. fusermount3's auto_unmount helper will unmount the dead
        # mount, usually within milliseconds but seen to take over 5 s on a loaded machine:
        # do it now (the helper only ever unmounts a mount that answers ENOTCONN, so it
        # cannot take down the next server's mount at the same place).
        if is_mounted(self.mountpoint):
            _fusermount("-uz", self.mountpoint, check=False)
        _wait(lambda: not is_mounted(self.mountpoint), 10.0, f"{self.mountpoint} stays mounted")

    def log_text(self) -> str:
        """What the servers wrote (mfusepy logs every exception an operation raised)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def errors(self) -> list[str]:
        """Lines of the servers' log that show an operation failing inside the model."""
        return [
            line
            for line in self.log_text().splitlines()
            if "Uncaught" in line or "Traceback" in line or "critical" in line.lower()
        ]


@contextlib.contextmanager
def mounted(
    store: Path, mountpoint: Path, *, journal_interval: float | None = None
) -> Iterator[LossyMount]:
    """A :class:`LossyMount`, mounted for the block and always unmounted after it."""
    fs = LossyMount(store, mountpoint, journal_interval=journal_interval)
    with fs:
        yield fs


def sync_file(path: Path) -> None:
    """fsync the file at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """fsync the directory at ``path`` (its entries become durable)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a lossy FUSE filesystem.")
    parser.add_argument("store", type=Path)
    parser.add_argument("mountpoint", type=Path)
    parser.add_argument("--journal-interval", type=float, default=None)
    parser.add_argument("--parent", type=int, default=os.getppid())
    args = parser.parse_args(argv)
    serve(args.store, args.mountpoint.resolve(), args.journal_interval, args.parent)


if __name__ == "__main__":
    main()
