"""Files that are never half-written: atomic writes shared by module saves, checkpoints and
datasets.

``atomic_write(path)`` yields a file object on a temporary file beside ``path``; on success the
file is flushed, synced and renamed over ``path`` (readers see the old or the new file, never a
part); on an exception it is removed. A process killed mid-write (SIGKILL) leaves its temporary
file behind: its name carries the writer's process id, and the next atomic write to the same
path removes the leftovers of writers that no longer run.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from typing import IO

__all__ = ["atomic_write", "temporary_name", "is_temporary_name", "remove_stale_temporaries"]


def temporary_name(path: str) -> str:
    """``.<name>.<pid>.tmp`` beside ``path``: hidden, and owned by this process."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}.tmp")


def is_temporary_name(name: str) -> bool:
    """Whether a file name is one of :func:`temporary_name`'s (``.<name>.<pid>.tmp``)."""
    parts = name.rsplit(".", 2)
    return name.startswith(".") and len(parts) == 3 and parts[2] == "tmp" and parts[1].isdigit()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str) -> None:
    """Remove the temporary files of ``path`` left by writers that no longer run."""
    folder, name = os.path.split(os.path.abspath(path))
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        pid = leftover[len(os.path.join(folder, f".{name}.")) : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.remove(leftover)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` atomically: ``with atomic_write(p) as f: f.write(...)``.

    The file gets the permissions a plain ``open(path, 'w')`` would give (``0o666 & ~umask``),
    and the parent folder is created if needed.

    Args:
        path: the destination.
        mode: 'wb' or 'w'.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
