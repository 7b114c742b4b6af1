"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def run_folder_name(title: str) -> str:
    """`resnet-20-20261128-031500`: a run folder named after the network and the start time."""
    dashed = "".join(c if c.isalnum() else "-" for c in title.lower())
    slug = re.sub(r"-{2,}", "-", dashed).strip("-") or "run"  # "ResNet-20 (plain)": resnet-20-plain
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


def unused_run_folder(root: str | os.PathLike[str], title: str) -> Path:
    """A new run folder's path under `root`: `run_folder_name`, with `-2`, `-3`... when a run of
    the same network started in the same second (nothing there is ever written over: the engine
    refuses a folder that is not new or empty)."""
    base = Path(root) / run_folder_name(title)
    path, count = base, 1
    while os.path.lexists(path):
        count += 1
        path = base.with_name(f"{base.name}-{count}")
    return path


class NotARegularFile(OSError):
    """The target exists and is a link, a folder, a pipe or a device: never written through or
    replaced. `strerror` says what it is."""


def kind_of(mode: int) -> str:
    """What a file of this `st_mode` is, in words ("a symbolic link", "a named pipe", ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def names_a_folder(path: str | os.PathLike[str]) -> bool:
    """Whether the text of `path` ends with a separator ("newdir/"): it names a folder, never a
    file, though `Path("newdir/")` forgets the slash."""
    text = os.fspath(path)
    return isinstance(text, str) and text.endswith((os.sep, "/"))


def check_writable_target(path: str | os.PathLike[str]) -> None:
    """Raise `NotARegularFile` if `path` exists and is anything but a regular file (a symbolic
    link is refused even when it points to one: a write never goes where the user did not name),
    or if it ends with a separator (a folder's name, not a file's)."""
    if names_a_folder(path):
        raise NotARegularFile(errno.EISDIR, "names a folder (it ends with a slash), not a file", str(path))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: the write itself reports it
    if not stat.S_ISREG(mode):
        raise NotARegularFile(
            errno.EEXIST, f"{kind_of(mode)}, not a regular file: refusing to replace it", str(path)
        )


# -- folders that must be real: a run folder and the folders inside it -------------------------

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FD = {os.open, os.rename, os.link, os.unlink, os.stat, os.mkdir} <= os.supports_dir_fd


def check_real_folders(folder: str | os.PathLike[str], within: str | os.PathLike[str]) -> None:
    """Raise `NotARegularFile` unless `within` and every folder from it down to `folder` (a
    folder inside it) is a real folder, none a symbolic link. Missing ones are created. A file
    written there then lands inside `within`, never where a link points."""
    top, target = Path(within), Path(folder)
    parts = target.relative_to(top).parts
    path = top
    for name in ("", *parts):
        path = path / name if name else path
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            try:
                path.mkdir(parents=path == top)  # the folder's own parents may be links: the user's
                continue
            except FileExistsError:  # another process made it meanwhile: check what it made
                mode = os.lstat(path).st_mode
            except OSError as exc:
                raise NotARegularFile(exc.errno or errno.EIO, exc.strerror or str(exc), str(path)) from None
        if not stat.S_ISDIR(mode):
            raise NotARegularFile(
                errno.ENOTDIR, f"{kind_of(mode)}, not a folder: refusing to write through it", str(path)
            )


def _open_folder(folder: Path, within: Path | None) -> int | None:
    """A descriptor of `folder` that later opens and renames go through, so that a folder swapped
    for a link after the check is not followed (None where the system has no `dir_fd`)."""
    if within is not None:
        check_real_folders(folder, within)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    if not _DIR_FD:
        return None
    flags = os.O_RDONLY | _O_DIRECTORY | (_O_NOFOLLOW if within is not None else 0)
    try:
        return os.open(folder, flags)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        # Swapped for a link or a file since the check.
        raise NotARegularFile(exc.errno, "not a folder (or a link to one)", str(folder)) from None


TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")  # `.last.pt.3f9a01bc.tmp`


def _temp_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(4)}.tmp"


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
    *,
    within: str | os.PathLike[str] | None = None,
    exclusive: bool = False,
) -> None:
    """Call `write` with a binary temporary file, then rename it to `path` so readers never see
    half a file and a crash never destroys the previous version. A `path` that exists and is not a
    regular file raises `NotARegularFile` and is left as it is. With `within` (a run folder), that
    folder and every folder below it on the way to `path` must be real folders, not links. With
    `exclusive`, an existing `path` is never replaced (`FileExistsError`): a new file only."""
    if names_a_folder(path):
        check_writable_target(path)
    target = Path(path)
    dir_fd = _open_folder(target.parent, Path(within) if within is not None else None)
    name, tmp = target.name, _temp_name(target.name)
    here = {"dir_fd": dir_fd} if dir_fd is not None else {}
    # Relative to the folder's descriptor where there is one, the full path elsewhere.
    dest, temp = (name, tmp) if dir_fd is not None else (str(target), str(target.parent / tmp))
    try:
        _check_target(dest, str(target), here)
        # O_EXCL and O_NOFOLLOW: a link planted under the temporary name is not followed. Mode
        # 0666 less the umask: the permissions any program's new file gets (not mkstemp's 0600).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, 0o666, **here)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            _check_target(dest, str(target), here)  # something may have appeared there meanwhile
            if exclusive:
                _link_new(temp, dest, str(target), here)
            elif dir_fd is not None:
                os.rename(temp, dest, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # replaces, as os.replace
            else:
                os.replace(temp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, **here)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _check_target(dest: str, shown: str, here: dict[str, Any]) -> None:
    try:
        mode = os.stat(dest, follow_symlinks=False, **here).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotARegularFile(
            errno.EEXIST, f"{kind_of(mode)}, not a regular file: refusing to replace it", shown
        )


def _link_new(temp: str, dest: str, shown: str, here: dict[str, Any]) -> None:
    """Give the written file its name only if the name is free: a hard link fails on any existing
    file, where a rename would replace it. Filesystems without hard links check, then rename."""
    fd = here.get("dir_fd")
    try:
        if fd is not None:
            os.link(temp, dest, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        else:
            os.link(temp, dest, follow_symlinks=False)
        return
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "exists already: refusing to replace it", shown) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    try:
        os.stat(dest, follow_symlinks=False, **here)
    except FileNotFoundError:
        if fd is not None:
            os.rename(temp, dest, src_dir_fd=fd, dst_dir_fd=fd)
        else:
            os.replace(temp, dest)
        return
    raise FileExistsError(errno.EEXIST, "exists already: refusing to replace it", shown)


def open_append(path: str | os.PathLike[str], *, within: str | os.PathLike[str]) -> IO[bytes]:
    """Open `path` (inside the folder `within`) to append to it, creating it if missing: never
    through a link (O_NOFOLLOW), never a pipe or a device (opened without blocking, then checked),
    and every folder from `within` down to it a real one."""
    target = Path(path)
    dir_fd = _open_folder(target.parent, Path(within))
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK | getattr(os, "O_BINARY", 0)
    try:
        if dir_fd is not None:
            fd = os.open(target.name, flags, 0o666, dir_fd=dir_fd)
        else:
            fd = os.open(target, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFile(
                errno.ELOOP, "a symbolic link: never written through", str(target)
            ) from None
        raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotARegularFile(
            errno.EINVAL, f"{kind_of(mode)}, not a regular file: never written to", str(target)
        )
    return os.fdopen(fd, "ab")


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[str]:
    """Delete what a killed writer left in `folder`: regular files named as `atomic_write` names
    its temporary files (never a link, a folder or any other name). The names removed. Call it
    only while no other process writes there (a run's lock)."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if TEMP_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def atomic_write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    within: str | os.PathLike[str] | None = None,
    exclusive: bool = False,
) -> None:
    atomic_write(path, lambda handle: handle.write(data), within=within, exclusive=exclusive)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


