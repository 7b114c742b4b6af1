"""Packaging: the wheel holds every package, the version has one source, and a wheel installed in a
fresh environment works from outside the repository (classify, a screenshot, Help > Guide)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import numpy as np
from PIL import Image

import resnet_studio

ROOT = Path(__file__).resolve().parents[1]
CIFAR_CLASSES = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_in_the_wheels_package_list():
    """pyproject.toml lists the packages (resources/ installs under another name, which setuptools'
    finder cannot give it): a folder of modules under resnet_studio/ missing from the list would be
    missing from a wheel while an editable install kept working."""
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "resnet_studio").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert folders <= listed, sorted(folders - listed)
    assert listed - folders == {"resnet_studio.resources"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"resnet_studio.resources": "resources"}
    assert all((ROOT / "resnet_studio" / f).is_dir() for f in ("nn", "ui", "cli"))


def test_the_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "resnet_studio.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", resnet_studio.__version__)


def _build_wheel(out: Path) -> Path:
    """The wheel of a copy of the sources (a build writes build/ and *.egg-info beside them)."""
    source = out / "source"
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("resnet_studio", "resources"):
        shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # Built as a user builds it: pip sets up the build backend pyproject.toml names in isolation.
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        cwd=out,
    )
    (wheel,) = out.glob("resnet_studio-*.whl")
    return wheel


def _fresh_environment(where: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed and nothing of the repository on its path.
    The dependencies (torch, PySide6, ...) are this environment's, reached through a .pth line, which
    adds their folder to sys.path without running the .pth files in it (this environment's editable
    install of the repository is one of those): installing torch again would cost a minute."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site, "zz-test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
        + ["install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    return where / "bin"


def test_a_wheel_installed_in_a_fresh_environment_works_outside_the_repository(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    bin_dir = _fresh_environment(tmp_path / "env", wheel)
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=away, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    # The package, its metadata and its resources come from the wheel, not the clone.
    where = json.loads(
        run(
            str(bin_dir / "python"),
            "-c",
            "import json, importlib.metadata as m, resnet_studio;"
            "from resnet_studio.nn.shipped import weights_folder;"
            "print(json.dumps([resnet_studio.__file__, m.version('resnet-studio'), str(weights_folder())]))",
        )
    )
    assert all(Path(p).is_relative_to(tmp_path / "env") for p in (where[0], where[2])), where
    assert where[1] == resnet_studio.__version__

    picture = away / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(picture)
    command = str(bin_dir / "resnet-studio")
    answers = json.loads(run(command, "classify", "resnet20-cifar10", "photo.png", "--json"))
    assert answers[0]["top"][0]["class"] in CIFAR_CLASSES

    run(command, "--size", "1024x640", "--screenshot", "shot.png")
    with Image.open(away / "shot.png") as shot:
        assert shot.size == (1024, 640) and len(np.unique(np.asarray(shot.convert("L")))) > 16

    # Help > Guide: the README from the wheel's metadata, with its pictures resolving in the package.
    guide = json.loads(
        run(
            str(bin_dir / "python"),
            "-c",
            "import json; from resnet_studio.ui.shell.help_menu import guide_source, readme_sections;"
            "text, folder = guide_source(); print(json.dumps([str(folder), text,"
            " [t for t, _ in readme_sections(text)]]))",
        )
    )
    folder, text, sections = Path(guide[0]), guide[1], guide[2]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert folder.is_relative_to(tmp_path / "env") and text.strip() == readme.strip()
    assert len(sections) > 3
    pictures = re.findall(r"\]\((resources/[^)\s]+\.png)\)", text)
    assert pictures and all((folder / p).is_file() for p in pictures), pictures
