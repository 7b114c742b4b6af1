import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QTextBrowser  # noqa: E402

from resnet_studio.cli import main  # noqa: E402
from resnet_studio.ui import MainWindow  # noqa: E402


def test_main_window_shows_the_resnet20_summary(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)  # never edited, so closing it asks nothing
    assert window.objectName() == "ResNetStudio"
    summary = window.findChild(object, "summary")
    assert summary.rowCount() == 12  # 11 layers and the total
    assert summary.item(4, 0).text() == "stage2.block1" and summary.item(4, 2).text() == "32×16×16"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Build",
        "Train",
        "Inspect",
        "Classify",
    ]


def test_screenshot_option_writes_a_png(tmp_path, qapp):
    path = tmp_path / "studio.png"
    assert main(["--screenshot", str(path), "--workspace", "train"]) == 0
    image = QImage(str(path))
    assert image.width() >= 1000 and image.height() >= 600
    # Never written through a link: the file it points to keeps its bytes, and the error says why.
    target = tmp_path / "keep.txt"
    target.write_text("mine")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert main(["--screenshot", str(link)]) == 2
    assert target.read_text() == "mine" and link.is_symlink()


def test_help_menu_tour_shortcuts_and_guide(qtbot):
    """The tour walks the four workspaces, is offered on a first launch only (skipping counts),
    and the Help menu lists the keyboard shortcuts and the README's sections."""
    from resnet_studio.ui.shell.help_menu import TOUR_DONE

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.settings.remove(TOUR_DONE)
    menu = window.help_menu
    assert [a.text() for a in window.menuBar().actions()][-1] == "&Help"
    tour = menu.offer_tour()
    assert tour is not None and tour.isVisible() and not tour.isModal()
    seen = []
    for _ in range(4):
        seen.append(window.tabs.tabText(window.tabs.currentIndex()))
        tour.next_button.click()
    assert seen == ["Build", "Train", "Inspect", "Classify"] and not tour.isVisible()
    assert window.settings.value(TOUR_DONE, type=bool) and menu.offer_tour() is None
    window.settings.remove(TOUR_DONE)
    menu.offer_tour().skip_button.click()  # skipped: not offered again either
    assert menu.offer_tour() is None
    rows = {what: keys for keys, what in menu.shortcut_rows()}
    assert rows["Undo"] == "Ctrl+Z" and rows["Save"] == "Ctrl+S" and rows["Train"] == "Ctrl+T, Ctrl+2"
    guide = next(a.menu() for a in menu.actions() if a.text() == "&Guide (README)")
    sections = [a.text() for a in guide.actions()]
    assert "Set-up: two commands" in sections and "The studio" in sections
    dialog = menu.show_text("The studio", "## The studio\n\nSome *text*.")
    assert dialog.isVisible() and "Some text" in dialog.findChildren(QTextBrowser)[0].toPlainText()
    formats = menu.show_formats()
    browser = formats.findChildren(QTextBrowser)[0]
    assert "Architecture file" in browser.toPlainText() and "metrics.jsonl" in browser.toPlainText()
    formats.close()
    dialog.close()


def test_the_guide_works_without_a_clone_from_the_installed_readme(qtbot):
    """A wheel has no README.md beside the package: the guide reads the README installed as the
    package's description, and its screenshots resolve inside the installed package."""
    from resnet_studio.ui.shell.help_menu import installed_readme, readme_sections

    found = installed_readme()
    assert found is not None
    text, folder = found
    titles = [title for title, _ in readme_sections(text)]
    assert "Set-up: two commands" in titles and "The studio" in titles
    pictures = [line.split("](")[1].split(")")[0] for line in text.splitlines() if line.startswith("![")]
    assert pictures and all((folder / picture).is_file() for picture in pictures), pictures


def test_an_interactive_start_never_makes_the_window_larger_than_the_screen(qtbot):
    """The default 1280x800 (or a size saved on a larger screen) on a smaller screen: here the
    offscreen platform's, smaller than that."""
    window = MainWindow()
    qtbot.addWidget(window)
    room = window.screen().availableGeometry()
    assert window.width() > room.width() or window.height() > room.height()  # the case guarded
    window.restore_geometry()
    assert window.width() <= room.width() and window.height() <= room.height()
    assert room.contains(window.geometry().topLeft())
    window.document.undo_stack.setClean()
