"""File names that are not UTF-8, weights that are not numbers, text that argparse would format:
each gives printable output, strict JSON or one line naming the problem, never a traceback."""

from __future__ import annotations

import copy
import csv
import json
import os

import pytest
import torch
from PIL import Image

from resnet_studio.cli import main
from resnet_studio.inspection.prediction import Prediction
from resnet_studio.nn import shipped
from resnet_studio.nn.checkpoint import load_checkpoint

DEMO = load_checkpoint("resnet20-demo")
DEMO.pop("path")


def run_cli(capsys, *args):
    code = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def odd_folder(tmp_path):
    """A folder with an image whose name is not UTF-8, beside an ordinary one."""
    folder = tmp_path / "photos"
    folder.mkdir()
    picture = Image.new("RGB", (32, 32), (200, 40, 40))
    picture.save(os.path.join(os.fsencode(folder), b"bad\xff\xfe.png"), format="PNG")
    picture.save(folder / "good.png")
    return folder


# --- 10: file names that are not UTF-8 -------------------------------------------------------


def test_classify_prints_a_file_name_that_is_not_utf8(odd_folder, capsys):
    code, out, err = run_cli(capsys, "classify", "resnet20-demo", odd_folder)
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith(str(odd_folder))]
    assert len(lines) == 2 and lines[0].startswith(f"{odd_folder}/bad\\xff\\xfe.png: ")


def test_classify_json_gives_a_file_name_that_is_not_utf8_as_printable_text(odd_folder, capsys):
    code, out, err = run_cli(capsys, "classify", "resnet20-demo", odd_folder, "--json")
    assert code == 0, err
    paths = [r["path"] for r in strict_json(out)]
    assert paths == [f"{odd_folder}/bad\\xff\\xfe.png", f"{odd_folder}/good.png"]
    out.encode("utf-8")  # no lone surrogate anywhere


def test_the_classify_csv_holds_a_file_name_that_is_not_utf8(tmp_path):
    from resnet_studio.inspection.prediction import predictions_csv

    name = os.fsdecode(b"/photos/bad\xff\xfe.png")
    text = predictions_csv([Prediction(name, top=[("cat", 0.75)]), Prediction("x.png", error="=corrupt")])
    rows = list(csv.reader(text.splitlines()))
    assert rows[1] == ["/photos/bad\\xff\\xfe.png", "1", "cat", "0.750000", "", ""]
    assert rows[2][4] == "'=corrupt"  # an error message is never a formula either


def test_summary_prints_a_name_with_escape_sequences_and_lone_surrogates_as_one_line(tmp_path, capsys):
    from resnet_studio.architecture import get_preset

    arch = tmp_path / "net.resnet.json"
    name = "net\x1b[2J\x1b]0;owned\x07\nsecond \ud800"
    arch.write_text(json.dumps({**get_preset("resnet20").to_dict(), "name": name}))
    code, out, err = run_cli(capsys, "summary", "--arch", arch)
    assert code == 0, err
    assert out.splitlines()[0] == "net\\x1b[2J\\x1b]0;owned\\x07\\nsecond \\ud800: input 3x32x32"
    assert "\x1b" not in out


# --- 16: weights that are not numbers --------------------------------------------------------


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory):
    state = copy.deepcopy(DEMO)
    state["model"]["stage1.block1.conv1.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path_factory.mktemp("nan") / "nan.pt"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def overflowing_checkpoint(tmp_path_factory):
    """Finite weights whose outputs overflow to infinity: the probabilities come out NaN."""
    state = copy.deepcopy(DEMO)
    state["model"]["head.fc.weight"].fill_(3e38)
    state["model"]["head.fc.bias"].fill_(3e38)
    path = tmp_path_factory.mktemp("huge") / "huge.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "{ckpt}", "--limit-val", "8", "--json"],
        ["contributions", "{ckpt}", "--limit-val", "8", "--json"],
        ["similarity", "{ckpt}", "--limit-val", "8"],
        ["classify", "{ckpt}", "{images}", "--json"],
        ["classify", "{ckpt}", "{images}"],
        ["train", "--init", "{ckpt}", "--steps", "1", "--limit-train", "64", "--out", "{tmp}/run"],
    ],
    ids=lambda c: " ".join(a for a in c if not a.startswith("{")),
)
def test_nan_weights_are_refused_by_name(command, nan_checkpoint, odd_folder, tmp_path, capsys):
    args = [a.format(ckpt=nan_checkpoint, images=odd_folder / "good.png", tmp=tmp_path) for a in command]
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and "nan.pt: the weights contain NaN or infinite values" in err, (out, err)
    assert "Traceback" not in err and "learning rate" not in err and not out


def test_overflowing_outputs_are_invalid_never_nan_percent(overflowing_checkpoint, odd_folder, capsys):
    image = odd_folder / "good.png"
    code, out, err = run_cli(capsys, "classify", overflowing_checkpoint, image, "--json")
    assert code == 0, err
    (answer,) = strict_json(out)
    assert answer["unsure"] is True and answer["top"][0]["probability"] is None
    code, out, err = run_cli(capsys, "classify", overflowing_checkpoint, image)
    assert code == 0 and "nan%" not in out and "invalid" in out, out


def test_similarity_of_outputs_that_are_not_numbers_is_not_zero():
    from resnet_studio.inspection.similarity import cka_of_grams

    nan = torch.full((4, 4), float("nan"))
    assert cka_of_grams(nan, torch.eye(4)) != cka_of_grams(nan, torch.eye(4))  # NaN: unknown
    assert cka_of_grams(torch.zeros(4, 4), torch.eye(4)) == 0.0  # a constant output: no similarity


def test_init_from_a_huge_sparse_file_says_it_is_not_a_checkpoint(tmp_path, capsys):
    huge = tmp_path / "huge.pt"
    with open(huge, "wb") as handle:
        handle.truncate(20 * 2**30)  # 20 GB of holes: no disk used
    code, _, err = run_cli(capsys, "train", "--init", huge, "--steps", "1", "--out", tmp_path / "run")
    assert code == 2 and "huge.pt: not a" in err and "checkpoint" in err, err
    assert "legacy" not in err and "tar" not in err


def test_a_project_whose_data_is_not_text_names_the_field(tmp_path, qtbot):
    from resnet_studio.architecture import get_preset
    from resnet_studio.project import FORMAT, VERSION
    from resnet_studio.ui import MainWindow

    project = tmp_path / "net.rsproj"
    project.write_text(
        json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "architecture": get_preset("resnet20").to_dict(),
                "training": {"data": ["x"]},
                "runs": [],
            }
        )
    )
    window = MainWindow()
    try:
        assert window.open_file(project)  # the network opens; Setup keeps its settings
        assert "net.rsproj: training.data: must be text" in window.last_error, window.last_error
        assert "attribute" not in window.last_error
    finally:
        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()


# --- 17: a shipped title that argparse would format ------------------------------------------


def test_a_percent_sign_in_a_shipped_title_does_not_break_help(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "w.pt").write_bytes(b"")
    entry = {
        "name": "odd-%(prog)s",
        "title": "100% sure %(x)s %",
        "file": "w.pt",
        "data": "demo",
        "accuracy": 0.5,
        "evaluated_on": "x",
        "recipe": "x",
        "seed": 0,
        "command": "x",
    }
    (folder / "weights.json").write_text(json.dumps([entry]))
    monkeypatch.setattr(shipped, "weights_folder", lambda: folder)
    shipped.shipped_weights.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["classify", "--help"])
    finally:
        shipped.shipped_weights.cache_clear()
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "odd-%(prog)s (100% sure %(x)s %" in " ".join(out.split())
