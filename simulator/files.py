"""Writing output files so that a reader never sees half of one, and nothing else is harmed.

A regular file (or a path that does not exist yet) is written under a temporary name in the
same directory and renamed into place when it is complete: an interrupted run leaves the
old file or none, never a torn one. The temporary file is created with mode ``0o666``
filtered by the umask, like any file a program creates, so the finished file has the
permissions the user expects.

Anything else is *streamed to*, never replaced: a FIFO, a terminal, ``/dev/null`` or
``/dev/stdout`` (replacing ``/dev/null`` by renaming onto it would break the machine for
everyone, and as root nothing would stop it). A symbolic link is followed: the file it
points to is what gets written, and the link stays a link.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from pathlib import Path

_counter = itertools.count()


def resolve_target(path: str | Path) -> Path:
    """The path to write: a symbolic link's target (followed to the end), else ``path``."""
    p = Path(path)
    return p.resolve() if p.is_symlink() else p


def is_special(path: str | Path) -> bool:
    """True when ``path`` exists and is not a regular file or a directory (a FIFO, a device,
    a socket): written in place, never renamed onto."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def temp_sibling(dest: Path) -> Path:
    """Create an empty temporary file next to ``dest`` (mode 0o666 less the umask).

    Creating it up front shows a missing directory, a read-only disk or a name that is too
    long before any work is done.
    """
    tmp = dest.with_name(f".{dest.name[:200]}.{os.getpid()}.{next(_counter)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    return tmp


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path``: replaced whole through a temporary sibling, or streamed to
    when it is a FIFO or a device. A reader sees the old file or the new one, never half."""
    dest = resolve_target(path)
    if is_special(dest):
        with open(dest, "w", encoding="utf-8") as fh:
            fh.write(text)
        return Path(path)
    tmp = temp_sibling(dest)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Path(path)


__all__ = ["is_special", "resolve_target", "temp_sibling", "write_atomic"]
