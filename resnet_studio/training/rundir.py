"""Run directories (DESIGN.md): architecture.json, config.json, metrics.jsonl, checkpoints/.

`metrics.jsonl` is appended and flushed line by line, so another process (the studio) can follow
a run while it is written; `MetricsReader` reads only complete lines and remembers where it was.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import IO, Any

import torch

import resnet_studio
from resnet_studio.errors import UserError
from resnet_studio.fileio import atomic_write_json

METRIC_KEYS = ("kind", "epoch", "step", "loss", "accuracy", "lr", "images_per_s", "time")


class RunDirectory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics: IO[str] | None = None

    @property
    def architecture_file(self) -> Path:
        return self.path / "architecture.json"

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "best.pt"

    def create(self, architecture: dict[str, Any], config: dict[str, Any], device: str) -> None:
        try:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        atomic_write_json(self.architecture_file, architecture)
        atomic_write_json(
            self.config_file,
            {
                **config,
                "device_used": device,
                "versions": {
                    "resnet_studio": resnet_studio.__version__,
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                },
            },
        )

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.config_file}: cannot read the run's config ({exc})") from None

    def append_metrics(self, record: dict[str, Any]) -> None:
        if self._metrics is None:
            self._metrics = open(self.metrics_file, "a", encoding="utf-8")  # noqa: SIM115
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None


class MetricsReader:
    """Follows a `metrics.jsonl` that may still be growing; call `read_new()` as often as you like."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < self.offset:
                    self.offset = 0  # the file was replaced: start again
                handle.seek(self.offset)
                chunk = handle.read()
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
                record = json.loads(line)
            except json.JSONDecodeError:
                self.bad_lines += 1
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All complete records of a run's metrics file (a run folder or the file itself)."""
    path = Path(path)
    return MetricsReader(path / "metrics.jsonl" if path.is_dir() else path).read_new()
