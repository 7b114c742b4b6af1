"""The package's shape holds itself: every module imports, nothing outside ui/ loads Qt, imports run
down the layers only, no modules import each other in a circle, and modules and functions stay small
enough to read (MAX_MODULE_LINES, MAX_FUNCTION_LINES).

The import graph is read from the source (every `import`, also inside functions, where lazy
imports hide from a check that only imports packages), so a new module is checked as it lands.
"""

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import resnet_studio

PACKAGE = Path(resnet_studio.__file__).parent
QT = ("PySide6", "pyqtgraph", "shiboken6", "superqt")

# Lowest first. A module may import its own unit and units of lower layers, nothing else: the
# Qt-free core at the bottom, the studio and the command line on top (README, "Architecture").
LAYERS = (
    ("__init__", "errors", "fileio", "lazy", "user_text"),  # the root: errors, writes, user text out
    ("architecture", "data", "config_rules"),  # a network; images and data; a training config's rules
    ("nn", "project", "runs"),  # the torch network, its checkpoints; the project file; run folders
    ("inspection",),  # inference: evaluate, classify, feature maps, Grad-CAM
    ("training", "export"),  # the engine; exports
    # what bench generates and times (the photo rows train through the engine); the session model:
    # Setup's settings, the runs, the comparisons and their verdicts, which the views observe
    ("benchmarks", "session"),
    ("ui",),  # the studio
    ("cli",),  # the command line (it opens the studio)
    ("__main__",),
)
LAYER = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
# Inside ui/: each workspace is a room that may use what the rooms share (common/) and nothing of
# another room; the shell (the window) holds them all.
ROOMS = ("common", "build", "train", "inspect", "classify", "shell")
ROOM_MAY_USE = {room: {room, "common"} for room in ROOMS} | {"shell": set(ROOMS)}


