"""Every text the desk shows, in one place: English source strings, translated through Qt.

Widgets never hold string literals; they call :func:`t` with a key. The translations live
in ``i18n/desk_id.ts`` (Qt Linguist source, context ``desk``); :func:`install` compiles it
with ``pyside6-lrelease`` into a ``.qm`` at run time (when missing or older) and loads it.
Bahasa Indonesia is the default; English is the source language.
"""

# ruff: noqa: E501 - the catalogue keeps one message per line
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QTranslator

CONTEXT = "desk"
I18N = Path(__file__).resolve().parent / "i18n"
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}  # each in its own language
DEFAULT_LANGUAGE = "id"

# fmt: off
_SOURCE: dict[str, object] = {
    "app.title": QT_TRANSLATE_NOOP("desk", "SSN issuance desk: {desk}"),
    "app.devkeys": QT_TRANSLATE_NOOP("desk", "DEVELOPMENT KEY SET: cards made here are for testing only"),
    "app.language": QT_TRANSLATE_NOOP("desk", "Language"),
    "app.reader": QT_TRANSLATE_NOOP("desk", "Reader: {reader}"),
    "app.busy": QT_TRANSLATE_NOOP("desk", "Working with the card... keep it on the reader"),
    "app.ready": QT_TRANSLATE_NOOP("desk", "Ready"),
    "app.user": QT_TRANSLATE_NOOP("desk", "{name} ({role})"),
    "app.logout": QT_TRANSLATE_NOOP("desk", "Log out"),
    "role.clerk": QT_TRANSLATE_NOOP("desk", "clerk"),
    "role.supervisor": QT_TRANSLATE_NOOP("desk", "supervisor"),
    "login.title": QT_TRANSLATE_NOOP("desk", "Clerk login"),
    "login.name": QT_TRANSLATE_NOOP("desk", "Name"),
    "login.password": QT_TRANSLATE_NOOP("desk", "Password"),
    "login.button": QT_TRANSLATE_NOOP("desk", "Log in"),
    "login.devhint": QT_TRANSLATE_NOOP("desk", "Development accounts: clerk / clerk-dev-pass, supervisor / supervisor-dev-pass"),
    "tab.households": QT_TRANSLATE_NOOP("desk", "Households"),
    "tab.reviews": QT_TRANSLATE_NOOP("desk", "Reviews"),
    "tab.issue": QT_TRANSLATE_NOOP("desk", "Issue card"),
    "tab.batch": QT_TRANSLATE_NOOP("desk", "Batch"),
    "tab.services": QT_TRANSLATE_NOOP("desk", "Card services"),
    "tab.dashboard": QT_TRANSLATE_NOOP("desk", "Dashboard"),
    "find.placeholder": QT_TRANSLATE_NOOP("desk", "NIK, KK number, name or card serial"),
    "find.button": QT_TRANSLATE_NOOP("desk", "Search"),
    "find.import": QT_TRANSLATE_NOOP("desk", "Import survey export..."),
    "find.none": QT_TRANSLATE_NOOP("desk", "No household found for \"{query}\"."),
    "find.found": QT_TRANSLATE_NOOP("desk", "{count} household(s) found."),
    "find.issue": QT_TRANSLATE_NOOP("desk", "Issue a card to this household"),
    "find.batch": QT_TRANSLATE_NOOP("desk", "Add to batch queue"),
    "find.imported": QT_TRANSLATE_NOOP("desk", "Imported {rows} rows: {accepted} accepted, {rejected} rejected, {review} new to review."),
    "col.kk": QT_TRANSLATE_NOOP("desk", "KK number"),
    "col.head": QT_TRANSLATE_NOOP("desk", "Head of household"),
    "col.nik": QT_TRANSLATE_NOOP("desk", "NIK"),
    "col.kecamatan": QT_TRANSLATE_NOOP("desk", "Kecamatan"),
    "col.status": QT_TRANSLATE_NOOP("desk", "Status"),
    "col.card": QT_TRANSLATE_NOOP("desk", "Card"),
    "col.item": QT_TRANSLATE_NOOP("desk", "No."),
    "col.kind": QT_TRANSLATE_NOOP("desk", "Finding"),
    "col.score": QT_TRANSLATE_NOOP("desk", "Score"),
    "col.why": QT_TRANSLATE_NOOP("desk", "Why"),
    "col.name": QT_TRANSLATE_NOOP("desk", "Name"),
    "col.result": QT_TRANSLATE_NOOP("desk", "Result"),
    "status.eligible": QT_TRANSLATE_NOOP("desk", "Eligible, no card yet"),
    "status.review": QT_TRANSLATE_NOOP("desk", "In review"),
    "status.card-active": QT_TRANSLATE_NOOP("desk", "Card active"),
    "status.card-blocked": QT_TRANSLATE_NOOP("desk", "Card blocked"),
    "status.inactive": QT_TRANSLATE_NOOP("desk", "Not eligible"),
    "kind.duplicate": QT_TRANSLATE_NOOP("desk", "Duplicate row"),
    "kind.same-nik": QT_TRANSLATE_NOOP("desk", "Same NIK, other data"),
    "kind.near-duplicate": QT_TRANSLATE_NOOP("desk", "Probably the same person"),
    "kind.household": QT_TRANSLATE_NOOP("desk", "Person in two households"),
    "kind.other": QT_TRANSLATE_NOOP("desk", "Check the record"),
    "review.flagged": QT_TRANSLATE_NOOP("desk", "Flagged record"),
    "review.other": QT_TRANSLATE_NOOP("desk", "Other record"),
    "review.same": QT_TRANSLATE_NOOP("desk", "Same person: keep the other record"),
    "review.different": QT_TRANSLATE_NOOP("desk", "Different people"),
    "review.accept": QT_TRANSLATE_NOOP("desk", "Record is correct"),
    "review.reject": QT_TRANSLATE_NOOP("desk", "Reject the flagged record"),
    "review.reason": QT_TRANSLATE_NOOP("desk", "Reason (needed to reject)"),
    "review.none": QT_TRANSLATE_NOOP("desk", "No open reviews."),
    "review.decided": QT_TRANSLATE_NOOP("desk", "Review no. {item} decided."),
    "review.open": QT_TRANSLATE_NOOP("desk", "{count} open review(s)."),
    "field.nik": QT_TRANSLATE_NOOP("desk", "NIK"),
    "field.name": QT_TRANSLATE_NOOP("desk", "Name"),
    "field.birth": QT_TRANSLATE_NOOP("desk", "Born"),
    "field.address": QT_TRANSLATE_NOOP("desk", "Address"),
    "field.kk": QT_TRANSLATE_NOOP("desk", "KK number"),
    "issue.household": QT_TRANSLATE_NOOP("desk", "Household"),
    "issue.nohousehold": QT_TRANSLATE_NOOP("desk", "Choose a household on the Households tab first."),
    "issue.photo": QT_TRANSLATE_NOOP("desk", "Photo"),
    "issue.choosephoto": QT_TRANSLATE_NOOP("desk", "Choose photo..."),
    "issue.nophoto": QT_TRANSLATE_NOOP("desk", "No photo chosen"),
    "issue.pin": QT_TRANSLATE_NOOP("desk", "Cardholder's PIN (4-8 digits)"),
    "issue.printer": QT_TRANSLATE_NOOP("desk", "Print to"),
    "issue.pdf": QT_TRANSLATE_NOOP("desk", "PDF file (no card printer)"),
    "issue.start": QT_TRANSLATE_NOOP("desk", "Issue card"),
    "issue.reprint": QT_TRANSLATE_NOOP("desk", "Print again"),
    "issue.done": QT_TRANSLATE_NOOP("desk", "Card {serial} issued to {name}. Hand it over."),
    "issue.resumed": QT_TRANSLATE_NOOP("desk", "The card was found half-made and was personalised again from the start."),
    "issue.pinbad": QT_TRANSLATE_NOOP("desk", "The PIN must be 4 to 8 digits."),
    "step.check": QT_TRANSLATE_NOOP("desk", "Check household and card"),
    "step.personalise": QT_TRANSLATE_NOOP("desk", "Write the chip"),
    "step.verify": QT_TRANSLATE_NOOP("desk", "Verify by reading back"),
    "step.print": QT_TRANSLATE_NOOP("desk", "Print the card face"),
    "step.record": QT_TRANSLATE_NOOP("desk", "Record in the register"),
    "step.transfer": QT_TRANSLATE_NOOP("desk", "Move the balance"),
    "interrupted.title": QT_TRANSLATE_NOOP("desk", "Card left half-made"),
    "interrupted.text": QT_TRANSLATE_NOOP("desk", "Card {serial} was pulled out while it was being written.\nResume: write it again from the start (keeps the card).\nWipe: return it to blank, then present it again."),
    "interrupted.resume": QT_TRANSLATE_NOOP("desk", "Resume"),
    "interrupted.wipe": QT_TRANSLATE_NOOP("desk", "Wipe"),
    "batch.add": QT_TRANSLATE_NOOP("desk", "Add selected household"),
    "batch.start": QT_TRANSLATE_NOOP("desk", "Start the queue"),
    "batch.waiting": QT_TRANSLATE_NOOP("desk", "Waiting"),
    "batch.working": QT_TRANSLATE_NOOP("desk", "Being issued..."),
    "batch.issued": QT_TRANSLATE_NOOP("desk", "Issued: card {serial}"),
    "batch.aside": QT_TRANSLATE_NOOP("desk", "Set aside: {why}"),
    "batch.summary": QT_TRANSLATE_NOOP("desk", "{done} issued, {aside} set aside, {left} waiting."),
    "batch.hint": QT_TRANSLATE_NOOP("desk", "Each household gets the next card the printer feeds. A failed card is set aside and the queue goes on."),
    "svc.read": QT_TRANSLATE_NOOP("desk", "Read and verify the card"),
    "svc.result": QT_TRANSLATE_NOOP("desk", "Card {serial}: {verdict}, chip state {state}, register: {register}"),
    "svc.genuine": QT_TRANSLATE_NOOP("desk", "genuine"),
    "svc.notgenuine": QT_TRANSLATE_NOOP("desk", "NOT GENUINE ({why})"),
    "svc.noregister": QT_TRANSLATE_NOOP("desk", "not in the register"),
    "svc.purse": QT_TRANSLATE_NOOP("desk", "{programme}: {amount}"),
    "svc.nopurse": QT_TRANSLATE_NOOP("desk", "no purses"),
    "svc.loadgroup": QT_TRANSLATE_NOOP("desk", "Load programme funds"),
    "svc.agency": QT_TRANSLATE_NOOP("desk", "Agency (OPD)"),
    "svc.programme": QT_TRANSLATE_NOOP("desk", "Programme"),
    "svc.amount": QT_TRANSLATE_NOOP("desk", "Amount"),
    "svc.load": QT_TRANSLATE_NOOP("desk", "Load funds"),
    "svc.loaded": QT_TRANSLATE_NOOP("desk", "Loaded {amount}. New balance {balance}."),
    "svc.blockgroup": QT_TRANSLATE_NOOP("desk", "Lost or stolen card"),
    "svc.serial": QT_TRANSLATE_NOOP("desk", "Card serial"),
    "svc.reason": QT_TRANSLATE_NOOP("desk", "Reason"),
    "svc.reasonlost": QT_TRANSLATE_NOOP("desk", "lost"),
    "svc.block": QT_TRANSLATE_NOOP("desk", "Block the card"),
    "svc.blocked": QT_TRANSLATE_NOOP("desk", "Card {serial} is blocked and goes on the next hotlist."),
    "svc.replace": QT_TRANSLATE_NOOP("desk", "Issue replacement with balance"),
    "svc.replaced": QT_TRANSLATE_NOOP("desk", "Replacement {serial} issued; {amount} moved from the back office's record of the lost card."),
    "svc.moverest": QT_TRANSLATE_NOOP("desk", "Move the rest of the balance"),
    "svc.moved": QT_TRANSLATE_NOOP("desk", "{amount} moved from lost card {lost} to this card."),
    "svc.heldback": QT_TRANSLATE_NOOP("desk", "{amount} stays on the lost card's record until {until} (the lost card could still spend it offline); then put the new card on the reader and press “Move the rest of the balance”."),
    "svc.balancebo": QT_TRANSLATE_NOOP("desk", "The back office can move from the lost card now: {amount}"),
    "svc.pingroup": QT_TRANSLATE_NOOP("desk", "PIN"),
    "svc.oldpin": QT_TRANSLATE_NOOP("desk", "Old PIN"),
    "svc.newpin": QT_TRANSLATE_NOOP("desk", "New PIN"),
    "svc.changepin": QT_TRANSLATE_NOOP("desk", "Change PIN"),
    "svc.unblockpin": QT_TRANSLATE_NOOP("desk", "Unblock PIN (supervisor)"),
    "svc.pinchanged": QT_TRANSLATE_NOOP("desk", "The PIN was changed."),
    "svc.pinunblocked": QT_TRANSLATE_NOOP("desk", "The PIN was reset; all tries restored."),
    "sup.title": QT_TRANSLATE_NOOP("desk", "Supervisor confirmation"),
    "sup.text": QT_TRANSLATE_NOOP("desk", "A supervisor must confirm: {action}"),
    "sup.name": QT_TRANSLATE_NOOP("desk", "Supervisor"),
    "sup.password": QT_TRANSLATE_NOOP("desk", "Password"),
    "sup.confirm": QT_TRANSLATE_NOOP("desk", "Confirm"),
    "sup.cancel": QT_TRANSLATE_NOOP("desk", "Cancel"),
    "dash.issued": QT_TRANSLATE_NOOP("desk", "Cards issued by kecamatan"),
    "dash.funds": QT_TRANSLATE_NOOP("desk", "Funds loaded by programme (Rp)"),
    "dash.reviews": QT_TRANSLATE_NOOP("desk", "Open reviews"),
    "dash.progress": QT_TRANSLATE_NOOP("desk", "{issued} of {target} households have a card ({pct})"),
    "chip.BLANK": QT_TRANSLATE_NOOP("desk", "blank"),
    "chip.PERSONALISING": QT_TRANSLATE_NOOP("desk", "half-made"),
    "chip.ISSUED": QT_TRANSLATE_NOOP("desk", "issued"),
    "chip.BLOCKED": QT_TRANSLATE_NOOP("desk", "blocked"),
    "chip.TERMINATED": QT_TRANSLATE_NOOP("desk", "terminated"),
    "reg.active": QT_TRANSLATE_NOOP("desk", "active"),
    "reg.blocked": QT_TRANSLATE_NOOP("desk", "blocked (lost)"),
    "reg.replaced": QT_TRANSLATE_NOOP("desk", "replaced"),
    "reg.returned": QT_TRANSLATE_NOOP("desk", "returned"),
    "member.active": QT_TRANSLATE_NOOP("desk", "eligible"),
    "member.removed": QT_TRANSLATE_NOOP("desk", "removed (duplicate)"),
    "member.rejected": QT_TRANSLATE_NOOP("desk", "rejected"),
    "member.absent": QT_TRANSLATE_NOOP("desk", "not in the latest export"),
    "dash.target": QT_TRANSLATE_NOOP("desk", "Households with a card"),
    "dash.kelurahan": QT_TRANSLATE_NOOP("desk", "Cards issued by kelurahan (top 10)"),
    "dash.withcard": QT_TRANSLATE_NOOP("desk", "with card"),
    "dash.waiting": QT_TRANSLATE_NOOP("desk", "still waiting"),
    "dash.refresh": QT_TRANSLATE_NOOP("desk", "Refresh"),
    "dash.nodata": QT_TRANSLATE_NOOP("desk", "none yet"),
    "err.no-card": QT_TRANSLATE_NOOP("desk", "No card on the reader. Put the card on the reader and try again."),
    "err.card-pulled": QT_TRANSLATE_NOOP("desk", "The card was taken off the reader. Put it back and try again."),
    "err.card-pulled-personalising": QT_TRANSLATE_NOOP("desk", "The card was taken off while it was being written. Put it back: you will be asked to resume or wipe it."),
    "err.card-pulled-verifying": QT_TRANSLATE_NOOP("desk", "The card was taken off while it was being checked. Put it back and try again."),
    "err.card-interrupted": QT_TRANSLATE_NOOP("desk", "Card {serial} is half-made."),
    "err.card-wiped": QT_TRANSLATE_NOOP("desk", "Card {serial} was wiped back to blank. Present it again to issue it."),
    "err.card-not-blank": QT_TRANSLATE_NOOP("desk", "Card {serial} is already used ({state}); it cannot be issued. Take a new blank card."),
    "err.foreign-card": QT_TRANSLATE_NOOP("desk", "This is not an SSN card (a card of another system). Take a blank SSN card."),
    "err.personalise-failed": QT_TRANSLATE_NOOP("desk", "The card could not be written: {why}"),
    "err.verify-failed": QT_TRANSLATE_NOOP("desk", "The card did not pass the check after writing: {why}. Do not hand it over."),
    "err.print-failed": QT_TRANSLATE_NOOP("desk", "Printing failed ({why}). The card is NOT recorded as handed over. Fix the printer and print again."),
    "err.not-printed": QT_TRANSLATE_NOOP("desk", "Card {serial} has not been printed yet."),
    "err.household-claimed": QT_TRANSLATE_NOOP("desk", "Household {kk} is being issued right now at {desk} by {clerk}."),
    "err.household-in-review": QT_TRANSLATE_NOOP("desk", "Household {kk} has an open review. Decide it on the Reviews tab first."),
    "err.household-has-card": QT_TRANSLATE_NOOP("desk", "Household {kk} already has an active card ({serial})."),
    "err.household-inactive": QT_TRANSLATE_NOOP("desk", "Household {kk} has no eligible member."),
    "err.supervisor-refused": QT_TRANSLATE_NOOP("desk", "Wrong supervisor name or password. Nothing was done."),
    "err.supervisor-self": QT_TRANSLATE_NOOP("desk", "A supervisor cannot confirm their own action. Ask another supervisor."),
    "err.supervisor-cancelled": QT_TRANSLATE_NOOP("desk", "Not confirmed. Nothing was done."),
    "err.login-failed": QT_TRANSLATE_NOOP("desk", "Wrong name or password."),
    "err.password-short": QT_TRANSLATE_NOOP("desk", "The password must have at least 8 characters."),
    "err.not-logged-in": QT_TRANSLATE_NOOP("desk", "Log in first."),
    "err.agency-unknown": QT_TRANSLATE_NOOP("desk", "Choose an agency from the list."),
    "err.amount-invalid": QT_TRANSLATE_NOOP("desk", "Enter an amount of at least Rp 1."),
    "err.card-not-genuine": QT_TRANSLATE_NOOP("desk", "The card is not genuine: {why}"),
    "err.card-not-active": QT_TRANSLATE_NOOP("desk", "Card {serial} is not active in the register."),
    "err.purse-unknown": QT_TRANSLATE_NOOP("desk", "The card has no purse for this programme."),
    "err.load-refused": QT_TRANSLATE_NOOP("desk", "The load was refused: {why}"),
    "err.load-interrupted": QT_TRANSLATE_NOOP("desk", "The card left during the load; it is not known yet whether it was credited. Put it back and read it."),
    "err.card-unknown": QT_TRANSLATE_NOOP("desk", "Card {serial} is not in the register."),
    "err.card-not-blocked": QT_TRANSLATE_NOOP("desk", "Card {serial} must be blocked before it is replaced."),
    "err.pin-blocked": QT_TRANSLATE_NOOP("desk", "The PIN is blocked. Use Unblock PIN (a supervisor must confirm)."),
    "err.pin-wrong": QT_TRANSLATE_NOOP("desk", "Wrong PIN: {left} tries left."),
    "err.unblock-refused": QT_TRANSLATE_NOOP("desk", "The card refused the new PIN: {why}"),
    "err.qr-invalid": QT_TRANSLATE_NOOP("desk", "That card number's check value is wrong."),
    "err.internal": QT_TRANSLATE_NOOP("desk", "Unexpected error (tell the technician): {why}"),
    "err.reader-missing": QT_TRANSLATE_NOOP("desk", "No card reader found."),
    "err.not-the-replacement": QT_TRANSLATE_NOOP("desk", "Card {serial} is not the active card of the household that lost card {lost}. Put the replacement card on the reader. Nothing was moved."),
    "err.held-back": QT_TRANSLATE_NOOP("desk", "{amount} is held back until {until}: the lost card could still spend it offline. Nothing was moved."),
    "err.nothing-to-move": QT_TRANSLATE_NOOP("desk", "Nothing is left to move from lost card {serial}."),
    "err.nothing-selected": QT_TRANSLATE_NOOP("desk", "Select a row first."),
}
# fmt: on
SOURCE: dict[str, str] = {key: str(text) for key, text in _SOURCE.items()}

