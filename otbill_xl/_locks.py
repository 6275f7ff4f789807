"""Advisory locks on open files, so one run can tell whether another run is still writing a file.

The standard library has what is needed (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows);
the lock belongs to the open file and the operating system drops it when the process ends, however
it ends — which is the point: a lock that can be taken means its writer is gone.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

try:  # POSIX
    import fcntl

    def try_lock(fd: int) -> bool:
        """Take an exclusive lock on ``fd`` without waiting; False when another process holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


def _still_at(fd: int, path: Path) -> bool:
    """Whether ``path`` names the file open on ``fd`` (not deleted, nor replaced by another)."""
    try:
        at = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (at.st_dev, at.st_ino) == (own.st_dev, own.st_ino)


def lock_new(fd: int, path: Path) -> bool:
    """Lock a file this process has just created at ``path``: True when the lock is held and ``path`` is
    still this file. False when another run's clean-up (:func:`remove_if_unlocked`) took the new file's
    lock in the instant between its creation and this lock and deletes it: the caller makes it again.
    (Found under load: two runs writing into one folder, the second one's start-up clean-up deleted the
    first one's brand-new ``.part`` file, whose rename then failed.)"""
    return try_lock(fd) and _still_at(fd, path)


def create_locked(path: Path, mode: int = 0o666, *, patience: float = 2.0) -> int:
    """Create ``path``, which must not exist (:class:`FileExistsError` otherwise), and return its
    descriptor with the lock held (see :func:`lock_new`; made again if a clean-up took it first)."""
    deadline = time.monotonic() + patience
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        if lock_new(fd, path):
            return fd
        os.close(fd)
        while path.exists():  # the clean-up holding it is deleting it
            if time.monotonic() > deadline:
                raise FileExistsError(errno.EEXIST, "File exists", str(path))
            time.sleep(0.005)


def remove_if_unlocked(path: Path) -> bool:
    """Delete ``path`` unless another process holds its lock (a file another run is writing). The lock is
    held while deleting, so a writer that holds it (:func:`lock_new`) never loses its file. Windows
    deletes no open file: there the lock is let go just before."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        if not lock_new(fd, path):
            return False
        if os.name == "nt":  # pragma: no cover
            os.close(fd)
            fd = -1
        path.unlink()
        return True
    except OSError:
        return False
    finally:
        if fd >= 0:
            os.close(fd)


def in_use(path: Path) -> bool | None:
    """True when another process holds the lock on ``path`` (it is being written), False when not,
    None when the file does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError:
        return True  # cannot even open it (Windows: open for writing elsewhere): treat as in use
    try:
        return not try_lock(fd)
    finally:
        os.close(fd)  # closing drops a lock this process took


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
