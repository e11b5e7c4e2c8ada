"""Screenshots of every main screen, in Bahasa Indonesia and English, and both card faces,
saved into ``artifacts/`` (git-ignored) to be looked at; no English source text may show
on an Indonesian screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from desk_support import ARTIFACTS, KK_B, KK_C, KK_DUP
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QLineEdit, QTabWidget, QWidget

from station.desk import texts
from station.desk.cardface import render_image

pytestmark = pytest.mark.pcsc

SCREENS = ("login", "households", "reviews", "issue", "batch", "services", "dashboard")


def _visible_texts(root: QWidget) -> list[str]:
    found: list[str] = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton):
            found.append(widget.text())
        elif isinstance(widget, QGroupBox):
            found.append(widget.title())
        elif isinstance(widget, QLineEdit):
            found.append(widget.placeholderText())
        elif isinstance(widget, QTabWidget):
            found.extend(widget.tabText(i) for i in range(widget.count()))
    return found


def _untranslated(shown: list[str]) -> set[str]:
    """English source strings (without fields) shown where Indonesian was expected."""
    english = {
        source
        for source in texts.SOURCE.values()
        if "{" not in source and QCoreApplication.translate(texts.CONTEXT, source) != source
    }
    return {text for text in shown if text in english}


def _save(window: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert window.grab().save(str(path))
    return path


@pytest.mark.parametrize("language", ["id", "en"])
def test_screenshots_of_every_screen(
    desk: Any, export_csv: Path, photo: Path, language: str
) -> None:
    window = desk.window
    window.set_language(language)
    window.resize(1180, 760)
    saved = [_save(window, f"desk-{language}-login")]
    desk.login()
    window.households.import_file(export_csv)
    desk.issue(KK_B, photo=photo)  # a card issued: the face shows on the issue screen
    assert window.state.issuance is not None, window.issue.message.text()
    desk.read()
    window.services.agency.setCurrentIndex(0)
    desk.type(window.services.amount, "250000")
    desk.click(window.services.load)
    desk.wait()
    window.batch.add(KK_C)
    desk.search("SALMAH")
    shots = {
        "households": window.households,
        "reviews": window.reviews,
        "issue": window.issue,
        "batch": window.batch,
        "services": window.services,
        "dashboard": window.dashboard,
    }
    for name, tab in shots.items():
        window.tabs.setCurrentWidget(tab)
        desk.qtbot.wait(50)
        shown = _visible_texts(window)
        if language == "id":
            assert not _untranslated(shown), (name, _untranslated(shown))
        saved.append(_save(window, f"desk-{language}-{name}"))
    assert {p.name for p in saved} == {f"desk-{language}-{s}.png" for s in SCREENS}
    for path in saved:
        assert path.stat().st_size > 5_000
    assert window.reviews.items and window.reviews.items[0].kk_a == KK_DUP

    face = window.state.issuance.face
    for side in ("front", "back"):
        image = render_image(face, side)
        assert (image.width(), image.height()) == (1011, 638)  # 85.6 x 54 mm at 300 dpi
        assert image.save(str(ARTIFACTS / f"card-{side}.png"))
