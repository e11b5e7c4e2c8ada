"""SSN card flows: round trips, bytes and time for personalise, verify and read identity.

Run from the repository root::

    .venv/bin/python -m benchmarks.ssn [--count N] [--port 35963] [--no-pcsc]

Each flow runs on in-process virtual cards and, unless ``--no-pcsc``, through pcscd + vpcd
(starting pcscd if none runs). Round trips and bytes are counted at the connection (short
APDUs, GET RESPONSE included); times are medians. The last columns repeat the published
figures of comparable systems from docs/PROTOCOL.md section 6.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from applets.card import VirtualCard
from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS, Pcscd, connect_served
from applets.ssn import make_blank_ssn_card
from applets.vpcd import VpcdBridge
from cardkit.keystore import KeyStore
from cardkit.pki import TrustStore
from cardkit.ssn import (
    DeskCertificateCache,
    PersonalisationPlan,
    SsnSession,
    card_scp03_keys,
    personalise,
    read_identity,
    verify_card,
    wallet_purses,
)
from cardkit.ssn.beneficiary import Beneficiary
from cardkit.transport.base import Connection, CountingConnection, InProcessConnection
from cardkit.transport.pcsc import PcscConnection
from keys.dev import DevelopmentKeyStore

PIN = "1234"
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
PEERS = {
    "personalise": ("-", "-"),
    "personalise with wallet (2 purses)": ("-", "-"),
    "verify (first card of a desk)": ("12-16", "3-4 (SAM)"),
    "verify (desk certificate cached)": ("12-16", "3-4 (SAM)"),
    "read identity": ("~15", "-"),
}


@dataclass
class Flow:
    round_trips: int
    sent: int
    received: int
    times_ms: list[float]


def blank(ks: KeyStore) -> VirtualCard:
    serial = os.urandom(8)
    return make_blank_ssn_card(serial, card_scp03_keys(ks, serial, 1), 1)


def plan(ks: KeyStore, wallet: bool = False) -> PersonalisationPlan:
    base = PersonalisationPlan.prepare(
        HOUSEHOLD, signer=ks.signer("desk-01"), desk_id="desk-01", pin=PIN
    )
    if not wallet:
        return base
    return PersonalisationPlan.prepare(
        HOUSEHOLD,
        signer=ks.signer("desk-01"),
        desk_id="desk-01",
        pin=PIN,
        can=base.can,
        offline_cap=1_000_000,
        purses=wallet_purses(
            base.programmes,
            balance_cap=2_000_000,
            payment_cap=500_000,
            expiry=datetime.date(2030, 12, 31),
        ),
    )


def run_flows(
    connect: Callable[[], Connection],
    new_card: Callable[[], None],
    ks: KeyStore,
    trust: TrustStore,
    count: int,
    personalise_count: int,
) -> dict[str, Flow]:
    """Measure each flow; ``new_card`` puts a fresh blank card in front of ``connect``."""
    flows: dict[str, Flow] = {}

    def once(name: str, fn: Callable[[CountingConnection], object]) -> None:
        conn = CountingConnection(connect())
        start = time.perf_counter()
        fn(conn)
        elapsed = (time.perf_counter() - start) * 1000
        flow = flows.setdefault(name, Flow(conn.count, conn.bytes_sent, conn.bytes_received, []))
        flow.times_ms.append(elapsed)

    for _ in range(personalise_count):
        new_card()
        once("personalise", lambda c: personalise(SsnSession(c), plan(ks), ks))
    for _ in range(personalise_count):
        new_card()
        once(
            "personalise with wallet (2 purses)",
            lambda c: personalise(SsnSession(c), plan(ks, wallet=True), ks),
        )
    for _ in range(count):
        once(
            "verify (first card of a desk)",
            lambda c: verify_card(c, trust, desk_cert_cache=DeskCertificateCache()),
        )
    cache = DeskCertificateCache()
    verify_card(CountingConnection(connect()), trust, desk_cert_cache=cache)
    for _ in range(count):
        once(
            "verify (desk certificate cached)",
            lambda c: verify_card(c, trust, desk_cert_cache=cache),
        )
    for _ in range(count):
        once("read identity", lambda c: read_identity(c, trust, pin=PIN, desk_cert_cache=cache))
    return flows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="runs per flow (default 30)")
    parser.add_argument("--port", type=int, default=VIRTUAL_PORTS[0], choices=VIRTUAL_PORTS)
    parser.add_argument("--no-pcsc", action="store_true", help="in-process only")
    args = parser.parse_args()
    ks = DevelopmentKeyStore()
    trust = TrustStore([ks.signer("root").certificate_der])

    holder: dict[str, VirtualCard] = {}

    def new_in_process() -> None:
        holder["card"] = blank(ks)

    results = {
        "in-process": run_flows(
            lambda: InProcessConnection(holder["card"]),
            new_in_process,
            ks,
            trust,
            args.count,
            args.count,
        )
    }
    if not args.no_pcsc:
        pcscd = Pcscd()
        pcscd.ensure()
        reader = VIRTUAL_READERS[VIRTUAL_PORTS.index(args.port)]
        bridge = VpcdBridge(blank(ks), port=args.port)
        bridge.start()
        connections: list[PcscConnection] = []

        def swap(card: VirtualCard) -> None:
            """Take the served card out and put a fresh blank one in the reader."""
            for old in connections:
                old.close()
            connections.clear()
            bridge.remove()
            bridge.wait_disconnected(5.0)
            bridge.card = card  # connect_served() puts it back in the field

        def connect() -> Connection:
            for old in connections:
                old.close()
            connections[:] = [connect_served(bridge, reader)]
            return connections[0]

        try:
            if not bridge.wait_connected(5.0):
                raise SystemExit("the virtual card could not reach vpcd")
            results["pcscd + vpcd"] = run_flows(
                connect, lambda: swap(blank(ks)), ks, trust, args.count, 1
            )
        finally:
            for old in connections:
                old.close()
            bridge.stop()
            pcscd.stop()

    header = (
        f"{'flow':34} {'path':13} {'round trips':>11} {'bytes out':>9} {'bytes in':>8} "
        f"{'median ms':>9}   {'ICAO 9303':>9} {'Calypso':>10}"
    )
    print(header)
    print("-" * len(header))
    for path, flows in results.items():
        for name, flow in flows.items():
            icao, calypso = PEERS[name]
            print(
                f"{name:34} {path:13} {flow.round_trips:>11} {flow.sent:>9} "
                f"{flow.received:>8} {statistics.median(flow.times_ms):>9.2f}   "
                f"{icao:>9} {calypso:>10}"
            )
    print(
        "\nRound trips with short APDUs (255/256 bytes); a contactless reader adds 5-30 ms "
        "per round trip on top of the host time shown."
    )


if __name__ == "__main__":
    main()
