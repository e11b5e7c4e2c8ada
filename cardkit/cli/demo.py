"""``cardkit demo``: the whole story so far, on virtual cards through the real PC/SC stack.

A blank SSN card and a merchant SAM are served in the two virtual readers (pcscd + vpcd).
The card is issued to a demo household with the DEVELOPMENT key set, verified offline as a
terminal would, read with the PIN, loaded with programme funds, and used to pay at a shop
whose SAM sits in the second reader; a payment cut short by a card pulled from the field
is recovered on the next tap; the shop's receipts go to the back office as a SAM-signed
batch and are settled. Each step prints what it cost in APDU round trips.

Development and test tool: vpcd listens on all network interfaces; never run it on a
production machine.
"""

from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .base import CliError

if TYPE_CHECKING:
    from keys.software_store import SoftwareKeyStore
    from station.till.service import SaleResult

    from ..pki import TrustStore
    from ..ssn import DeskCertificateCache
    from ..ssn.beneficiary import Beneficiary
    from ..transport.base import CountingConnection
    from ..transport.pcsc import PcscConnection

DEMO_PIN = "1234"
DEMO_DESK = 101  # the city office's desk number (the simulated month uses others)
SAM_SERIAL = bytes.fromhex("53414D44454D4F01")  # "SAMDEMO" 01
LOAD = 300_000
PRICE = 25_000


#: The simulated month's programme codes (cardkit.backoffice.simulate.PROGRAMMES) as the
#: national programmes they stand for, so the demo card and the month share one report.
_SIMULATED_AS = {0x0101: 2, 0x0202: 1}  # BPNT, PKH


def _programme(code: int) -> tuple[str, str]:
    """Programme name and paying agency for the report."""
    from ..backoffice.report.ledger_facts import default_programme_names

    return default_programme_names(_SIMULATED_AS.get(code, code))


def _sale(result: SaleResult) -> str:
    """One line for a till result: PAID Rp 25.000 (balance Rp 275.000)."""
    text = f"{result.verdict.value.upper()} {_rp(result.amount)}"
    if result.balance is not None:
        text += f" (balance {_rp(result.balance)})"
    if result.problem.value != "none":
        text += f": {result.problem.value}"
    return text


def _mask(nik: str) -> str:
    return nik[:4] + "*" * 8 + nik[-4:]


def _rp(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where card images, the merchant journal and batches are kept.",
)
@click.option(
    "--allow-dev-keys",
    is_flag=True,
    help="Allow the DEVELOPMENT ONLY key set (or set CARDKIT_ALLOW_DEV_KEYS=1).",
)
def demo(workdir: Path, allow_dev_keys: bool) -> None:
    """Make, issue, verify, read, load and pay with a virtual card, through pcscd + vpcd."""
    from keys.dev import development_keystore

    from .ssn import ALLOW_DEV_ENV, BANNER

    if not (allow_dev_keys or os.environ.get(ALLOW_DEV_ENV) == "1"):
        raise CliError(
            f"the demo uses the DEVELOPMENT key set: pass --allow-dev-keys or set {ALLOW_DEV_ENV}=1"
        )
    keystore = development_keystore(allow=True)
    click.secho(BANNER, fg="red")
    story = _Demo(keystore, workdir)
    story.start_pcsc()
    story.make_cards()
    story.serve()
    try:
        story.register()
        story.issue()
        trust, cache = story.verify()
        story.read_identity(trust, cache)
        story.load()
        story.pay_and_recover()
        story.settle()
        story.report()
        story.summary()
        click.secho(
            "\nDone: registered, deduplicated, issued, verified, read, loaded, paid, recovered, "
            "settled and published, through pcscd.",
            fg="green",
        )
    finally:
        story.stop()