def modules() -> dict[str, Path]:
    found = {"resnet_studio": PACKAGE / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE)], "resnet_studio."):
        spec = info.module_finder.find_spec(info.name, None)  # type: ignore[call-arg]
        found[info.name] = Path(spec.origin)
    return found


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path, module_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file; with `module_level_only`, those
    that run when the module is imported (not the ones inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree) if not module_level_only else _module_level(tree.body)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: the project uses absolute imports only"
            found.append((node.module, node.lineno))
            # `from package import submodule` imports the submodule too
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _module_level(body: list[ast.stmt]):
    """The statements that run on import: all but function bodies (`if TYPE_CHECKING:` included,
    since a type checker follows those imports too)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        for child in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(node, child, []))
        for handler in getattr(node, "handlers", []):
            yield from _module_level(handler.body)


def test_every_module_is_found_and_layered():
    found = modules()
    # A folder without __init__.py is a namespace package that pkgutil does not walk (a clean
    # clone once lacked ui/build/__init__.py because .gitignore's `build/` hid it).
    on_disk = {path.resolve() for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    walked = {path.resolve() for path in found.values()}
    missed = sorted(str(path.relative_to(PACKAGE)) for path in on_disk - walked)
    assert not missed, f"modules the walk cannot see (a folder lacks __init__.py?): {missed}"
    assert len(found) > 60 and "resnet_studio.ui.build.canvas" in found
    unlayered = sorted({unit(name) for name in found} - set(LAYER))
    assert not unlayered, f"place these in LAYERS: {unlayered}"


def test_imports_run_down_the_layers_only():
    found = modules()
    wrong = []
    for name, path in found.items():
        here = unit(name)
        for target, line in imports(path):
            if not target.startswith("resnet_studio") or target not in found:
                continue
            there = unit(target)
            if there != here and LAYER[there] >= LAYER[here]:
                wrong.append(f"{name}:{line} imports {target} ({here} may not depend on {there})")
        for target, line in imports(path):
            if target.split(".")[0] in QT and here != "ui":
                wrong.append(f"{name}:{line} imports {target}: Qt belongs in resnet_studio/ui")
    assert not wrong, "\n".join(wrong)


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "ui" else None


def test_every_ui_module_is_in_a_room_and_rooms_keep_to_themselves():
    found = modules()
    ui = [name for name in found if unit(name) == "ui" and name != "resnet_studio.ui"]
    assert ui and all(room(name) in ROOMS for name in ui if name.count(".") > 2), ui
    loose = [name for name in ui if name.count(".") == 2 and name.split(".")[-1] not in ROOMS]
    assert not loose, f"modules outside the rooms of ui/: {loose}"
    wrong = []
    for name in ui:
        for target, line in imports(found[name]):
            there = room(target)
            if there is not None and target in found and there not in ROOM_MAY_USE[room(name) or "shell"]:
                wrong.append(f"{name}:{line} imports {target} (the {room(name)} room may not use {there})")
    assert not wrong, "\n".join(wrong)


def test_no_modules_import_each_other_in_a_circle():
    found = modules()
    graph = {
        name: {t for t, _ in imports(path, module_level_only=True) if t in found and t != name}
        for name, path in found.items()
    }
    circles = []
    for start in graph:  # a path from a module's import back to itself is a circle
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == start:
                circles.append(start)
                break
            if node not in seen:
                seen.add(node)
                todo += graph[node]
    assert not circles, f"modules in an import circle: {sorted(circles)}"


def test_every_module_outside_ui_imports_without_loading_qt():
    names = [name for name in modules() if unit(name) not in ("ui", "__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt modules loaded by the core: {out.stdout}"


def test_every_ui_module_imports_and_loads_qt():
    """The checks above would pass vacuously if they could not see Qt at all."""
    names = [name for name in modules() if unit(name) == "ui"]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print('PySide6' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "True"


def test_the_window_appears_without_importing_torch():
    """torch costs ~2 s to import: the main window must not wait for it (start-up target 2.5 s)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from resnet_studio.ui import MainWindow\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_session_model_is_plain_python():
    """Setup's settings, the runs and the verdicts load without Qt, and without torch (the window
    appears before torch has loaded, and it holds the model)."""
    code = (
        "import sys\n"
        "import resnet_studio.session\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {(*QT, 'torch')!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the session model loads {out.stdout}"


# -- process-wide state has one owner -----------------------------------------------------------


def test_the_garbage_collector_has_one_owner_and_pyqtgraph_keeps_its_internals():
    owner = "resnet_studio.ui.common.gc_policy"
    wrong = []
    for name, path in modules().items():
        for target, line in imports(path):
            if target == "gc" and name != owner:
                wrong.append(f"{name}:{line} imports gc: the garbage collector is {owner}'s alone")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            named += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(module.startswith("pyqtgraph.") for module in named):
                wrong.append(f"{name}:{node.lineno} imports {named}: pyqtgraph's internals")
    assert not wrong, "\n".join(wrong)


# -- views hold no state the session model lacks ------------------------------------------------

# What the session model (resnet_studio/session) alone makes from its state. A view that made one
# would make it from what the view holds (its boxes' values, a plot's buffers), which the model
# lacks: a verdict from the plots' last four runs named a run shown meanwhile (#28).
MADE_BY_THE_MODEL = {
    "Project": "the project file: SessionModel.project",
    "TrainConfig": "Setup's training config: SetupModel.config",
    "summarize": "a comparison's verdict: Comparison.conclude, from the runs' records",
    "summarize_degradation": "a comparison's verdict: Comparison.conclude, from the runs' records",
}
# The Inspect workspace's timing bench trains with fixed settings of its own, no user's.
MAY_MAKE = {("resnet_studio.ui.shell.bench", "TrainConfig")}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def test_views_hold_no_state_the_model_lacks():
    """In ui/, nothing the model makes is made again (a `TrainConfig()` without arguments is only
    the defaults), and no view fires another object's signals (`self.x.changed.emit()`): what
    changed is announced by whoever holds it. The runtime half, that every box of Setup shows a
    setting of the model: tests/ui/test_session_views.py."""
    wrong = []
    for name, path in modules().items():
        if unit(name) != "ui":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            made, given = _called(node), bool(node.args or node.keywords)
            if made in MADE_BY_THE_MODEL and given and (name, made) not in MAY_MAKE:
                wrong.append(f"{name}:{node.lineno} makes {made}(…), which is {MADE_BY_THE_MODEL[made]}")
            func = node.func
            fired = isinstance(func, ast.Attribute) and func.attr == "emit"
            owner = func.value.value if fired and isinstance(func.value, ast.Attribute) else None  # type: ignore[union-attr]
            if (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
            ):
                wrong.append(f"{name}:{node.lineno} fires {ast.unparse(func.value)}, another object's signal")
    assert not wrong, "\n".join(wrong)
    session = {target for path in (PACKAGE / "session").glob("*.py") for target, _ in imports(path)}
    assert "resnet_studio.session.compare" in session  # the verdicts' words are the model's to use


MAX_MODULE_LINES = 400  # a module read in one sitting
MAX_FUNCTION_LINES = 80  # a function seen whole on one screen


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in modules().items():
        source = path.read_text(encoding="utf-8")
        if (lines := len(source.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                if span > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}:{node.lineno} {node.name}: {span} lines")
    assert not too_long, "split these:\n" + "\n".join(too_long)
