"""Packages that load their names lazily (`resnet_studio.lazy`, `_EXPORTS`) show the same names to
mypy and editors (imports under TYPE_CHECKING), and stay lazy: importing them, or a light module
of theirs, does not import torch. mypy, as CI runs it, checks every package."""

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import resnet_studio

PACKAGE = Path(resnet_studio.__file__).parent
LAZY = sorted(
    path for path in PACKAGE.rglob("__init__.py") if "lazy_exports(" in path.read_text(encoding="utf-8")
)


def package_name(init: Path) -> str:
    return ".".join(("resnet_studio", *init.parent.relative_to(PACKAGE).parts))


def lazy_table(tree: ast.Module) -> dict[str, str]:
    """`_EXPORTS` as written: name -> submodule."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("no _EXPORTS table")


def type_checking_imports(tree: ast.Module, package: str) -> dict[str, str]:
    """name -> submodule of every `from package.submodule import name` under `if TYPE_CHECKING:`."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                assert statement.module and statement.module.startswith(f"{package}."), statement.module
                for alias in statement.names:
                    found[alias.asname or alias.name] = statement.module.removeprefix(f"{package}.")
    return found


def test_the_lazy_packages_are_found():
    assert {package_name(init) for init in LAZY} >= {
        "resnet_studio.data",
        "resnet_studio.nn",
        "resnet_studio.training",
    }


def test_every_lazy_name_is_imported_for_the_type_checker_from_the_same_module():
    for init in LAZY:
        package = package_name(init)
        tree = ast.parse(init.read_text(encoding="utf-8"))
        exports, typed = lazy_table(tree), type_checking_imports(tree, package)
        assert typed == exports, f"{init}: _EXPORTS and the TYPE_CHECKING imports differ"
        module = importlib.import_module(package)
        assert module.__all__ == list(exports)
        for name, submodule in exports.items():  # and the lazy loading finds each where it says
            assert getattr(module, name) is getattr(importlib.import_module(f"{package}.{submodule}"), name)


def test_a_name_the_package_lacks_is_an_attribute_error():
    training = importlib.import_module("resnet_studio.training")
    with pytest.raises(AttributeError, match="Trainerr"):
        training.Trainerr  # noqa: B018


def test_the_packages_and_their_light_modules_import_without_torch():
    """The type checker's imports never run: the studio's window still appears before torch."""
    light = [
        *(package_name(init) for init in LAZY),
        "resnet_studio.training.config",
        "resnet_studio.training.events",
        "resnet_studio.nn.shipped",
        "resnet_studio.data.images",
        "resnet_studio.runs.following",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(name)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_type_checker_covers_every_package_the_studio_and_the_command_line_included():
    """CI runs `mypy` as pyproject.toml configures it: each module of the package is in its files."""
    root = PACKAGE.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    covered = [root / entry for entry in config["files"]]
    modules = sorted(PACKAGE.rglob("*.py"))
    assert any(module.is_relative_to(PACKAGE / "ui") for module in modules)
    missed = [m for m in modules if not any(m == c or m.is_relative_to(c) for c in covered)]
    assert not missed, f"mypy does not check {missed}"
