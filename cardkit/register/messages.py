"""Bilingual messages (Bahasa Indonesia first, then English) for bad rows and refusals.

Every reason the register gives a clerk is a code with two templates, so a report can be
printed in either language and a spreadsheet can carry both.
"""

from __future__ import annotations

from typing import Any

#: code -> (Bahasa Indonesia, English); ``{name}`` fields are filled by :func:`text`.
MESSAGES: dict[str, tuple[str, str]] = {
    # file level (the import is refused)
    "file-missing": ("berkas tidak ditemukan: {path}", "file not found: {path}"),
    "file-empty": ("berkas kosong: {path}", "the file is empty: {path}"),
    "file-too-large": (
        "berkas {size} terlalu besar untuk ekspor survei (batas {limit}); salah berkas?",
        "the file is {size}, too large for a survey export (limit {limit}); wrong file?",
    ),
    "file-binary": (
        "berkas bukan teks CSV (berisi byte NUL); untuk Excel gunakan .xlsx",
        "the file is not CSV text (it contains NUL bytes); for Excel use .xlsx",
    ),
    "file-utf16": (
        "berkas berkode UTF-16; simpan ulang sebagai UTF-8",
        "the file is UTF-16 encoded; save it again as UTF-8",
    ),
    "file-no-rows": (
        "berkas hanya berisi judul kolom, tidak ada baris data",
        "the file has a header but no data rows",
    ),
    "bad-encoding-name": ("pengkodean tidak dikenal: {encoding}", "unknown encoding: {encoding}"),
    "header-too-long": (
        "baris judul lebih dari {limit} byte tanpa akhir baris: bukan ekspor CSV",
        "the header line is longer than {limit} bytes with no line end: not a CSV export",
    ),
    "wrong-delimiter": (
        "pemisah kolom salah: judul terbaca sebagai {found} kolom dengan {delimiter!r}, "
        "tampaknya berkas memakai {guess!r} (gunakan --delimiter {guess!r})",
        "wrong delimiter: the header reads as {found} column(s) with {delimiter!r}; the file "
        "looks {guess!r}-separated (use --delimiter {guess!r})",
    ),
    "duplicate-column": (
        "kolom {column!r} muncul {count} kali di judul",
        "column {column!r} appears {count} times in the header",
    ),
    "empty-column-name": (
        "judul kolom ke-{position} kosong (sel judul digabung atau kosong)",
        "header column {position} is empty (merged or blank header cell)",
    ),
    "missing-columns": (
        "kolom wajib tidak ada: {missing}; kolom berkas: {columns}",
        "required columns missing: {missing}; the file has: {columns}",
    ),
    "mapping-missing-column": (
        "pemetaan untuk {field} menyebut kolom {column!r}, yang tidak ada di berkas "
        "(kolom: {columns})",
        "the mapping for {field} names column {column!r}, which is not in the file "
        "(columns: {columns})",
    ),
    "mapping-unknown-field": (
        "pemetaan menyebut bidang tak dikenal {field!r} (dikenal: {known})",
        "the mapping names an unknown field {field!r} (known: {known})",
    ),
    "xlsx-several-sheets": (
        "buku kerja berisi beberapa lembar berdata: {sheets}; pilih satu dengan --sheet",
        "the workbook has several sheets with data: {sheets}; choose one with --sheet",
    ),
    "xlsx-no-sheet": ("lembar {sheet!r} tidak ada (ada: {sheets})",
                      "no sheet {sheet!r} (there are: {sheets})"),
    "xlsx-merged-header": (
        "sel judul digabung di {ranges}; pisahkan sel judul lalu ekspor ulang",
        "merged header cells at {ranges}; unmerge the header and export again",
    ),
    "xlsx-unreadable": ("buku kerja tidak terbaca: {error}", "the workbook cannot be read: {error}"),
    # row level (the row is left out, the others are kept)
    "field-count": (
        "baris berisi {found} kolom, judul berisi {expected}",
        "the row has {found} fields, the header has {expected}",
    ),
    "line-not-decodable": (
        "baris tidak dapat dibaca sebagai {encoding}",
        "the line cannot be decoded as {encoding}",
    ),
    "line-read-as-cp1252": (
        "baris bukan UTF-8; dibaca sebagai Windows-1252",
        "the line is not UTF-8; read as Windows-1252",
    ),
    "required": ("{field} kosong", "{field} is empty"),
    "nik-not-digits": ("NIK berisi karakter bukan angka: {value!r}",
                       "the NIK has characters that are not digits: {value!r}"),
    "nik-length": ("NIK harus 16 angka, ada {length}", "the NIK must have 16 digits, it has {length}"),
    "nik-date": (
        "tanggal lahir di dalam NIK tidak mungkin ({value})",
        "the birth date inside the NIK is impossible ({value})",
    ),
    "nik-region": ("kode wilayah NIK tidak dikenal ({value})",
                   "the NIK's region code is unknown ({value})"),
    "nik-ocr": (
        "NIK {value!r} dibaca sebagai {read} (huruf mirip angka)",
        "NIK {value!r} read as {read} (letters that look like digits)",
    ),
    "kk-invalid": ("nomor KK harus 16 angka: {value!r}", "the KK number must be 16 digits: {value!r}"),
    "date-invalid": (
        "tanggal lahir tidak valid: {value!r} (format HH-BB-TTTT)",
        "invalid birth date: {value!r} (format DD-MM-YYYY)",
    ),
    "date-range": ("tanggal lahir di luar rentang: {value}", "birth date out of range: {value}"),
    "sex-invalid": ("jenis kelamin harus L atau P: {value!r}", "sex must be L or P: {value!r}"),
    "name-digits": ("nama berisi angka: {value!r}", "the name contains digits: {value!r}"),
    "name-chars": ("nama berisi karakter tidak wajar: {value!r}",
                   "the name contains unexpected characters: {value!r}"),
    "programme-unknown": (
        "program tidak dikenal {value!r} (PKH, BPNT, KKS atau BELUM)",
        "unknown programme {value!r} (PKH, BPNT, KKS or BELUM)",
    ),
    "programme-belum-mixed": (
        "BELUM (belum menerima) tidak boleh digabung dengan program lain: {value!r}",
        "BELUM (receives nothing) cannot be combined with a programme: {value!r}",
    ),
    "rt-invalid": ("RT harus angka: {value!r}", "RT must be a number: {value!r}"),
    "no-invalid": ("NO harus angka: {value!r}", "NO must be a number: {value!r}"),
    # review findings
    "outside-city": (
        "NIK diterbitkan di luar Samarinda (kode {region}, bukan 6472): warga pindahan?",
        "NIK issued outside Samarinda (code {region}, not 6472): a resident who moved?",
    ),
    "sex-mismatch": (
        "jenis kelamin {column} tetapi NIK menunjukkan {nik}",
        "sex column says {column} but the NIK says {nik}",
    ),
    "birthdate-mismatch": (
        "tanggal lahir {column} tetapi NIK menunjukkan {nik}",
        "birth date column says {column} but the NIK says {nik}",
    ),
    # cards and review
    "household-unknown": ("KK {kk} tidak ada di register", "no household with KK {kk} in the register"),
    "household-inactive": ("KK {kk} tidak aktif", "household KK {kk} is not active"),
    "household-under-review": (
        "KK {kk} masih dalam peninjauan ({items}); putuskan dulu",
        "household KK {kk} has open review items ({items}); decide them first",
    ),
    "household-has-card": (
        "KK {kk} sudah memiliki kartu aktif {serial}",
        "household KK {kk} already has an active card {serial}",
    ),
    "card-unknown": ("kartu {serial} tidak dikenal", "unknown card {serial}"),
    "card-serial-used": ("nomor seri kartu {serial} sudah dipakai",
                         "card serial {serial} is already used"),
    "review-unknown": ("butir tinjauan {item} tidak ada", "no review item {item}"),
    "review-closed": ("butir tinjauan {item} sudah diputuskan", "review item {item} is already decided"),
    "review-bad-action": (
        "tindakan {action!r} tidak berlaku untuk {kind} (boleh: {allowed})",
        "action {action!r} does not apply to {kind} (allowed: {allowed})",
    ),
    "review-keep": (
        "untuk 'same' sebutkan catatan yang disimpan: {choices}",
        "for 'same' say which record to keep: {choices}",
    ),
    "review-reason": ("alasan wajib untuk penolakan", "a reject needs a reason"),
    "review-nothing-to-undo": ("tidak ada keputusan untuk dibatalkan pada butir {item}",
                               "no decision to undo on item {item}"),
    "review-clerk": ("nama petugas wajib diisi", "the clerk's name is required"),
}


def text(code: str, **fields: Any) -> tuple[str, str]:
    """The (Bahasa Indonesia, English) message for ``code`` with ``fields`` filled in."""
    indonesian, english = MESSAGES[code]
    return indonesian.format(**fields), english.format(**fields)
