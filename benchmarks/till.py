"""The till's tap-to-result: host time of a payment in the till's own code path
(:class:`station.till.service.Till`: read the card, then pay), beside the card's round trips.

Run from the repository root::

    CARDKIT_ALLOW_DEV_KEYS=1 .venv/bin/python -m benchmarks.till [--count 100]

The card is the SSN applet in process (no pcscd), so host time is measurable apart from the
card's: the time inside the card's ``process`` is subtracted. The SAM is the software SAM
with its state persisted (fsync) as in a pilot till. Three rows: the till's tap on an applet
1.1 card (read: SELECT, the purses from the FCI's purse directory; then the library's payment
on that opened card, ``pay(card=...)``: DEBIT INIT + DEBIT, no second SELECT), the same on a
1.0 card (no directory: SELECT + READ PURSES, then the payment), and the library's
:meth:`cardkit.wallet.PaymentTerminal.pay` alone on the 1.1 card, SAM and journal. A till tap
is 3 round trips on 1.1 (the library's own 3: the till adds none), 4 on 1.0; its payment
step is 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from applets.card import VirtualCard
from applets.ssn import make_blank_ssn_card
from cardkit.ssn import PersonalisationPlan, SsnSession, card_scp03_keys, personalise, wallet_purses
from cardkit.ssn.beneficiary import find_beneficiary
from cardkit.transport.base import CountingConnection, InProcessConnection
from cardkit.wallet import Outcome, PaymentTerminal, WalletIssuer
from keys.dev import DevelopmentKeyStore
from station.till.service import CardView, Till, TillConfig, Verdict

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 6, 1)


class TimedCard:
    """A virtual card that adds up the time spent inside it (the card's share)."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.seconds = 0.0

    def power_on(self) -> bytes:
        return self.card.power_on()

    def process(self, apdu: bytes) -> bytes:
        start = time.perf_counter()
        try:
            return self.card.process(apdu)
        finally:
            self.seconds += time.perf_counter() - start


def make_card(
    keystore: DevelopmentKeyStore, applet_version: tuple[int, int] = (1, 1)
) -> VirtualCard:
    serial = bytes.fromhex("6472BE0C00000001" if applet_version >= (1, 1) else "6472BE0C00000010")
    card = make_blank_ssn_card(
        serial, card_scp03_keys(keystore, serial, 1), 1, applet_version=applet_version
    )
    household = find_beneficiary(ROOT / "tests" / "data" / "beneficiaries.csv", "3")
    common = dict(
        signer=keystore.signer("desk-01"), desk_id="desk-01", pin="4321", can="314159",
        not_before=TODAY,
    )  # fmt: skip
    base = PersonalisationPlan.prepare(household, **common)  # type: ignore[arg-type]
    plan = PersonalisationPlan.prepare(
        household,
        **common,  # type: ignore[arg-type]
        offline_cap=50_000_000,
        purses=wallet_purses(
            base.programmes, balance_cap=20_000_000, payment_cap=1_000_000,
            expiry=dt.date(2028, 12, 31),
        ),
    )  # fmt: skip
    personalise(SsnSession(InProcessConnection(card)), plan, keystore)
    desk = WalletIssuer(keystore, agency=1, desk=1, sequence=lambda: 1, clock=lambda: TODAY)
    desk.load(InProcessConnection(card), 0, 20_000_000)
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args(argv)
    keystore = DevelopmentKeyStore()
    cards = {"till tap (1.1)": TimedCard(make_card(keystore))}
    cards["till tap (1.0 card)"] = TimedCard(make_card(keystore, (1, 0)))
    on_reader = {"card": cards["till tap (1.1)"]}
    timed = on_reader["card"]
    with tempfile.TemporaryDirectory() as tmp:
        till = Till(
            TillConfig(
                journal_path=Path(tmp) / "journal.sqlite",
                card_reader="bench",
                keystore=keystore,
                readers=lambda: ["bench"],
                open_card=lambda _name: InProcessConnection(on_reader["card"]),
            )
        )
        rows = []
        trips: dict[str, set[int]] = {"till pay step": set()}
        for name, card in cards.items():
            on_reader["card"] = card
            trips[name] = set()
            host: list[float] = []
            for _ in range(args.count):
                card.seconds = 0.0
                start = time.perf_counter()
                view = till.begin(1)
                assert isinstance(view, CardView)
                read_trips = till.round_trips
                result = till.pay(view.payable[0].index)
                elapsed = time.perf_counter() - start
                assert result.verdict is Verdict.PAID, result
                trips[name].add(result.round_trips)
                trips["till pay step"].add(result.round_trips - read_trips)
                till.release()
                host.append(elapsed - card.seconds)
            rows.append((name, host, trips[name]))
        sam = till._open_sam()
        library: list[float] = []
        lib_trips: set[int] = set()
        for _ in range(args.count):
            timed.seconds = 0.0
            connection = CountingConnection(InProcessConnection(timed))
            start = time.perf_counter()
            paid = PaymentTerminal(connection, sam, till.journal, clock=till.city_date).pay(0, 1)
            elapsed = time.perf_counter() - start
            assert paid.outcome is Outcome.PAID
            lib_trips.add(connection.count)
            library.append(elapsed - timed.seconds)
        rows.append(("library pay() alone", library, lib_trips))
        till.close()
    print(f"{'path':<24} {'round trips':>11} {'host median ms':>15} {'host p95 ms':>12}")
    for name, samples, counts in rows:
        samples.sort()
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(
            f"{name:<24} {'/'.join(map(str, sorted(counts))):>11} "
            f"{statistics.median(samples) * 1000:>15.2f} {p95 * 1000:>12.2f}"
        )
    print(f"till pay step round trips: {'/'.join(map(str, sorted(trips['till pay step'])))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
