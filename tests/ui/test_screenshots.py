"""The README's screenshots are retaken by resources/screenshots/retake.py: it must know every
picture the README shows, so that a new one without a script entry fails here."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "resources" / "screenshots" / "retake.py"


def listed() -> dict[str, str]:
    """The script's --list: name -> 'quick' or why it is long (no window is opened)."""
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {name: kind for name, _, kind in (line.split("\t") for line in out.splitlines())}


def test_the_retake_script_names_every_screenshot_the_readme_shows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"resources/screenshots/([\w.-]+)\.png", readme))
    names = listed()
    assert shown and not shown - set(names), f"no retake.py entry for {sorted(shown - set(names))}"
    assert all((ROOT / "resources" / "screenshots" / f"{name}.png").is_file() for name in names)
    # The long ones (minutes of training) run only when asked for; the quick ones by default.
    for name in ("train", "train-degradation", "why-landscape", "train-contributions"):
        assert names[name].startswith("long"), name
    assert names["build"] == "quick" and names["first-launch-classify"] == "quick"
    assert "retake.py" in readme  # the README says how they are made


def test_an_unknown_screenshot_name_is_refused_with_a_message():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "no-such-picture"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "no screenshot named no-such-picture" in result.stderr
