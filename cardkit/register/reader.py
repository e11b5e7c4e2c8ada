"""Reading a survey export, CSV or XLSX, as a stream of rows under canonical field names.

The reader refuses a file it cannot read as a whole (empty, binary, too large, wrong
delimiter, missing or duplicated columns, merged header cells, several sheets, a mapping
naming a column that is not there) with :class:`ImportRefused` before anything is written;
a row it cannot read (wrong number of fields, bytes that do not decode) is a row issue and
the others go on. CSV is decoded line by line, so a file is never held in memory whole.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import ImportRefused
from .messages import text
from .validate import EXPORT_COLUMNS, FIELDS, REQUIRED, Issue

MAX_BYTES = 256 * 1024 * 1024  # the city export is ~20 MB at 130,000 rows
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"


def refuse(code: str, **fields: Any) -> ImportRefused:
    """An :class:`ImportRefused` with the bilingual message for ``code``."""
    return ImportRefused(*text(code, **fields))


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


@dataclass
class RawRow:
    """One row as read: its line in the file, canonical field -> text, and read issues."""

    line: int
    values: dict[str, str]
    issues: list[Issue] = field(default_factory=list)


@dataclass
class ExportFile:
    """An opened export: how it was read and an iterator over its rows (one pass)."""

    path: Path
    kind: str  # csv | xlsx
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str]  # canonical field -> header in this file
    sha256: str
    rows: Iterator[RawRow]


def resolve_mapping(columns: list[str], mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Canonical field -> column header, from the default export names and ``mapping``.

    Header names compare without case and surrounding space. Refuses duplicated or empty
    headers, a mapping that names a missing column or an unknown field, and missing
    required columns.
    """
    for position, name in enumerate(columns, start=1):
        if not name.strip():
            raise refuse("empty-column-name", position=position)
    normal = [c.strip().upper() for c in columns]
    counts = Counter(normal)
    for name, count in counts.items():
        if count > 1:
            raise refuse("duplicate-column", column=name, count=count)
    listing = ", ".join(columns)
    result: dict[str, str] = {}
    for fld, column in (mapping or {}).items():
        if fld not in EXPORT_COLUMNS:
            raise refuse("mapping-unknown-field", field=fld, known=", ".join(FIELDS))
        if column.strip().upper() not in counts:
            raise refuse("mapping-missing-column", field=fld, column=column, columns=listing)
        result[fld] = columns[normal.index(column.strip().upper())]
    for fld, default in EXPORT_COLUMNS.items():
        if fld not in result and default in counts:
            result[fld] = columns[normal.index(default)]
    missing = [EXPORT_COLUMNS[f] for f in REQUIRED if f not in result]
    if missing:
        raise refuse("missing-columns", missing=", ".join(missing), columns=listing)
    return result


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise refuse("file-missing", path=str(path))
    size = path.stat().st_size
    if size == 0:
        raise refuse("file-empty", path=str(path))
    if size > max_bytes:
        raise refuse("file-too-large", size=_size(size), limit=_size(max_bytes))
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def _choose_encoding(head: bytes, encoding: str | None) -> tuple[str, bool]:
    """(codec name, auto) for the file: BOM, then UTF-8 if the head decodes, else cp1252."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise refuse("file-utf16")
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise refuse("bad-encoding-name", encoding=encoding) from None
        if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"
        return name, False
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", True
    utf8_lines = bad_lines = 0
    lines = head.split(b"\n")
    for line in lines[:-1] if len(lines) > 1 else lines:  # the last may be cut mid-character
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines += 1
        except UnicodeDecodeError:
            bad_lines += 1
    # Any real UTF-8 line means a UTF-8 file (odd lines are then read as cp1252, and noted);
    # only non-ASCII lines that are all invalid UTF-8 make a Windows-1252 file.
    if bad_lines and not utf8_lines:
        return "cp1252", True
    return "utf-8", True


def _decoded_lines(handle: IO[bytes], encoding: str, auto: bool,
                   bad: dict[int, Issue]) -> Iterator[str]:
    """Decode line by line; in auto mode a non-UTF-8 line is read as cp1252 (and noted)."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    for number, raw in enumerate(handle, start=1):
        if number == 1 and encoding == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError:
            if auto and codec == "utf-8":
                bad[number] = Issue("-", "line-read-as-cp1252", "note")
                yield raw.decode("cp1252", errors="replace")
            else:
                bad[number] = Issue("-", "line-not-decodable", "malformed",
                                    {"encoding": encoding})
                yield raw.decode(codec, errors="replace")


def _guess_delimiter(header: str) -> str:
    known = set(EXPORT_COLUMNS.values())

    def score(delim: str) -> tuple[int, int]:
        cells = [c.strip().strip('"').upper() for c in header.split(delim)]
        return (sum(c in known for c in cells), len(cells))

    return max(DELIMITERS, key=score)


