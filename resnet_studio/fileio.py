"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def run_folder_name(title: str) -> str:
    """`resnet-20-20261128-031500`: a run folder named after the network and the start time."""
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


# New files get the permissions any program's would (0666 less the umask), not mkstemp's 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class NotARegularFile(OSError):
    """The target exists and is a link, a folder, a pipe or a device: never written through or
    replaced. `strerror` says what it is."""


def check_writable_target(path: str | os.PathLike[str]) -> None:
    """Raise `NotARegularFile` if `path` exists and is anything but a regular file (a symbolic
    link is refused even when it points to one: a write never goes where the user did not name)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: the write itself reports it
    if stat.S_ISREG(mode):
        return
    kind = (
        "a symbolic link"
        if stat.S_ISLNK(mode)
        else "a folder"
        if stat.S_ISDIR(mode)
        else "a named pipe"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise NotARegularFile(errno.EEXIST, f"{kind}, not a regular file: refusing to replace it", str(path))


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` with a binary temporary file, then rename it to `path` so readers never see
    half a file and a crash never destroys the previous version. A `path` that exists and is not a
    regular file raises `NotARegularFile` and is left as it is."""
    target = Path(path)
    check_writable_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        check_writable_target(target)  # something may have appeared there meanwhile
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


MAX_JSON_BYTES = 32 * 2**20  # architecture, project, config and status files are kilobytes


class BadJSON(ValueError):
    """A JSON file or text that cannot be used; the message says why (the caller adds the path)."""


def loads_json(data: str | bytes) -> Any:
    """`json.loads` whose every failure is a `BadJSON` with a reason: invalid syntax, bytes that
    are not UTF-8, nesting too deep for the parser, an integer of thousands of digits."""
    try:
        return json.loads(data)
    except RecursionError:
        raise BadJSON("nested too deeply") from None
    except UnicodeDecodeError:
        raise BadJSON("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadJSON(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise BadJSON(f"not usable JSON: {exc}") from None


def read_json(path: str | os.PathLike[str], max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file that must be a regular file of at most `max_bytes`: a pipe or a device is
    never opened (reading one could block forever or never end). Raises `BadJSON` or `OSError`."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise BadJSON("not a regular file")
    if info.st_size > max_bytes:
        raise BadJSON(f"too large for this kind of file ({info.st_size:,} bytes, limit {max_bytes:,})")
    with open(path, "rb") as handle:
        return loads_json(handle.read(max_bytes + 1))