class _Demo:
    """The demo's state (key store, virtual cards, readers, journal) and its steps, in order."""

    def __init__(self, keystore: SoftwareKeyStore, workdir: Path) -> None:
        self.keystore = keystore
        self.serial = os.urandom(8)
        self.run_dir = workdir / f"run-{self.serial.hex().upper()}"
        self.run_dir.mkdir(parents=True)
        self.step = 0
        self.connections: dict[str, PcscConnection] = {}

    def say(self, text: str) -> None:
        """Announce the next numbered step."""
        self.step += 1
        click.secho(f"\n[{self.step}] {text}", bold=True)

    # --- setting up ------------------------------------------------------------------

    def start_pcsc(self) -> None:
        """pcscd with the vpcd driver (started here unless already running)."""
        from applets.pcscd import VIRTUAL_READERS, Pcscd

        self.pcscd = Pcscd()
        self.say("PC/SC: pcscd with the vpcd virtual reader driver")
        self.pcscd.ensure()
        click.echo(
            f"    readers: {', '.join(VIRTUAL_READERS)}"
            f" ({'started here' if self.pcscd.owned else 'already running'})"
        )

    def make_cards(self) -> None:
        """A blank SSN card from the card factory, and a merchant SAM from the back office."""
        from applets.card import VirtualCard
        from applets.sam import SamApplet
        from applets.ssn import make_blank_ssn_card
        from keys.ceremony import issue_sam

        from ..codecs.sam import SamIdentity
        from ..keystore import KeyFunction
        from ..ssn import card_scp03_keys
        from ..transport.base import InProcessConnection
        from ..wallet.sam import CardSam

        version = self.keystore.current_version(KeyFunction.CARD_MANAGEMENT)
        self.say("Card factory: a blank SSN card, secure-channel keys diversified for its serial")
        image = self.run_dir / "ssn.card"
        keys = card_scp03_keys(self.keystore, self.serial, version)
        self.card = make_blank_ssn_card(self.serial, keys, version, image_path=image)
        click.echo(f"    serial {self.serial.hex().upper()}, image {image}")

        self.say("Back office: a merchant SAM (serial, transport key, merchant id, debit master)")
        self.sam_card = VirtualCard(
            [SamApplet()], image_path=self.run_dir / "sam.card", name="merchant SAM"
        )
        identity = SamIdentity(sam_id=1, merchant=0x1001, terminal=1, ceiling=5_000_000)
        self.sam_identity = identity
        sam = CardSam(InProcessConnection(self.sam_card))
        kvn, kcv = issue_sam(self.keystore, sam, SAM_SERIAL, identity)
        click.echo(
            f"    SAM {SAM_SERIAL.hex().upper()} for merchant {identity.merchant:#06x}, "
            f"debit key v{kvn} (KCV {kcv.hex().upper()})"
        )

    def serve(self) -> None:
        """Put the card in the first virtual reader and the SAM in the second."""
        from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS
        from applets.vpcd import VpcdBridge

        self.card_bridge = VpcdBridge(self.card, port=VIRTUAL_PORTS[0])
        self.sam_bridge = VpcdBridge(self.sam_card, port=VIRTUAL_PORTS[1])
        self.card_bridge.start()
        self.sam_bridge.start()
        click.echo(f"    card in '{VIRTUAL_READERS[0]}', SAM in '{VIRTUAL_READERS[1]}'")

    def tap(self, which: str = "card") -> CountingConnection:
        """A new tap of the card (or the SAM): the previous connection to it is let go."""
        from applets.pcscd import VIRTUAL_READERS, connect_served

        from ..transport.base import CountingConnection

        bridge, reader = (
            (self.card_bridge, VIRTUAL_READERS[0])
            if which == "card"
            else (self.sam_bridge, VIRTUAL_READERS[1])
        )
        old = self.connections.pop(reader, None)
        if old is not None:
            old.close()
        self.connections[reader] = connect_served(bridge, reader)
        return CountingConnection(self.connections[reader])

    def stop(self) -> None:
        """Close every reader, take the cards out, stop pcscd if it was started here."""
        till = getattr(self, "till", None)
        if till is not None:
            till.close()
        for connection in self.connections.values():
            connection.close()
        for bridge in (getattr(self, "card_bridge", None), getattr(self, "sam_bridge", None)):
            if bridge is not None:
                bridge.stop()
        self.pcscd.stop()

    # --- the story -------------------------------------------------------------------

    def register(self) -> None:
        """Import the city's survey export, find every duplicate, let a clerk decide each."""
        from ..register import Register

        self.say("Register: import the city's survey export; validate it; find every duplicate")
        self.register_db = Register(f"sqlite:///{self.run_dir / 'register.sqlite'}")
        sample = resources.files("cardkit") / "data" / "beneficiaries-sample.csv"
        with resources.as_file(sample) as path:
            self.export_path = Path(path)
            result = self.register_db.import_file(path, source="dinsos", clerk="demo-clerk")
        report, found = result.report, result.detection
        click.echo(
            f"    {report.rows:,} rows: {report.accepted:,} kept, {report.rejected} refused with "
            f"a reason per line; {report.households_added:,} households ({result.seconds:.1f} s)"
        )
        if found is not None:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(found.by_kind.items()))
            click.echo(f"    {found.findings} findings queued for a clerk: {kinds}")
        self.say("Register: the clerk decides every finding (nothing is merged or dropped alone)")
        decided: dict[str, int] = {}
        for item in self.register_db.review_items():
            if item.person_b is not None:  # one person twice: keep the earlier record
                action, keep, reason = "same", item.person_a, None
            elif item.kind == "outside-city":  # residents move: the NIK's region is old
                action, keep, reason = "accept", None, None
            else:
                action, keep, reason = "reject", None, "survey to correct the record"
            self.register_db.decide(item.id, action, clerk="demo-clerk", keep=keep, reason=reason)
            decided[action] = decided.get(action, 0) + 1
        left = len(self.register_db.review_items())
        click.echo(
            "    decided: "
            + ", ".join(f"{n} {a}" for a, n in sorted(decided.items()))
            + f"; {left} open"
        )

    def _next_household(self) -> Beneficiary:
        """The first household of the export that may get a card now: an active head, a
        programme, no open review, no card yet."""
        from ..ssn.beneficiary import Beneficiary, read_beneficiaries

        for row in read_beneficiaries(self.export_path):
            if not isinstance(row, Beneficiary) or not row.programmes:
                continue
            kks = self.register_db.find(row.nik)
            if len(kks) != 1:
                continue
            view = self.register_db.household(kks[0])
            head = next((m for m in view.members if m.get("status") == "active"), None)
            if view.open_items or view.cards or head is None or head.get("nik") != row.nik:
                continue
            return row
        raise CliError("no household of the export may get a card")

    def issue(self) -> None:
        """The issuance desk's own code, headless: personalise, verify by reading back, print
        the card face, record the card in the register -- one pass, no number typed by hand."""
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the face is drawn by Qt
        from PySide6.QtGui import QGuiApplication

        from keys.audit import AuditLog
        from station.desk.cardface import PdfPrinter
        from station.desk.service import DeskService, LedgerBackOffice

        from ..backoffice import Ledger

        self._qt = QGuiApplication.instance() or QGuiApplication([])
        household = self._next_household()
        self.household = household
        self.ledger = ledger = Ledger(self.run_dir / "ledger.sqlite")
        desk = DeskService(
            self.register_db,
            self.keystore,
            LedgerBackOffice(lambda: ledger),
            AuditLog(self.run_dir / "desk-audit.jsonl"),
            desk_id="desk-01",
            desk_number=DEMO_DESK,
            workdir=self.run_dir / "desk",
            development=True,
        )
        desk.add_clerk("demo-clerk", "demo-clerk-password")
        desk.login("demo-clerk", "demo-clerk-password")
        self.say(
            f"Issuance desk: issue a card to {household.name} "
            f"(KK {_mask(household.kk)}, {household.kelurahan})"
        )
        printer = PdfPrinter(self.run_dir)
        steps: list[str] = []
        issued = desk.issue(
            self.tap(), household.kk, pin=DEMO_PIN, printer=printer, progress=steps.append
        )
        face = issued.face
        click.echo(
            f"    {' > '.join(steps)}: card {face.serial} ({issued.round_trips} round trips), "
            f"purses {', '.join(face.programmes) or 'none'}"
        )
        click.echo(f"    PIN {DEMO_PIN} (demo), CAN printed on the card: {face.can}")
        click.echo(
            f"    card face (CR80, both sides, QR of serial + check) printed to {printer.last}"
        )
        card = self.register_db.household(household.kk).cards[-1]
        click.echo(
            f"    recorded in the register: card {card.serial} {card.state} for this household"
        )

    def verify(self) -> tuple[TrustStore, DeskCertificateCache]:
        """A terminal verifies the card offline, twice (the second tap uses the cache)."""
        from ..pki import TrustStore
        from ..ssn import DeskCertificateCache, verify_card

        trust = TrustStore([self.keystore.signer("root").certificate_der])
        cache = DeskCertificateCache()
        self.say(
            "Terminal: verify the card offline (first card of this desk: reads its certificate)"
        )
        first = verify_card(self.tap(), trust, desk_cert_cache=cache)
        click.echo(f"    {first.verdict.name} in {first.round_trips} round trips")
        again = verify_card(self.tap(), trust, desk_cert_cache=cache)
        click.echo(
            f"    next tap: {again.verdict.name} in {again.round_trips} round trips, "
            "no personal data read"
        )
        if not again.genuine:
            raise CliError("; ".join(again.reasons))
        return trust, cache

    def read_identity(self, trust: TrustStore, cache: DeskCertificateCache) -> None:
        """A terminal reads the identity over the encrypted channel, with the PIN."""
        from ..ssn import read_identity

        self.say("Terminal: read the identity (encrypted channel to the card's own key + PIN)")
        reading = read_identity(self.tap(), trust, pin=DEMO_PIN, desk_cert_cache=cache)
        who = reading.identity
        click.echo(
            f"    {who.name}, NIK {_mask(who.nik)}, born {who.date_of_birth}, "
            f"{who.address.kelurahan} / {who.address.kecamatan} "
            f"({reading.round_trips} round trips)"
        )

    def load(self) -> None:
        """An agency loads programme funds into purse 0 under the issuer's load key."""
        from ..codecs.wallet import PurseConfig
        from ..wallet import LoadSequence, WalletCard, WalletIssuer

        # the back office learns the new card's purses and caps (as the desk wrote them)
        status = WalletCard(self.tap()).status()
        self.offline_cap = status.offline_cap
        self.purses = tuple(
            PurseConfig(p.index, p.programme, p.balance_cap, p.payment_cap, p.expiry)
            for p in status.purses
        )
        self.say(f"Agency (OPD): load {_rp(LOAD)} into purse 0 under the issuer's load key")
        issuer = WalletIssuer(
            self.keystore,
            agency=0x0701,
            desk=DEMO_DESK,
            sequence=LoadSequence(self.run_dir / "load-sequence"),
        )
        loaded = issuer.load(self.tap(), 0, LOAD, sync=True)
        if not loaded.receipt:
            raise CliError(f"the load failed: {loaded.reason}")
        self.loaded = loaded
        click.echo(
            f"    loaded, confirmed by the card under K_load: balance {_rp(loaded.balance or 0)}"
        )

    def pay_and_recover(self) -> None:
        """At the shop, through the till's own code (headless): a sale, then a sale cut short
        by a pulled card, resolved for certain on the re-tap."""
        from applets.pcscd import VIRTUAL_READERS, connect_served
        from station.till.service import CardView, Till, TillConfig

        for connection in self.connections.values():  # the till takes both readers for itself
            connection.close()
        self.connections.clear()
        self.till = till = Till(
            TillConfig(
                journal_path=self.run_dir / "journal.sqlite",
                card_reader=VIRTUAL_READERS[0],
                sam_reader=VIRTUAL_READERS[1],
                keystore=self.keystore,
                identity=self.sam_identity,
                open_card=lambda reader: connect_served(self.card_bridge, reader),
            )
        )
        self.say(f"Shop (the till): pay {_rp(PRICE)} offline (card on reader 1, SAM on reader 2)")
        view = till.begin(PRICE)
        if not isinstance(view, CardView):
            raise CliError(f"the till refused the card: {view.problem} {view.detail}")
        sale = till.pay(view.payable[0].index)
        till.release()
        click.echo(f"    {_sale(sale)} in {sale.round_trips} round trips on the card")

        self.say("Shop (the till): the card is pulled in the middle of the next payment")
        view = till.begin(PRICE)
        assert isinstance(view, CardView)
        self.card.faults.cut_at_write(2)  # power lost inside DEBIT's atomic commit
        torn = till.pay(view.payable[0].index)
        till.release()
        click.echo(f"    {_sale(torn)}")
        again = till.begin(PRICE)  # the re-tap
        for resolution in again.recovered:
            click.echo(
                f"    the card says the interrupted payment was "
                f"{resolution.outcome.name.replace('_', ' ').lower()}"
            )
        second = till.pay(again.payable[0].index) if isinstance(again, CardView) else again
        till.release()
        day = till.today()
        click.echo(
            f"    then: {_sale(second)}; today at this till: {day.count} sales, "
            f"{_rp(day.net)}; {len(till.journal.unresolved())} unresolved"
        )

    def settle(self) -> None:
        """The SAM signs the shop's batch; the back office checks every receipt MAC and books
        it against the card's shadow balance; a simulated city month settles beside it."""
        from ..audit import AuditLog
        from ..backoffice import read_batch, settle_batch
        from ..backoffice import simulate as sim
        from ..backoffice.hotlist import HotlistService
        from ..backoffice.payouts import run_payouts, write_payout_file

        self.say("Back office: the SAM signs the shop's batch; every receipt MAC is checked")
        info = self.till.export_batch(self.run_dir)
        assert info.path is not None
        batch_path = info.path
        ledger = self.ledger
        ledger.register_card(
            self.serial, offline_cap=self.offline_cap, region=self.household.kelurahan,
            purses=self.purses,
        )  # fmt: skip
        ledger.register_merchant(self.sam_identity.merchant, account="BANKKALTIM-00001001")
        ledger.register_sam(SAM_SERIAL, self.sam_identity)  # the ledger knows SAMs and loads
        if self.loaded.receipt is not None:
            ledger.record_load(self.loaded.receipt)
        report = settle_batch(read_batch(batch_path), self.keystore, self.keystore, seen=ledger)
        net = sum(v.receipt.entry.amount for v in report.accepted)
        click.echo(
            f"    batch #{info.sequence}: {info.receipts} receipts, "
            f"{len(report.accepted)} accepted ({_rp(net)}), {len(report.flagged)} flagged"
        )
        shadow = ledger.shadow_balance(self.serial)
        click.echo(f"    the card's shadow balance in the ledger: {_rp(shadow)}")

        self.say("Back office: a simulated city month settles beside it (with injected fraud)")
        # the four weeks up to yesterday, so the month and the demo card's day meet in one report
        start = dt.date.today() - dt.timedelta(days=sim.DAYS)
        self.month = month = sim.generate(
            cards=240, merchants=12, receipts=2_400, fraud=2, undo_fraud=1, start=start
        )
        sim.prepare(month, ledger, HotlistService(ledger, AuditLog(self.run_dir / "audit.jsonl")))
        self.month_report = sim.settle(month, ledger, group=8)
        injected = ", ".join(f"{len(v)} {k}" for k, v in sorted(month.injected.items()) if v)
        flags: dict[str, int] = {}
        for verdict in self.month_report.flagged:
            for flag in verdict.flags:
                flags[flag.value] = flags.get(flag.value, 0) + 1
        click.echo(
            f"    {month.receipts:,} receipts of {len(month.cards)} cards at {len(month.sams)} "
            f"shops; injected receipts: {injected}"
        )
        click.echo(
            "    flagged: "
            + ", ".join(f"{n} {f}" for f, n in sorted(flags.items()))
            + f"; both sides of each fork held for review; {len(self.month_report.gaps)} cards "
            "with a counter gap (withheld receipts)"
        )
        self.receipts_settled = len(report.receipts) + month.receipts
        self.receipts_flagged = len(report.flagged) + len(self.month_report.flagged)
        run = run_payouts(ledger)
        self.payout_file = write_payout_file(run, self.run_dir / "payouts")
        left = ledger.reconcile()
        click.echo(
            f"    payouts: {len(run.lines)} lines, {_rp(run.total)} to the bank "
            f"({self.payout_file.name}), {_rp(left.withheld)} withheld for undos a SAM "
            f"vouched for but no batch brought; rupiah unexplained: {_rp(left.unexplained)}"
        )

    def report(self) -> None:
        """The city publishes where the aid went, with no personal data."""
        import secrets

        from ..backoffice.report import build_report, household_pseudonym
        from ..backoffice.report.ledger_facts import HouseholdPlace, facts_from_ledger

        self.say("Back office: publish the transparency report (no personal data)")
        key = secrets.token_bytes(32)  # pseudonyms for this report alone
        places = {
            bytes.fromhex(serial): HouseholdPlace(household_pseudonym(key, kk), kec, kel)
            for serial, kk, kec, kel in self.register_db.card_places()
        }
        # the simulated month's cards belong to register households too (in export order)
        homes = [
            home
            for home in self.register_db.households_in_order(10_000)
            if home[0] != self.household.kk
        ]
        stride = max(1, len(homes) // max(1, len(self.month.cards)))  # spread over the city
        for card, (kk, kec, kel) in zip(self.month.cards, homes[::stride], strict=False):
            places[card.serial] = HouseholdPlace(household_pseudonym(key, kk), kec, kel)
        self.report_dir = self.run_dir / "report"
        facts = facts_from_ledger(self.ledger, households=places, programme_names=_programme)
        built = build_report(facts, self.report_dir)
        city = built.cube.get()
        s = built.suppression
        if city is not None and city.published:
            click.echo(
                f"    {_rp(city.loaded)} loaded, {_rp(city.spent)} spent, {_rp(city.paid_out)} "
                f"paid out; {city.households} households, {city.shops} shops"
            )
        click.echo(
            f"    {len(built.cube.cells):,} cells, {s.primary} hidden (< {s.threshold} "
            f"households) and {s.complementary} to protect them"
        )

    def summary(self) -> None:
        """What happened, in one table."""
        stats = self.register_db.stats()
        click.secho("\nWhat happened", bold=True)
        rows = [
            ("households in the register", f"{stats.get('households', 0):,}"),
            ("cards issued", f"{stats.get('cards', {}).get('active', 0):,} active"),
            ("the demo card's balance", _rp(self.ledger.shadow_balance(self.serial))),
            (
                "receipts settled",
                f"{self.receipts_settled:,} ({self.receipts_flagged:,} flagged for review)",
            ),
            ("payout file for the bank", str(self.payout_file)),
            ("transparency report", str(self.report_dir / "index.html")),
        ]
        for what, value in rows:
            click.echo(f"    {what:<28} {value}")
