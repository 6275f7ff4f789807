"""Advisory locks on open files, so one run can tell whether another run is still writing a file.

The standard library has what is needed (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows);
the lock belongs to the open file and the operating system drops it when the process ends, however
it ends — which is the point: a lock that can be taken means its writer is gone.
"""

from __future__ import annotations

import os
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
