"""Wallet debit: round trips, bytes, host CPU and debits per second, beside Calypso/DESFire.

Run from the repository root::

    .venv/bin/python -m benchmarks.wallet [--count 200] [--no-pcsc]

One debit = the whole merchant flow of :meth:`cardkit.wallet.PaymentTerminal.pay`: SELECT,
DEBIT INIT, SAM AUTHORISE, pending debit journaled (SQLite, synchronous=FULL), DEBIT, SAM
CONFIRM, receipt journaled. Paths: the card in process or through pcscd + vpcd ("Virtual
PCD 00 00"); the SAM as the SAM applet on a second card (in process, or through pcscd on
"Virtual PCD 00 01") or the software SAM. Through pcscd every debit is a new tap (connect
to the card, pay, disconnect); the SAM stays connected, as in a till.

Host CPU is the calling thread's CPU time (``time.thread_time``): through pcscd the virtual
cards run in their bridge threads and are not counted; in process they run in the calling
thread and are. Bounded: ``--count`` debits per path (default 200), well under a minute.
Don't run it while the PC/SC tests use the vpcd slots.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from applets.card import VirtualCard
from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS, Pcscd
from applets.sam import SamApplet
from applets.ssn import make_blank_ssn_card
from applets.vpcd import VpcdBridge
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.ssn import PersonalisationPlan, SsnSession, card_scp03_keys, personalise, wallet_purses
from cardkit.ssn.beneficiary import Beneficiary
from cardkit.transport.base import Connection, CountingConnection, InProcessConnection
from cardkit.transport.faults import FaultyConnection
from cardkit.transport.pcsc import PcscConnection
from cardkit.wallet import PaymentTerminal, WalletIssuer
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import CardSam, Sam, SoftwareSam
from keys.ceremony import issue_sam
from keys.dev import DevelopmentKeyStore

TODAY = date(2026, 6, 1)
PRICE = 1_000
SAM_SERIAL = bytes.fromhex("53414D00000000BE")
IDENTITY = sam_codec.SamIdentity(sam_id=0x77, merchant=0x3003, terminal=0x01, ceiling=4_000_000_000)
HOUSEHOLD = Beneficiary.from_row(
    {
        "NO": "1",
        "NIK": "6472024507880002",
        "NO_KK": "6472021203150007",
        "NAMA": "SITI AMINAH (BENCH)",
        "JENIS_KELAMIN": "P",
        "TEMPAT_LAHIR": "SAMARINDA",
        "TANGGAL_LAHIR": "05-07-1988",
        "ALAMAT": "JL. DEMO GG. 1 NO. 1",
        "RT": "004",
        "KELURAHAN": "SIDODADI",
        "KECAMATAN": "SAMARINDA ULU",
        "STATUS_BANSOS": "PKH;BPNT",
    }
)
#: Published debit round trips of the peers (docs/PROTOCOL.md s7.6, docs/WALLET.md).
PEERS = {"debit": ("5-7", "5-7"), "recovery": ("3+", "2+")}


@dataclass
class Path_:
    """What one path measured."""

    card_round_trips: int = 0
    card_out: int = 0
    card_in: int = 0
    sam_round_trips: int | None = None
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    total_s: float = 0.0


def wallet_card(ks: DevelopmentKeyStore, balance: int) -> VirtualCard:
    """An issued SSN card with a PKH purse holding ``balance`` rupiah."""
    serial = os.urandom(8)
    card = make_blank_ssn_card(serial, card_scp03_keys(ks, serial, 1), 1)
    base = PersonalisationPlan.prepare(
        HOUSEHOLD, signer=ks.signer("desk-01"), desk_id="desk-01", pin="1234", not_before=TODAY
    )
    plan = PersonalisationPlan.prepare(
        HOUSEHOLD,
        signer=ks.signer("desk-01"),
        desk_id="desk-01",
        pin="1234",
        not_before=TODAY,
        offline_cap=4_000_000_000,
        purses=wallet_purses(
            base.programmes,
            balance_cap=4_000_000_000,
            payment_cap=1_000_000,
            expiry=date(2030, 12, 31),
        ),
    )
    personalise(SsnSession(InProcessConnection(card)), plan, ks)
    WalletIssuer(ks, agency=1, desk=1, sequence=lambda: 1, clock=lambda: TODAY).load(
        InProcessConnection(card), 0, balance
    )
    return card


def sam_card(ks: DevelopmentKeyStore) -> VirtualCard:
    card = VirtualCard([SamApplet()], name="merchant SAM")
    issue_sam(ks, CardSam(InProcessConnection(card)), SAM_SERIAL, IDENTITY)
    return card


def software_sam(ks: DevelopmentKeyStore) -> SoftwareSam:
    return SoftwareSam(ks, serial=SAM_SERIAL, identity=IDENTITY)


def run_path(
    tap: Callable[[], Connection],
    sam: Sam,
    sam_link: CountingConnection | None,
    journal_dir: Path | None,
    count: int,
) -> Path_:
    """``count`` debits, each on a new tap; the first one also counts round trips.
    ``journal_dir`` None: the journal in memory (no disk sync), to show what the disk costs."""
    result = Path_()
    journal = MerchantJournal(":memory:" if journal_dir is None else journal_dir / "journal.sqlite")
    start = time.perf_counter()
    for i in range(count):
        wall, cpu = time.perf_counter(), time.thread_time()
        connection = CountingConnection(tap())
        sam_before = sam_link.count if sam_link is not None else 0
        paid = PaymentTerminal(connection, sam, journal, clock=lambda: TODAY).pay(0, PRICE)
        connection.close()
        result.cpu_ms.append((time.thread_time() - cpu) * 1000)
        result.wall_ms.append((time.perf_counter() - wall) * 1000)
        if not paid.paid:
            raise SystemExit(f"debit {i} was not paid: {paid.reason}")
        if i == 0:
            result.card_round_trips = connection.count
            result.card_out, result.card_in = connection.bytes_sent, connection.bytes_received
            if sam_link is not None:
                result.sam_round_trips = sam_link.count - sam_before
    result.total_s = time.perf_counter() - start
    journal.close()
    return result


def recovery_round_trips(ks: DevelopmentKeyStore, journal_dir: Path) -> tuple[int, int]:
    """Card and SAM round trips of the re-tap that resolves a debit whose answer was lost."""
    card = wallet_card(ks, 100_000)
    sam_link = CountingConnection(InProcessConnection(sam_card(ks)))
    sam = CardSam(sam_link)
    journal = MerchantJournal(journal_dir / "recovery.sqlite")
    lossy = PaymentTerminal(
        FaultyConnection.losing_answer(InProcessConnection(card), ins=w.WalletIns.DEBIT),
        sam,
        journal,
        clock=lambda: TODAY,
    )
    assert lossy.pay(0, PRICE).interrupted
    retap = CountingConnection(InProcessConnection(card))
    sam_before = sam_link.count
    resolved = PaymentTerminal(retap, sam, journal, clock=lambda: TODAY).recover()
    assert resolved and resolved[0].outcome.value == "paid"
    journal.close()
    return retap.count, sam_link.count - sam_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="debits per path (default 200)")
    parser.add_argument("--no-pcsc", action="store_true", help="in-process only")
    args = parser.parse_args()
    ks = DevelopmentKeyStore()
    balance = PRICE * args.count
    results: dict[str, Path_] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def fresh(name: str) -> Path:
            (work / name).mkdir()
            return work / name

        card = wallet_card(ks, balance)
        sam_link = CountingConnection(InProcessConnection(sam_card(ks)))
        results["in-process, card SAM"] = run_path(
            lambda: InProcessConnection(card),
            CardSam(sam_link),
            sam_link,
            fresh("a"),
            args.count,
        )
        card = wallet_card(ks, balance)
        sam_link = CountingConnection(InProcessConnection(sam_card(ks)))
        results["in-process, card SAM, no disk"] = run_path(
            lambda: InProcessConnection(card),
            CardSam(sam_link),
            sam_link,
            None,
            args.count,
        )
        card = wallet_card(ks, balance)
        results["in-process, software SAM"] = run_path(
            lambda: InProcessConnection(card), software_sam(ks), None, fresh("b"), args.count
        )
        if not args.no_pcsc:
            pcscd = Pcscd()
            pcscd.ensure()
            card_bridge = VpcdBridge(wallet_card(ks, balance), port=VIRTUAL_PORTS[0])
            sam_bridge = VpcdBridge(sam_card(ks), port=VIRTUAL_PORTS[1])
            card_bridge.start()
            sam_bridge.start()
            try:
                if not (card_bridge.wait_connected(5.0) and sam_bridge.wait_connected(5.0)):
                    raise SystemExit("the virtual cards could not reach vpcd")
                time.sleep(0.5)  # pcscd sees a new card within its ~400 ms poll

                def tap() -> Connection:
                    return PcscConnection(VIRTUAL_READERS[0], exclusive=True, timeout=3.0)

                sam_pcsc = CountingConnection(
                    PcscConnection(VIRTUAL_READERS[1], exclusive=True, timeout=3.0)
                )
                try:
                    results["pcscd, card SAM (reader 2)"] = run_path(
                        tap, CardSam(sam_pcsc), sam_pcsc, fresh("c"), args.count
                    )
                finally:
                    sam_pcsc.close()
                card_bridge.card = wallet_card(ks, balance)  # type: ignore[assignment]
                results["pcscd, software SAM"] = run_path(
                    tap, software_sam(ks), None, fresh("d"), args.count
                )
            finally:
                card_bridge.stop()
                sam_bridge.stop()
                pcscd.stop()
        recovery, recovery_sam = recovery_round_trips(ks, work)

    header = (
        f"{'path':29} {'card RT':>7} {'bytes out/in':>12} {'SAM RT':>6} "
        f"{'host CPU ms':>11} {'median ms':>9} {'debits/s':>8}   "
        f"{'Calypso SV':>10} {'DESFire EV2':>11}"
    )
    print(
        f"debit of Rp {PRICE:,} x {args.count} per path (each a new tap; journal on disk)".replace(
            ",", "."
        )
    )
    print(header)
    print("-" * len(header))
    calypso, desfire = PEERS["debit"]
    for name, r in results.items():
        sam_rt = "-" if r.sam_round_trips is None else str(r.sam_round_trips)
        print(
            f"{name:29} {r.card_round_trips:>7} {f'{r.card_out}/{r.card_in}':>12} "
            f"{sam_rt:>6} {statistics.median(r.cpu_ms):>11.2f} "
            f"{statistics.median(r.wall_ms):>9.2f} {args.count / r.total_s:>8.0f}   "
            f"{calypso:>10} {desfire:>11}"
        )
    calypso, desfire = PEERS["recovery"]
    print(
        f"{'recovery of a lost answer':29} {recovery:>7} {'':>12} {recovery_sam:>6} "
        f"{'':>11} {'':>9} {'':>8}   {calypso:>10} {desfire:>11}"
    )
    print(
        "\nRT = APDU round trips (short APDUs): the card's are what a contactless reader "
        "charges 5-30 ms each for;\nthe SAM's run on the merchant's second reader. Host CPU = "
        "the calling thread's (in process it includes\nthe virtual cards). 'median ms' is "
        "wall time per debit, dominated by the journal's two synced SQLite commits\n"
        "(compare the 'no disk' row)."
    )


if __name__ == "__main__":
    main()