def open_csv(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
             mapping: Mapping[str, str] | None = None, max_bytes: int = MAX_BYTES) -> ExportFile:
    """Open a CSV export for one streaming pass (see the module docstring)."""
    head = _check_file(path, max_bytes)
    if b"\x00" in head:
        raise refuse("file-binary")
    codec, auto = _choose_encoding(head, encoding)
    first = head.split(b"\n", 1)[0]
    if len(first) >= SNIFF_BYTES:
        raise refuse("header-too-long", limit=SNIFF_BYTES)
    header_text = first.decode("utf-8-sig" if codec.startswith("utf-8") else codec,
                               errors="replace")
    guess = _guess_delimiter(header_text)
    delim = delimiter or guess
    if delim != guess and len(header_text.split(delim)) == 1:
        raise refuse("wrong-delimiter", found=1, delimiter=delim, guess=guess)
    handle = path.open("rb")
    bad: dict[int, Issue] = {}
    reader = csv.reader(_decoded_lines(handle, codec, auto, bad), delimiter=delim)
    try:
        columns = next(reader)
    except StopIteration:
        handle.close()
        raise refuse("file-empty", path=str(path)) from None
    if len(columns) == 1 and delimiter is None:
        handle.close()
        raise refuse("wrong-delimiter", found=1, delimiter=delim, guess=guess)
    try:
        resolved = resolve_mapping(columns, mapping)
    except ImportRefused:
        handle.close()
        raise
    index = {fld: columns.index(col) for fld, col in resolved.items()}
    width = len(columns)

    def rows() -> Iterator[RawRow]:
        try:
            for cells in reader:
                line = reader.line_num
                issues = [bad.pop(n) for n in sorted(bad) if n <= line]
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if len(cells) != width:
                    issues.append(Issue("-", "field-count", "malformed",
                                        {"found": str(len(cells)), "expected": str(width)}))
                    yield RawRow(line, {}, issues)
                    continue
                yield RawRow(line, {f: cells[i] for f, i in index.items()}, issues)
        finally:
            handle.close()

    return ExportFile(path, "csv", codec, delim, columns, resolved, _file_digest(path), rows())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d-%m-%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d-%m-%Y")
    return str(value)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def open_xlsx(path: Path, *, sheet: str | None = None, mapping: Mapping[str, str] | None = None,
              max_bytes: int = MAX_BYTES) -> ExportFile:
    """Open an XLSX export (python-calamine): one sheet, the first non-empty row is the header."""
    import python_calamine

    _check_file(path, max_bytes)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise refuse("xlsx-unreadable", error=str(exc)) from None
    names = list(workbook.sheet_names)
    if sheet is not None:
        if sheet not in names:
            raise refuse("xlsx-no-sheet", sheet=sheet, sheets=", ".join(names))
        chosen = workbook.get_sheet_by_name(sheet)
    else:
        filled = [workbook.get_sheet_by_name(n) for n in names]
        filled = [s for s in filled if s.height > 0 and s.width > 0]
        if len(filled) > 1:
            raise refuse("xlsx-several-sheets", sheets=", ".join(s.name for s in filled))
        if not filled:
            raise refuse("file-empty", path=str(path))
        chosen = filled[0]
    values = chosen.iter_rows()
    offset = chosen.start[0] if chosen.start else 0
    header_row = offset
    columns: list[str] = []
    for cells in values:
        columns = [_cell(c).strip() for c in cells]
        if any(columns):
            break
        header_row += 1
    if not any(columns):
        raise refuse("file-empty", path=str(path))
    merged = [r for r in (chosen.merged_cell_ranges or []) if r[0][0] <= header_row <= r[1][0]]
    if merged:
        ranges = ", ".join(f"{_column_letter(a[1])}{a[0] + 1}:{_column_letter(b[1])}{b[0] + 1}"
                           for a, b in merged)
        raise refuse("xlsx-merged-header", ranges=ranges)
    while columns and not columns[-1]:
        columns.pop()
    resolved = resolve_mapping(columns, mapping)
    index = {fld: columns.index(col) for fld, col in resolved.items()}

    def rows() -> Iterator[RawRow]:
        line = header_row + 1
        for cells in values:
            line += 1
            texts = [_cell(c) for c in cells]
            if not any(t.strip() for t in texts):
                continue
            if any(t.strip() for t in texts[len(columns):]):
                yield RawRow(line, {}, [Issue("-", "field-count", "malformed",
                                              {"found": str(len(texts)),
                                               "expected": str(len(columns))})])
                continue
            texts += [""] * (len(columns) - len(texts))
            yield RawRow(line, {f: texts[i] for f, i in index.items()})

    return ExportFile(path, "xlsx", "xlsx", "", columns, resolved, _file_digest(path), rows())


def open_export(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None,
                sheet: str | None = None, mapping: Mapping[str, str] | None = None,
                max_bytes: int = MAX_BYTES) -> ExportFile:
    """Open a CSV or XLSX export (chosen by content: an XLSX is a zip)."""
    path = Path(path)
    head = _check_file(path, max_bytes)
    if head.startswith(XLSX_MAGIC) or path.suffix.lower() in (".xlsx", ".xlsm"):
        return open_xlsx(path, sheet=sheet, mapping=mapping, max_bytes=max_bytes)
    return open_csv(path, encoding=encoding, delimiter=delimiter, mapping=mapping,
                    max_bytes=max_bytes)
