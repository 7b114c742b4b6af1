"""Hostile file input and output: links, pipes, devices and folders as outputs; JSON that breaks
parsers; files of the wrong kind. Each gets one clear message and nothing is overwritten."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch

from resnet_studio.architecture import get_preset, load_spec
from resnet_studio.cli import main
from resnet_studio.errors import UserError
from resnet_studio.fileio import (
    BadJSON,
    NotARegularFile,
    atomic_write_text,
    loads_json,
    read_json,
)
from resnet_studio.nn.checkpoint import load_checkpoint
from resnet_studio.nn.shipped import resolve
from resnet_studio.project import open_file
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.metrics_file import MetricsReader
from resnet_studio.runs.runinfo import metrics_to_csv


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def targets(tmp_path):
    """An output path of every kind that must not be written through or replaced."""
    real = tmp_path / "real.txt"
    real.write_text("precious")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "nowhere" / "x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"link": link, "dangling": dangling, "fifo": fifo, "folder": folder, "device": "/dev/null"}


def test_the_atomic_writer_never_writes_through_a_link_pipe_device_or_folder(targets, tmp_path):
    for kind, path in targets.items():
        before = os.lstat(path)
        with pytest.raises(NotARegularFile) as caught:
            atomic_write_text(path, "overwritten")
        assert "not a regular file" in caught.value.strerror, kind
        after = os.lstat(path)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    assert (tmp_path / "real.txt").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no debris


def test_files_written_atomically_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o644  # not mkstemp's 0600


def test_export_refuses_an_out_that_is_not_a_regular_file(targets, capsys, tmp_path):
    for kind, path in targets.items():
        code, _, err = run_cli(capsys, "export", "resnet20-demo", "--format", "python", "--out", path)
        assert code == 2 and str(path) in err and "not a regular file" in err, (kind, err)
        assert "Traceback" not in err
    assert (tmp_path / "real.txt").read_text() == "precious"
    assert stat.S_ISFIFO(os.lstat(targets["fifo"]).st_mode)


@pytest.mark.parametrize("name", ["model.txt", "model", "network.PY"])
def test_python_export_takes_any_file_name(name, capsys, tmp_path):
    code, out, err = run_cli(
        capsys, "export", "resnet20-demo", "--format", "python", "--out", tmp_path / name
    )
    assert code == 0, err
    assert "def build_model" in (tmp_path / name).read_text()


def test_csv_export_of_a_checkpoint_says_what_it_takes(capsys, tmp_path):
    checkpoint = resolve("resnet20-demo")  # a .pt file
    code, _, err = run_cli(capsys, "export", checkpoint, "--format", "csv", "--out", tmp_path / "m.csv")
    assert code == 2 and "run folder or its metrics.jsonl" in err and "Traceback" not in err
    binary = tmp_path / "metrics.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n" + json.dumps({"kind": "train", "step": 1}).encode() + b"\n")
    assert metrics_to_csv(binary, tmp_path / "m.csv") == 1  # the unreadable line is skipped


BREAKERS = {
    "a number of 5,000 digits": '{"format": "resnet-studio.architecture", "classes": ' + "9" * 5000 + "}",
    "arrays nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "objects nested deeply": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "bytes that are not UTF-8": b"\xff\xfe{\x00}",
    "not JSON at all": "name: ResNet",
}


@pytest.mark.parametrize("what", BREAKERS)
def test_json_that_breaks_parsers_gets_a_message_naming_the_file(what, tmp_path, capsys):
    text = BREAKERS[what]
    with pytest.raises(BadJSON):
        loads_json(text)
    path = tmp_path / "evil.resnet.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    for read in (load_spec, open_file):
        with pytest.raises(UserError, match="evil.resnet.json"):
            read(path)
    code, _, err = run_cli(capsys, "summary", "--arch", path)
    assert code == 2 and "evil.resnet.json" in err and "Traceback" not in err
    # A run's metrics file with such a line: the line is skipped, the rest is read.
    metrics = tmp_path / "metrics.jsonl"
    good = json.dumps({"kind": "train", "step": 1, "loss": 1.0})
    metrics.write_bytes((text if isinstance(text, bytes) else text.encode()) + b"\n" + good.encode() + b"\n")
    reader = MetricsReader(metrics)
    assert reader.read_new() == [MetricsRecord.from_json(json.loads(good))] and reader.bad_lines == 1


def test_a_pipe_or_a_huge_file_is_never_read_as_json(tmp_path):
    pipe = tmp_path / "arch.resnet.json"
    os.mkfifo(pipe)  # opening it would block until a writer comes
    with pytest.raises(BadJSON, match="not a regular file"):
        read_json(pipe)
    with pytest.raises(UserError, match="not a regular file"):
        open_file(pipe)
    with pytest.raises(UserError, match="arch.resnet.json: not a regular file"):
        load_checkpoint(pipe)  # not "no such checkpoint file": it is there
    with pytest.raises(UserError, match="/dev/null: not a regular file"):
        load_checkpoint("/dev/null")
    big = tmp_path / "big.resnet.json"
    big.write_text(json.dumps(get_preset("resnet20").to_dict()) + " " * 2_000)
    with pytest.raises(BadJSON, match="too large"):
        read_json(big, max_bytes=1_000)


def test_a_network_no_machine_can_hold_is_refused_before_it_is_built(tmp_path, capsys):
    """A few hundred bytes naming a network of hundreds of billions of parameters, and ResNet-20 at
    4,096 pixels: refused with the figures by train, classify, evaluate and export."""
    giant = get_preset("resnet20").to_dict()
    giant["stages"] = [{"block": "basic", "count": 256, "channels": 8192, "stride": 1}] * 4
    huge_input = get_preset("resnet20").to_dict()
    huge_input["input"]["size"] = 4096
    for name, arch in (("giant", giant), ("huge-input", huge_input)):
        path = tmp_path / f"{name}.resnet.json"
        path.write_text(json.dumps(arch))
        assert path.stat().st_size < 2_000
        code, _, err = run_cli(
            capsys, "train", "--arch", path, "--limit-train", "64", "--out", tmp_path / name
        )
        assert code == 2 and "needs about" in err and "GB" in err and "more than this device" in err, err
        checkpoint = tmp_path / f"{name}.pt"
        state = load_checkpoint("resnet20-demo")
        state.pop("path")
        torch.save({**state, "architecture": arch, "input_size": arch["input"]["size"]}, checkpoint)
        for command in (
            ["classify", checkpoint, tmp_path],
            ["export", checkpoint, "--format", "onnx", "--out", tmp_path / "x.onnx"],
        ):
            code, _, err = run_cli(capsys, *command)
            assert code == 2 and "needs about" in err and str(checkpoint) in err, err


def test_an_empty_class_folder_is_left_out_and_said(tmp_path):
    from PIL import Image

    from resnet_studio.data.sources import load_data

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(10):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "bird").mkdir()  # empty
    (tmp_path / "empty-too").mkdir()
    (tmp_path / "empty-too" / "notes.txt").write_text("no images here")
    data = load_data(f"folder:{tmp_path}", image_size=8)
    assert data.classes == ["cat", "dog"] and data.empty_classes == ("bird", "empty-too")
    assert set(data.train.labels.tolist()) == {0, 1} and len(data.train) + len(data.val) == 20
    (tmp_path / "dog" / "0.png").unlink()
    for p in (tmp_path / "dog").iterdir():
        p.unlink()
    with pytest.raises(UserError, match="without images: bird, dog, empty-too"):
        load_data(f"folder:{tmp_path}", image_size=8)