#: What is printed on the card: always in Bahasa Indonesia (a city document), whatever
#: language the clerk's screen is in.
FACE: dict[str, str] = {
    "title": "KARTU SSN - KOTA SAMARINDA",
    "valid": "Berlaku s.d.",
    "can": "CAN",
    "serial": "No. kartu",
    "programmes": "Program",
    "back": "Kartu ini milik rumah tangga yang namanya tertera di depan. "
    "Bila menemukan, kembalikan ke kantor pemerintah kota.",
    "dev": "KARTU UJI - KUNCI PENGEMBANGAN",
    "nophoto": "FOTO",
}


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


_language = DEFAULT_LANGUAGE


def t(key: str, **fields: Any) -> str:
    """The text ``key`` in the current language, with ``fields`` filled in."""
    source = SOURCE[key]
    text = QCoreApplication.translate(CONTEXT, source)
    return text.format_map(_Fields(fields)) if fields else text


def error_text(code: str, fields: dict[str, Any]) -> str:
    """The clerk's message for a :class:`~station.desk.service.DeskError`."""
    if code == "register":  # the register's own bilingual message
        return str(fields.get("text_id" if _language == "id" else "text_en", ""))
    key = f"err.{code}"
    return t(key, **fields) if key in SOURCE else t("err.internal", why=code)


