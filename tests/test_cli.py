"""The `resnet-studio` command, in process and as a real subprocess."""

import json
import pickle
import subprocess
import sys

import pytest
import torch
from PIL import Image

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec, save_spec
from resnet_studio.cli import build_parser, main
from resnet_studio.data import demo


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    path = tmp_path_factory.mktemp("arch") / "tiny.resnet.json"
    save_spec(
        ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),)),
        path,
    )
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_arch):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(
        [
            "train",
            "--arch",
            str(tiny_arch),
            "--epochs",
            "2",
            "--limit-train",
            "512",
            "--limit-val",
            "200",
            "--batch-size",
            "64",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_json(capsys):
    code, out, _ = run_cli(capsys, "presets", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["resnet50"]["params"] == 25_557_032 and rows["resnet110"]["depth"] == 110


def test_presets_text(capsys):
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0 and "resnet18" in out and "11,689,512" in out


def test_summary_json_and_text(capsys, tiny_arch):
    code, out, _ = run_cli(capsys, "summary", "--preset", "resnet20", "--json")
    data = json.loads(out)
    assert code == 0 and data["params"] == 269_722 and len(data["layers"]) == 11
    code, out, _ = run_cli(capsys, "summary", "--arch", tiny_arch)
    assert code == 0 and "stage1.block1" in out and out.splitlines()[-1].startswith("total")
    # Named as other commands name things: a preset, or an architecture file, without an option.
    code, by_name, _ = run_cli(capsys, "summary", "resnet20", "--json")
    assert code == 0 and json.loads(by_name) == data
    code, by_file, _ = run_cli(capsys, "summary", tiny_arch)
    assert code == 0 and by_file == out


def test_train_writes_a_run_folder(run_dir, capsys):
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["kind"] == "val"


def test_evaluate_json_and_table(run_dir, capsys):
    code, out, _ = run_cli(capsys, "evaluate", run_dir / "checkpoints" / "best.pt", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["confusion"]) == 10 and sum(map(sum, data["confusion"])) == 2000
    assert data["per_class"][0]["class"] == "circle"
    code, out, _ = run_cli(capsys, "evaluate", run_dir, "--limit-val", "100")
    assert code == 0 and "Category" in out and "Overall accuracy" in out and "of 100 images" in out
    # The confusion matrix the help promises: a row per true class, counts summing to the images.
    matrix = out[out.index("Confusion matrix") :].splitlines()[2:]
    assert len(matrix) == 10 and matrix[0].split()[:2] == ["1.", "circle"]
    assert sum(int(v) for row in matrix for v in row.split()[2:]) == 100


def test_classify_json(run_dir, tmp_path, capsys):
    images, _ = demo.generate(2, seed=4)
    Image.fromarray(images[0].transpose(1, 2, 0)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("not a png")
    code, out, _ = run_cli(capsys, "classify", run_dir, tmp_path, "--top", "2", "--json")
    data = json.loads(out)
    assert code == 0 and len(data) == 2
    assert len(data[0]["top"]) == 2 and "error" in data[1]
    assert data[0]["unsure"] == (data[0]["top"][0]["probability"] < 0.5)
    code, out, _ = run_cli(capsys, "classify", run_dir, tmp_path / "a.png")
    assert out.startswith("10 classes known: circle, ring, square")  # any image gets one of them


def test_resume_extends_a_run(run_dir, capsys, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    code, _, err = run_cli(capsys, "train", "--resume", copy, "--epochs", "3")
    assert code == 0 and "resuming at step 16" in err
    vals = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    assert [v["epoch"] for v in vals if v["kind"] == "val"] == [1, 2, 3]


def test_init_fine_tunes_a_runs_weights(run_dir, capsys, tmp_path):
    out = tmp_path / "tuned"
    # No --arch: the network is the one the weights were trained with. A tiny learning rate, so
    # that one step leaves the weights where they started.
    code, _, err = run_cli(
        capsys,
        "train",
        "--init",
        run_dir,
        "--steps",
        "1",
        "--lr",
        "1e-9",
        "--limit-train",
        "64",
        "--limit-val",
        "64",
        "--out",
        out,
    )
    assert code == 0, err
    start = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]  # a folder: its best
    tuned = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert tuned["step"] == 1 and tuned["architecture"]["name"] == "Tiny"
    convs = [k for k in start if k.endswith("conv1.weight")]
    assert convs and all(torch.allclose(start[k], tuned["model"][k], atol=1e-6) for k in convs)
    assert json.loads((out / "config.json").read_text())["init"] == str(run_dir)
    # Random weights would not start there.
    code, _, _ = run_cli(
        capsys,
        "train",
        "--arch",
        run_dir / "architecture.json",
        "--steps",
        "1",
        "--lr",
        "1e-9",
        "--limit-train",
        "64",
        "--limit-val",
        "64",
        "--out",
        tmp_path / "fresh",
    )
    fresh = torch.load(tmp_path / "fresh" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert code == 0 and not torch.allclose(start[convs[0]], fresh[convs[0]], atol=1e-3)


def test_export_formats_and_metrics_csv(run_dir, capsys, tmp_path):
    import csv

    code, out, _ = run_cli(capsys, "export", run_dir, "--format", "python", "--out", tmp_path / "net.py")
    assert code == 0 and "max abs difference on 4 random inputs" in out and (tmp_path / "net.py").is_file()
    code, out, _ = run_cli(capsys, "export", run_dir, "--format", "csv", "--out", tmp_path / "m.csv")
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert code == 0 and f"({len(rows)} rows" in out
    assert list(rows[0]) == ["kind", "epoch", "step", "loss", "accuracy", "lr", "images_per_s", "time"]
    assert [r["epoch"] for r in rows if r["kind"] == "val"] == ["1", "2"]
    code, _, err = run_cli(capsys, "export", tmp_path, "--format", "csv", "--out", tmp_path / "n.csv")
    assert code == 2 and "no metrics to export" in err


def test_train_with_tensorboard_writes_an_event_log(tiny_arch, capsys, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    args = ["--arch", tiny_arch, "--epochs", "1", "--limit-train", "256", "--limit-val", "64"]
    code, _, _ = run_cli(capsys, "train", *args, "--batch-size", "64", "--out", out, "--tensorboard")
    assert code == 0
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/lr", "val/accuracy"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]


def _not_ours(tmp_path):
    evil = tmp_path / "evil.pt"

    class Boom:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(evil, "wb") as f:
        pickle.dump(Boom(), f)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    return evil, plain, text


def test_bad_input_exits_2_with_one_line(tmp_path, capsys, tiny_arch, run_dir):
    bad_json = tmp_path / "bad.resnet.json"
    bad_json.write_text("{")
    bad_spec = tmp_path / "spec.resnet.json"
    data = json.loads(tiny_arch.read_text())
    data["stages"][0]["channels"] = 0
    bad_spec.write_text(json.dumps(data))
    evil, plain, text = _not_ours(tmp_path)
    cases = [
        (["summary", "--arch", bad_json], "not valid JSON"),
        (["summary", "--arch", bad_spec], "stages[0].channels: must be a positive integer, got 0"),
        (["summary", "--preset", "resnet99"], "unknown preset"),
        (["train", "--preset", "resnet20", "--data", f"cifar10:{tmp_path}"], "CIFAR-10 not found"),
        (
            ["train", "--preset", "resnet20", "--data", f"folder:{tmp_path / 'none'}"],
            "no such folder",
        ),
        (["train", "--preset", "resnet20", "--epochs", "0"], "epochs: must be a positive integer"),
        (
            ["train", "--preset", "resnet20", "--device", "cuda"]
            if not torch.cuda.is_available()
            else ["train", "--preset", "resnet20", "--device", "mps"],
            "available on this machine",
        ),
        (["evaluate", evil], "refused"),
        (["evaluate", plain], "not a ResNet Studio checkpoint"),
        (["evaluate", text], "not a readable checkpoint"),
        (["classify", tmp_path / "missing.pt", tmp_path], "no such checkpoint"),
        (["train", "--resume", tmp_path], "cannot read the run's config"),
        (["train", "--init", run_dir, "--resume", run_dir], "--init starts a new run"),
        (["train", "--init", tmp_path / "missing.pt"], "no such checkpoint"),
        (
            ["train", "--init", "resnet20-cifar10", "--preset", "resnet32", "--limit-train", "64"],
            "resnet20-cifar10.pt: the weights do not fit the architecture: 72 missing",
        ),
    ]
    for args, message in cases:
        code, out, err = run_cli(capsys, *args)
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "this must never run" not in out


def test_classify_with_only_unreadable_files_exits_2(run_dir, tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"junk")
    code, out, _ = run_cli(capsys, "classify", run_dir, tmp_path / "x.png")
    assert code == 2 and "x.png: error: not an image" in out


def test_subprocess_bad_option_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "resnet_studio", "train", "--optimizer", "rmsprop"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid choice" in result.stderr


WINDOW_OPTIONS = ["--screenshot", "s.png", "--workspace", "classify", "--theme", "dark", "--size", "9x9"]


@pytest.mark.parametrize(
    "argv",
    [
        [*WINDOW_OPTIONS, "open", "cat.png"],
        ["open", "cat.png", *WINDOW_OPTIONS],
        [*WINDOW_OPTIONS[:4], "open", "cat.png", *WINDOW_OPTIONS[4:]],  # some before, some after
    ],
)
def test_window_options_hold_before_and_after_open(argv):
    args = build_parser().parse_args(argv)
    assert (args.screenshot, args.workspace, args.theme, args.size, args.path) == (
        "s.png",
        "classify",
        "dark",
        "9x9",
        "cat.png",
    )
    plain = build_parser().parse_args(["open", "cat.png"])
    assert (plain.screenshot, plain.workspace, plain.theme, plain.size) == (None, "build", "system", None)


@pytest.mark.parametrize(
    ("command", "extra"),
    [("landscape", ["--grid", "2", "--limit-val", "16"]), ("lesion", ["--limit-val", "16"])],
)
def test_long_commands_show_progress_on_stderr_and_keep_stdout_json(command, extra, run_dir, capsys):
    """`landscape --grid 21 --json` was silent for nine minutes: the passes count up on stderr."""
    code, out, err = run_cli(capsys, command, run_dir, *extra, "--json")
    assert code == 0
    json.loads(out)  # stdout is the JSON alone
    assert f"{command}:" in err and "pass" in err and "100%" in err
