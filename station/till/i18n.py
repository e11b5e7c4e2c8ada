"""The till's languages: Bahasa Indonesia by default (Qt translations), English selectable.

The source strings are English, in the code (``self.tr()`` / ``QCoreApplication.translate``).
``station/till/i18n/till_id.ts`` is the Indonesian translation source kept in the repository;
:func:`load_translator` compiles it to a ``.qm`` with PySide6's ``lrelease`` into a cache
directory when the ``.qm`` is missing or older, and loads it. Without ``lrelease`` the ``.ts``
is read directly (:class:`TsTranslator`), so the till still speaks Indonesian.

Regenerate the ``.ts`` after changing strings::

    pyside6-lupdate station/till/*.py -ts station/till/i18n/till_id.ts
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTranslator

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent / "i18n"
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT_LANGUAGE = "id"


def ts_path(language: str) -> Path:
    return HERE / f"till_{language}.ts"


def _lrelease() -> Path | None:
    import PySide6

    candidate = Path(PySide6.__file__).resolve().parent / "lrelease"
    return candidate if candidate.exists() and os.access(candidate, os.X_OK) else None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cardkit" / "till"


def compile_qm(language: str, target_dir: Path | None = None) -> Path | None:
    """The compiled ``.qm`` of ``language`` (built now if missing), or None when
    ``lrelease`` is not available or fails.

    The file is named by a digest of the ``.ts`` it was built from, not trusted by its date:
    another checkout or an older install sharing the cache must never lend its texts.
    """
    source = ts_path(language)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = (target_dir or cache_dir()) / f"till_{language}-{digest}.qm"
    if target.exists():
        return target
    tool = _lrelease()
    if tool is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(tool), "-silent", str(source), "-qm", str(target)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not target.exists():
        logger.warning("lrelease failed: %s", done.stderr.decode(errors="replace"))
        return None
    return target


class TsTranslator(QTranslator):
    """Reads a Qt ``.ts`` file directly (used when ``lrelease`` is not installed)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._table: dict[tuple[str, str], str] = {}
        for context in ET.parse(path).getroot().iter("context"):
            name = context.findtext("name") or ""
            for message in context.iter("message"):
                source = message.findtext("source") or ""
                translation = message.find("translation")
                if translation is None or translation.get("type") in ("unfinished", "obsolete"):
                    continue
                if translation.text:
                    self._table[(name, source)] = translation.text

    def translate(  # type: ignore[override]
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        return self._table.get((context, source))

    def isEmpty(self) -> bool:  # noqa: N802 - Qt's name
        return not self._table


def load_translator(language: str) -> QTranslator | None:
    """A translator for ``language`` (None for English, the source language)."""
    if language == "en":
        return None
    if not ts_path(language).exists():
        raise ValueError(f"no translation for language {language!r}")
    qm = compile_qm(language)
    if qm is not None:
        translator = QTranslator()
        if translator.load(str(qm)):
            return translator
        logger.warning("could not load %s; reading the .ts instead", qm)
    return TsTranslator(ts_path(language))


_installed: list[QTranslator] = []  # the till's translator in this application, if any


def use_language(language: str) -> None:
    """Make ``language`` the application's: the till's previous translator is removed first
    (the language is the application's, not one window's)."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("no Qt application")
    while _installed:
        app.removeTranslator(_installed.pop())
    translator = load_translator(language)
    if translator is not None:
        app.installTranslator(translator)
        _installed.append(translator)