def state_text(prefix: str, value: str | None) -> str:
    """A chip, register or member state in words (the raw value if unknown)."""
    key = f"{prefix}.{value}"
    return t(key) if key in SOURCE else str(value)


def language() -> str:
    return _language


def compile_qm(language_code: str, cache: Path) -> Path | None:
    """The ``.qm`` for ``language_code``, compiled from its ``.ts`` into ``cache``."""
    ts = I18N / f"desk_{language_code}.ts"
    if not ts.exists():
        return None
    cache.mkdir(parents=True, exist_ok=True)
    # named by the digest of its source: a cache shared with another install never lends
    # its (older or newer) texts, whatever the files' dates say
    digest = hashlib.sha256(ts.read_bytes()).hexdigest()[:16]
    qm = cache / f"desk_{language_code}-{digest}.qm"
    if qm.exists():
        return qm
    tool = shutil.which("pyside6-lrelease") or str(Path(sys.executable).parent / "pyside6-lrelease")
    subprocess.run([tool, "-silent", str(ts), "-qm", str(qm)], check=True)
    return qm


_translator: QTranslator | None = None


def install(language_code: str, cache: Path) -> None:
    """Switch the application's language (``id`` or ``en``)."""
    global _translator, _language
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("no QApplication yet")
    if _translator is not None:
        app.removeTranslator(_translator)
        _translator = None
    _language = language_code
    qm = compile_qm(language_code, cache) if language_code != "en" else None
    if qm is not None:
        translator = QTranslator(app)
        if not translator.load(str(qm)):
            raise RuntimeError(f"cannot load translations {qm}")
        app.installTranslator(translator)
        _translator = translator
