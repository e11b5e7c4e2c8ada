"""The card image file: a virtual card's persistent memory, kept across restarts.

A card image is versioned JSON (UTF-8)::

    {
      "format": "cardkit.card-image",
      "version": 1,
      "applets": [{"aid": "F0636B74657374", "type": "applets.testapplet.TestApplet"}],
      "memory": {"F0636B74657374": {"counter": "00000003", ...}},
      "sha256": "<hex SHA-256 of the canonical JSON of the four fields above>"
    }

Keys are the applets' own strings, values hex. The digest turns a bit flip or a hand
edit into a clear :class:`CardImageError` instead of a silently different card. Images
are written crash-safely (temporary file, fsync, atomic rename, fsync of the folder) with
mode 0600: they hold the card's secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardkit.errors import CardkitError

from .memory import MemoryState

FORMAT = "cardkit.card-image"
VERSION = 1


class CardImageError(CardkitError):
    """A card image file is unreadable, corrupted, of another version or another card."""


class ImageWriteError(CardImageError):
    """A card image could not be written; the previous image is still in place."""


@dataclass
class CardImage:
    """The content of a card image file."""

    applets: list[tuple[bytes, str]]  # (AID, applet type) in card order
    memory: MemoryState = field(default_factory=dict)

    def _body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "applets": [{"aid": aid.hex().upper(), "type": kind} for aid, kind in self.applets],
            "memory": {
                ns: {key: value.hex().upper() for key, value in sorted(values.items())}
                for ns, values in sorted(self.memory.items())
            },
        }

    def to_json(self) -> bytes:
        body = self._body()
        body["sha256"] = _digest(body)
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, source: str = "card image") -> CardImage:
        """Parse and check an image; raise :class:`CardImageError` on any defect."""
        if not raw.strip():
            raise CardImageError(f"{source} is empty (truncated write?)")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardImageError(
                f"{source} is not valid JSON (corrupted or truncated): {exc}"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CardImageError(f"{source} is not a cardkit card image")
        if doc.get("version") != VERSION:
            raise CardImageError(
                f"{source} has image format version {doc.get('version')!r}; "
                f"this runtime reads version {VERSION}"
            )
        stored = doc.pop("sha256", None)
        if not isinstance(stored, str) or stored != _digest(doc):
            raise CardImageError(f"{source} failed its integrity check (corrupted or edited)")
        try:
            applets = [(bytes.fromhex(a["aid"]), str(a["type"])) for a in doc["applets"]]
            memory = {
                str(ns): {str(k): bytes.fromhex(v) for k, v in values.items()}
                for ns, values in doc["memory"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CardImageError(f"{source} has a malformed field: {exc!r}") from None
        return cls(applets, memory)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def read_image(path: str | os.PathLike[str]) -> CardImage | None:
    """Read the image at ``path``; ``None`` if there is no file (a blank card is wanted)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CardImageError(f"cannot read card image {path}: {exc}") from exc
    return CardImage.from_json(raw, source=f"card image {path}")


def write_image(path: str | os.PathLike[str], image: CardImage) -> None:
    """Replace the image at ``path`` atomically: readers see the old or the new, never half."""
    path = Path(path)
    raw = image.to_json()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a stray temporary file is ignored by readers
        raise ImageWriteError(f"cannot write card image {path}: {exc}") from exc
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # the rename itself is durable only once the directory entry is flushed
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
