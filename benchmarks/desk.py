"""Issuance time per card at the desk, split by phase, on an in-process virtual card.

Phases: card (personalise + read-back verification, APDUs to the virtual card: on a real
reader each of the round trips adds 5-30 ms), print rendering (both CR80 sides to PDF),
database (claim + register record + audit). Crypto runs inside the card phase here (host
signing, SCP03, the virtual card's own); the host-side share is everything but the card's
round trips. Clicks per issuance are counted from the window's workflow (tests drive it).

    QT_QPA_PLATFORM=offscreen python benchmarks/desk.py [cards]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(cards: int = 5) -> None:
    from PySide6.QtWidgets import QApplication

    from applets.ssn import make_blank_ssn_card
    from cardkit.backoffice import SettlementLedger
    from cardkit.keystore import KeyFunction
    from cardkit.register import Register
    from cardkit.ssn import card_scp03_keys
    from cardkit.transport.base import CountingConnection, InProcessConnection
    from keys.audit import AuditLog
    from keys.dev import development_keystore
    from station.desk.cardface import PdfPrinter
    from station.desk.service import DeskService, LedgerBackOffice

    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp())
    keystore = development_keystore(allow=True)
    register = Register(f"sqlite:///{work / 'r.sqlite'}")
    ledger = str(work / "l.sqlite")
    desk = DeskService(
        register,
        keystore,
        LedgerBackOffice(lambda: SettlementLedger(ledger)),
        AuditLog(work / "audit.jsonl"),
        workdir=work,
        development=True,
    )
    desk.add_clerk("bench", "bench-password", "clerk")
    desk.login("bench", "bench-password")
    rows = [
        "NO,NIK,NO_KK,NAMA,JENIS_KELAMIN,TEMPAT_LAHIR,TANGGAL_LAHIR,ALAMAT,RT,KELURAHAN,"
        "KECAMATAN,STATUS_BANSOS"
    ]
    for i in range(cards):
        name = f"WARGA {chr(65 + i % 26)}{chr(65 + i // 26)}"
        rows.append(
            f"{i + 1},647205{i + 1:02d}0888{i + 1:04d},647205010110{i + 1:04d},{name},L,SAMARINDA,"
            f"{i + 1:02d}-08-1988,JL. A NO. {i},001,SIDODADI,SAMARINDA ULU,PKH;BPNT"
        )
    export = work / "export.csv"
    export.write_text("\n".join(rows) + "\n")
    print("import:", desk.import_file(export))
    printer = PdfPrinter(work)
    totals = {"card": 0.0, "print": 0.0, "database": 0.0}
    trips = 0
    version = keystore.current_version(KeyFunction.CARD_MANAGEMENT)
    for i in range(cards):
        kk = f"647205010110{i + 1:04d}"
        serial = os.urandom(8)
        card = make_blank_ssn_card(serial, card_scp03_keys(keystore, serial, version), version)
        link = CountingConnection(InProcessConnection(card))
        t0 = time.perf_counter()
        issuance = desk.personalise(link, kk, pin="1234")
        t1 = time.perf_counter()
        desk.print_face(issuance, printer)
        t2 = time.perf_counter()
        desk.record(issuance)
        t3 = time.perf_counter()
        totals["card"] += t1 - t0
        totals["print"] += t2 - t1
        totals["database"] += t3 - t2
        trips += link.count
    total = sum(totals.values())
    print(f"{cards} cards, {total / cards * 1000:.0f} ms per card (in-process card)")
    for phase, seconds in totals.items():
        print(f"  {phase:<9} {seconds / cards * 1000:7.1f} ms  {100 * seconds / total:5.1f} %")
    per_card = trips / cards
    print(
        f"  round trips per card: {per_card:.0f} (personalise + verify); on a real "
        f"reader at 5-30 ms each: +{per_card * 5:.0f}..{per_card * 30:.0f} ms of card I/O"
    )
    print(
        "  clicks per issuance: 4 (search, Issue for this household, photo, Issue card) "
        "+ typing KK and PIN"
    )
    del app


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
