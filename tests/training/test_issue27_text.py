"""Issue 27, items 13 and 14: the words and numbers the engine prints and writes, and a bench that
does not trust one noisy round. Cheap: no training, no timing; bench rounds come from stubs."""

from __future__ import annotations

import io
import json

import pytest

from resnet_studio.cli.progress import ProgressView
from resnet_studio.training.events import Finished, Planned


def test_a_run_folder_name_has_no_doubled_dash():
    from resnet_studio.fileio import run_folder_name

    name = run_folder_name("ResNet-20 (plain)")
    assert name.startswith("resnet-20-plain-"), name
    assert "--" not in name
    assert run_folder_name("  ***  ").startswith("run-")


def test_the_budget_line_counts_in_words_and_a_revision_that_changes_the_epochs_is_said():
    stream = io.StringIO()
    view = ProgressView(stream)
    view.planned(Planned(epochs=1, total_steps=55, budget=60.0, elapsed=2.0))
    view.planned(Planned(epochs=1, total_steps=58, budget=60.0, elapsed=4.0))  # same epochs: quiet
    view.planned(Planned(epochs=2, total_steps=99, budget=60.0, elapsed=20.0))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "budget 60 s: 55 steps in 1 epoch, 58 s left"
    assert len(lines) == 2
    assert "revised" in lines[1] and "99 steps in 2 epochs, 40 s left" in lines[1]
    assert view.epochs == 2  # "epoch N/2" from here on, after the line that says why


def test_a_stopped_run_says_stopped_once():
    stream = io.StringIO()
    view = ProgressView(stream)
    view.finished(Finished("stopped", "stopped at epoch 2, step 40", 2, 40, 0.5, 3.0))
    view.finished(Finished("completed", "finished 99 steps within the budget", 2, 99, None, 60.0))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "stopped at epoch 2, step 40, best val accuracy 50.00%"
    assert lines[1] == "completed: finished 99 steps within the budget"


def test_one_run_is_one_run_in_the_runs_list(qtbot, tmp_path):
    from resnet_studio.runs.runinfo import RunSummary
    from resnet_studio.ui.train.runs_panel import RunsPanel

    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.root = tmp_path
    panel._show([RunSummary(tmp_path / "a", "ResNet-20", 1, 3, 0.5, True, 0.0)])
    assert panel.location.text().startswith("1 run in ")


def test_json_written_and_printed_carries_no_float_noise(tmp_path, capsys):
    from resnet_studio.cli.common import print_json
    from resnet_studio.fileio import atomic_write_json
    from resnet_studio.runs.metrics import MetricsRecord

    noisy = 0.5538000000000001
    print_json({"accuracy": noisy, "sum": 0.1 + 0.2, "nan": float("nan")})
    out = capsys.readouterr().out
    assert "0.5538," in out and "0.3," in out and "00000" not in out
    assert json.loads(out) == {"accuracy": 0.5538, "sum": 0.3, "nan": None}

    atomic_write_json(tmp_path / "s.json", {"best": [noisy]})
    assert "0.5538000000000001" not in (tmp_path / "s.json").read_text()

    import numpy as np

    loss = float(np.float32(0.5538))  # 0.5537999868392944: a float32 loss seen as float64
    line = json.dumps(MetricsRecord("train", 1, 1, loss, noisy, 0.1 * 3, 812.3456789, 1.5).to_json())
    record = json.loads(line)
    assert record["loss"] == 0.5538 and record["accuracy"] == 0.5538 and record["lr"] == 0.3
    assert record["images_per_s"] == 812.3457


def test_the_run_folder_files_carry_no_float_noise(tmp_path):
    from resnet_studio.runs.rundir import _json_bytes

    assert b"0.30000000000000004" not in _json_bytes({"lr": 0.1 + 0.2})


def test_qt_prints_its_warnings_but_not_the_harmless_size_hints_line(capfd):
    from PySide6.QtCore import qInstallMessageHandler, qWarning

    from resnet_studio.ui.common.qt_messages import drop_harmless_qt_messages

    previous = drop_harmless_qt_messages()
    try:
        qWarning("This plugin does not support propagateSizeHints()")
        qWarning("a warning that matters")
    finally:
        qInstallMessageHandler(previous)  # pytest-qt's own handler, for the tests after this one
    err = capfd.readouterr().err
    assert "propagateSizeHints" not in err
    assert "a warning that matters" in err


def test_bench_rounds_alternate_and_each_figure_is_the_median():
    from resnet_studio.benchmarks.rounds import timed_rounds

    calls: list[str] = []
    rates = {"engine": iter([819.0, 110.0, 800.0]), "bare": iter([300.0, 290.0, 310.0])}

    def loop(name):
        def run() -> float:
            calls.append(name)
            return next(rates[name])

        return run

    logged: list[str] = []
    measured = timed_rounds({"engine": loop("engine"), "bare": loop("bare")}, 3, logged.append)
    assert calls == ["engine", "bare", "bare", "engine", "engine", "bare"]
    assert measured["engine"].median == 800.0 and measured["bare"].median == 300.0
    assert measured["engine"].unreliable and not measured["bare"].unreliable
    assert len(logged) == 6


def test_bench_names_an_unreliable_figure_and_the_ratios_it_touches():
    from resnet_studio.benchmarks.rounds import Measured, unreliable_lines
    from resnet_studio.benchmarks.throughput import rate_figures

    noisy = {
        "engine": Measured((819.0, 110.0, 800.0)),
        "bare": Measured((300.0, 290.0, 310.0)),
        "plain": Measured((100.0, 101.0, 99.0)),
    }
    figures = rate_figures(noisy)
    assert figures["engine_images_per_s"] == 800.0  # the median, not the best (819) or a mean
    assert figures["engine_vs_bare"] == round(800 / 300, 3)
    assert figures["engine_spread"] == round(709 / 800, 3) and figures["bare_spread"] == round(20 / 300, 3)
    assert figures["unreliable"] == ["engine", "engine_vs_bare", "engine_vs_plain"]
    (line,) = unreliable_lines(noisy)
    assert line.startswith("unreliable: engine varied by 89% across rounds (819, 110, 800 images/s")

    steady = {name: Measured((100.0, 104.0, 98.0)) for name in ("engine", "bare", "plain")}
    assert rate_figures(steady)["unreliable"] == []
    assert unreliable_lines(steady) == []


@pytest.mark.parametrize("rounds", ["0", "-1", "21"])
def test_bench_refuses_a_round_count_out_of_range(rounds, capsys):
    from resnet_studio.cli import main

    assert main(["bench", "--rounds", rounds]) == 2
    err = capsys.readouterr().err
    assert "--rounds" in err and "Traceback" not in err


def test_one_cpu_thread_is_one_thread_in_the_device_line():
    from dataclasses import replace

    from resnet_studio.training.device import choose_device, settings_for

    settings = settings_for(choose_device("cpu"))
    assert replace(settings, threads=1).describe().endswith(", 1 CPU thread")
    assert replace(settings, threads=2).describe().endswith(", 2 CPU threads")


def test_a_wall_clock_time_keeps_its_fraction_in_json():
    from resnet_studio.fileio import tidy

    assert tidy(1796534882.123456) == 1796534882.12346  # 15 significant digits: noise only goes