# Significant digits a float keeps in JSON: enough for any figure the project writes, few enough
# that binary noise (0.1 + 0.2 = 0.30000000000000004, 0.5538000000000001) never reaches a file.
JSON_DIGITS = 15


def tidy(value: float, digits: int = JSON_DIGITS) -> float:
    """`value` to `digits` significant digits (0.5538000000000001 -> 0.5538); NaN and infinities kept."""
    return float(f"{value:.{digits}g}") if math.isfinite(value) else value


def tidy_json(value: Any) -> Any:
    """`value` with every float `tidy`, for a JSON file: dictionaries, lists and tuples copied,
    anything else kept as it is."""
    if isinstance(value, float):
        return tidy(value)
    if isinstance(value, dict):
        return {k: tidy_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [tidy_json(v) for v in value]
    return value


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(tidy_json(data), indent=2) + "\n")


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


class TooLarge(OSError):
    """A file larger than its kind ever is: not read (it could fill the memory)."""


def open_regular(
    path: str | os.PathLike[str], max_bytes: int | None = None, *, follow_links: bool = True
) -> IO[bytes]:
    """Open a file for reading only if it is a regular file (of at most `max_bytes`): a pipe, a
    device or, with `follow_links=False`, a link raises `NotARegularFile` without blocking (the
    open does not wait for a pipe's writer); a larger file raises `TooLarge`."""
    flags = os.O_RDONLY | _O_NONBLOCK | (0 if follow_links else _O_NOFOLLOW) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise NotARegularFile(
                errno.ELOOP, "a symbolic link, not a regular file: not read", str(path)
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(
                errno.EINVAL, f"{kind_of(info.st_mode)}, not a regular file: not read", str(path)
            )
        if max_bytes is not None and info.st_size > max_bytes:
            raise TooLarge(
                errno.EFBIG,
                f"too large for this kind of file ({info.st_size:,} bytes, limit {max_bytes:,})",
                str(path),
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json(
    path: str | os.PathLike[str], max_bytes: int = MAX_JSON_BYTES, *, follow_links: bool = True
) -> Any:
    """Read a JSON file that must be a regular file of at most `max_bytes`: a pipe or a device is
    never read (reading one could block forever or never end). Raises `BadJSON` or `OSError`."""
    try:
        handle = open_regular(path, max_bytes, follow_links=follow_links)
    except (NotARegularFile, TooLarge) as exc:
        raise BadJSON(exc.strerror) from None
    with handle:
        return loads_json(handle.read(max_bytes + 1))
