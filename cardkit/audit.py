"""An append-only, hash-chained audit log (JSON lines): key events, back-office actions.

Each line is one JSON object with ``seq`` (0, 1, ...), ``time``, ``event``, event fields,
and ``prev``: the SHA-256 (hex) of the previous line's exact bytes (64 zeros for the first).
Editing, deleting, inserting or reordering a line breaks the chain at the next line;
cutting lines off the end is caught only against a remembered head (``expected_head``).
Secrets never enter the log: :meth:`AuditLog.append` refuses bytes values and fields whose
names say they are secret (``pin``, ``key``, ``share``, ... unless they end in ``kcv``,
``count``, ...).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CardkitError


class AuditLogError(CardkitError):
    """The audit log is broken: tampered with, reordered or truncated."""


GENESIS = "0" * 64
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "passphrase",
        "pin",
        "mnemonic",
        "mnemonics",
        "private",
        "plaintext",
        "share",
        "shares",
        "component",
        "components",
        "key",
        "value",
    }
)
_PUBLIC_SUFFIXES = ("kcv", "kcvs", "count", "version", "name", "id")


@dataclass(frozen=True)
class AuditHead:
    """Where the log ends: entries so far and the SHA-256 of the last line."""

    count: int
    digest: str


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


class AuditLog:
    """The audit log file at ``path`` (created on first append, mode 0600).

    ``error`` is the exception class raised for a broken log (:class:`AuditLogError`;
    ``keys`` sets its own).
    """

    error: type[Exception] = AuditLogError

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Add one event; return the entry written."""
        for name, value in fields.items():
            if isinstance(value, (bytes, bytearray, memoryview)):
                raise ValueError(f"audit field {name!r} is bytes: pass public values as text")
            words = name.lower().split("_")
            if words[-1] not in _PUBLIC_SUFFIXES and _SECRET_WORDS.intersection(words):
                raise ValueError(f"audit field {name!r} looks secret; secrets are never logged")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one writer at a time keeps the chain linear
            with open(fd, "rb+", closefd=False) as f:
                head = _scan(f.read(), self.path, self.error)
            entry = {
                "seq": head.count,
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "event": event,
                **fields,
                "prev": head.digest,
            }
            line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """All entries, after checking the chain."""
        self.verify()
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines()]

    def head(self) -> AuditHead:
        """The current end of the (verified) log."""
        return self.verify()

    def verify(self, expected_head: AuditHead | None = None) -> AuditHead:
        """Check the whole chain; raise :class:`AuditLogError` at the first broken line."""
        data = self.path.read_bytes() if self.path.exists() else b""
        head = _scan(data, self.path, self.error)
        if expected_head is not None and (
            head.count < expected_head.count
            or (head.count == expected_head.count and head.digest != expected_head.digest)
        ):
            raise self.error(
                f"audit log {self.path} ends at entry {head.count}, "
                f"expected {expected_head.count}: truncated or rewritten"
            )
        return head


def _scan(data: bytes, path: Path, error: type[Exception] = AuditLogError) -> AuditHead:
    if data and not data.endswith(b"\n"):
        raise error(f"audit log {path}: last line is incomplete (truncated)")
    prev, count = GENESIS, 0
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise error(f"audit log {path}: line {number} is not JSON") from exc
        if not isinstance(entry, dict) or entry.get("prev") != prev:
            raise error(
                f"audit log {path}: chain broken at line {number} "
                "(an earlier line was changed, removed or inserted)"
            )
        if entry.get("seq") != count:
            raise error(
                f"audit log {path}: line {number} has sequence {entry.get('seq')}, expected {count}"
            )
        prev, count = _line_hash(line), count + 1
    return AuditHead(count, prev)
