"""Reading a run's files back: `metrics.jsonl` followed while another process may still append
to it (`MetricsReader` reads only complete lines and remembers where it was), and the guarded open
every run file is read through (a regular file, never a link, a pipe or a device; bounded in size).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from resnet_studio.errors import UserError
from resnet_studio.fileio import NotARegularFile, TooLarge, loads_json, open_regular
from resnet_studio.runs.metrics import MetricsRecord

# A metrics file is ~150 bytes a logged step: a million steps logged fit, a runaway file does not.
MAX_METRICS_BYTES = 512 * 2**20


class MetricsReader:
    """Follows a `metrics.jsonl` that may still be growing; call `read_new()` as often as you like."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0

    def read_new(self) -> list[MetricsRecord]:
        """The complete records appended since the last call. `UserError` naming the file when
        it is not one to read: a pipe, a device or a link (never opened in a way that blocks), or
        larger than any metrics file (`MAX_METRICS_BYTES`)."""
        try:
            with open_run_file(self.path, MAX_METRICS_BYTES) as handle:
                if os.fstat(handle.fileno()).st_size < self.offset:
                    self.offset = 0  # the file was replaced: start again
                handle.seek(self.offset)
                chunk = handle.read(MAX_METRICS_BYTES)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        records = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            try:
                record = MetricsRecord.from_json(loads_json(line))
            except ValueError:  # a torn line, bytes that are not UTF-8, absurd numbers or nesting
                record = None
            if record is None:
                self.bad_lines += 1
            else:
                records.append(record)
        return records


def reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def open_run_file(path: Path, max_bytes: int) -> IO[bytes]:
    """A run's file opened to read: a regular file, not a link, of at most `max_bytes`, else a
    `UserError` naming it (`FileNotFoundError` passes, for the caller to treat as empty)."""
    try:
        return open_regular(path, max_bytes, follow_links=False)
    except FileNotFoundError:
        raise
    except (NotARegularFile, TooLarge) as exc:
        raise UserError(f"{path}: {exc.strerror}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({reason(exc)})") from None


def read_metrics(path: str | Path) -> list[MetricsRecord]:
    """All complete records of a run's metrics file (a run folder or the file itself)."""
    path = Path(path)
    return MetricsReader(path / "metrics.jsonl" if path.is_dir() else path).read_new()
