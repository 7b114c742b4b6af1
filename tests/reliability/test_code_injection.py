"""The user's text (a network's name, its class names) never becomes code: an exported Python file
holds it only as quoted literals, and the export is checked in a separate interpreter."""

from __future__ import annotations

import ast
import contextlib
import csv
import subprocess
import sys

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.export import export_checkpoint
from resnet_studio.export.python_source import standalone_source
from resnet_studio.nn.checkpoint import FORMAT, VERSION, model_from_checkpoint
from resnet_studio.nn.model import build_model

PAYLOAD = "'''+__import__('os').system('touch PWNED')+'''"
HOSTILE_NAMES = {
    "triple quotes": "Tiny\"\"\" '''",
    "a backslash": "C:\\Users\\net",
    "a trailing backslash": "net\\",
    "newlines": 'line one\nline two\r\n"""\nimport os; os.system(\'touch PWNED\')\n#',
    "a NUL": "nul\x00name",
    "a line separator": "a\u2028b\x0cc",
    "a lone surrogate": "odd\udcffname",
}


def crafted_checkpoint(path, name: str, classes: list[str]):
    spec = ArchitectureSpec(
        name=name,
        input=InputSpec(3, 8),
        classes=len(classes),
        stem=StemSpec(channels=4),
        stages=(StageSpec("basic", 1, 4, 1),),
    )
    state = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": spec.to_dict(),
        "model": build_model(spec).state_dict(),
        "classes": classes,
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    }
    torch.save(state, path)
    return path


def assigned_literals(source: str) -> dict[str, object]:
    """The module-level NAME = <literal> assignments of a generated file, read without running it."""
    tree = ast.parse(source)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


@pytest.mark.parametrize("case", HOSTILE_NAMES)
def test_a_hostile_network_name_is_a_quoted_literal_in_the_exported_file(case, tmp_path):
    name = HOSTILE_NAMES[case]
    classes = [PAYLOAD, "'''#", 'x"""y\\']
    checkpoint = crafted_checkpoint(tmp_path / "crafted.pt", name, classes)
    source = standalone_source(model_from_checkpoint(checkpoint))
    literals = assigned_literals(source)  # parses: no SyntaxError, whatever the name holds
    assert literals["NAME"] == name and literals["CLASSES"] == classes
    assert literals["ARCHITECTURE"]["name"] == name  # type: ignore[index]
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert name not in docstring and "import" not in docstring.split("Needs only torch")[0]


def test_exporting_a_crafted_checkpoint_runs_none_of_its_text(tmp_path, monkeypatch, capsys):
    """The issue's attack: before, the exporter imported its own file and `touch PWNED` ran."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    checkpoint = crafted_checkpoint(tmp_path / "crafted.pt", "Tiny\"\"\" '''", [PAYLOAD, "'''#", "c"])
    out = tmp_path / "model.py"
    code = main(["export", str(checkpoint), "--format", "python", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    assert not list(tmp_path.rglob("PWNED"))
    # The written file works in a fresh interpreter and names the network as it was named.
    check = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "net = m.load(sys.argv[2])\n"
        "x = m.preprocess(m.torch.zeros(8, 8, 3))\n"
        "print(repr(m.NAME), m.CLASSES[0] == sys.argv[3], tuple(net(x).shape))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(out), str(checkpoint), PAYLOAD],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['\'Tiny"""', "\\'\\'\\''", "True", "(1,", "3)"]
    assert not list(tmp_path.rglob("PWNED"))


AUDITED: list[tuple[str, tuple]] | None = None  # events seen while a test listens


def _audit(event: str, args: tuple) -> None:
    if AUDITED is not None and event in ("compile", "exec", "subprocess.Popen"):
        AUDITED.append((event, args))


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while AUDITED is a list


def test_the_export_check_runs_in_another_interpreter(tmp_path):
    """The generated file is never compiled or run in the exporting process, only in a child."""
    global AUDITED
    checkpoint = crafted_checkpoint(tmp_path / "net.pt", "Net", ["a", "b"])
    AUDITED = []
    try:
        report = export_checkpoint(checkpoint, "python", tmp_path / "net.py", inputs=2)
    finally:
        seen, AUDITED = AUDITED, None
    assert report.max_abs_diff <= 1e-4
    compiled_here = [a for e, a in seen if e == "compile" and str(a[1]).endswith("model.py")]
    children = [
        a for e, a in seen if e == "subprocess.Popen" and any(str(x).endswith("model.py") for x in a[1])
    ]
    assert not compiled_here and len(children) == 1


def test_classify_csv_cells_never_start_a_formula(tmp_path):
    """A class or file name such as =HYPERLINK(...) is text in a spreadsheet, not a formula."""
    from resnet_studio.user_text import csv_cell

    for text in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(text)[0] == "'" and csv_cell(text)[1:] == text
    assert csv_cell("cat") == "cat" and csv_cell("dog.png") == "dog.png"
    rows = list(csv.reader([",".join([csv_cell("=cmd|' /C calc'!A0"), "x"])]))
    assert rows[0][0].startswith("'=")
