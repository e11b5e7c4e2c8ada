"""The merchant till's operations on top of cardkit, without Qt: the one adapter between the
till window and the library (sessions, the wallet terminal, the journal, readers, SAMs).

Everything the window shows comes from here as plain data: :class:`TillStatus` (reader, SAM,
hotlist age, clock), :class:`CardView` (the card's purses by programme) and
:class:`SaleResult` (PAID / NOT CHARGED / TAP AGAIN with a :class:`Problem` code the window
translates, never a library sentence). A tap of a payment is:

1. :meth:`Till.begin` -- SELECT; the purses to choose from (index, programme) come from the
   FCI's purse directory (applet 1.1, docs/PROTOCOL.md s4.1). A 1.0 card has none: its purses
   are read with READ PURSES (one round trip more). An interrupted payment of this card is
   resolved first, with the library's own recovery (one DEBIT INIT more);
2. :meth:`Till.pay` -- :meth:`cardkit.wallet.PaymentTerminal.pay` on the card opened in
   step 1 (``card=``): DEBIT INIT + DEBIT, no second SELECT.

A payment is 3 round trips on a 1.1 card (the library's SELECT + 2), 4 on a 1.0 card.

The directory is not authenticated, so it only names the purses: the till pays only when
DEBIT INIT's answer (under the card cryptogram the SAM checks) shows the programme the
customer chose, and what it says about a purse -- balance, caps, expiry, "how much is left"
-- comes from that answer. An amount the purse cannot pay is refused before DEBIT (no SAM
counter spent), and the "left" it shows is the answer's, once the SAM has checked its
cryptogram (AUTHORISE BLOCK: no counter, no ceiling; its MAC is never sent).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardkit.codecs.rules import purse_debit_refusal
from cardkit.codecs.sam import SamIdentity
from cardkit.codecs.wallet import (
    InitResponse,
    PurseRecord,
    TransactionType,
    date_to_int,
    int_to_date,
)
from cardkit.errors import (
    ApplicationNotAvailableError,
    BadResponseError,
    CardkitError,
    CryptoError,
    NoReaderError,
    TransportError,
)
from cardkit.keystore import KeyStore
from cardkit.pki import CITY_TIMEZONE, Hotlist, TrustStore
from cardkit.ssn import LifeCycle
from cardkit.ssn.beneficiary import PROGRAMMES
from cardkit.ssn.fci import DirectoryEntry, PurseDirectoryError
from cardkit.transport.base import Connection, CountingConnection
from cardkit.transport.pcsc import (
    Buzzer,
    NotSupportedError,
    PcscConnection,
    list_readers,
    wait_for_card,
    wait_for_removal,
)
from cardkit.wallet import Outcome, PaymentResult, PaymentTerminal, Resolution, WalletCard
from cardkit.wallet.card import PurseNotFoundError
from cardkit.wallet.journal import BatchInfo, MerchantJournal
from cardkit.wallet.sam import CardSam, Sam

logger = logging.getLogger(__name__)

#: Programme code on the card -> its name (the codes of cardkit.ssn.beneficiary).
PROGRAMME_NAMES = {code: name for name, code in PROGRAMMES.items()}
#: The earliest date a till can be running on: a clock before it is obviously wrong.
EARLIEST_PLAUSIBLE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
#: How far a clock may lag behind the newest time the till has already seen.
CLOCK_SLACK = dt.timedelta(hours=1)


class Verdict(enum.StrEnum):
    """What the big result panel says."""

    PAID = "paid"
    REFUNDED = "refunded"
    NOT_CHARGED = "not charged"
    TAP_AGAIN = "tap again"


class Problem(enum.StrEnum):
    """Why a sale is not (or not yet) paid; the window turns each into one sentence."""

    NONE = "none"
    NO_READER = "no reader"
    CARD_PULLED = "card pulled"
    OTHER_SYSTEM = "other system"
    BLOCKED = "blocked"  #: the card is blocked (now, or already was)
    HOTLISTED = "hotlisted"  #: on the hotlist, could not be blocked
    NOT_ISSUED = "not issued"
    NO_PURSE = "no purse"
    #: the card's purse directory (FCI) did not match the card: a relay, or a broken card
    WRONG_PURSE = "wrong purse"
    EXPIRED = "expired"
    OVER_BALANCE = "over balance"
    OVER_PAYMENT_CAP = "over payment cap"
    OVER_OFFLINE_CAP = "over offline cap"
    NO_SAM = "no sam"
    SAM_CEILING = "sam ceiling"
    SAM_REFUSED = "sam refused"
    NOT_GENUINE = "not genuine"
    UNRESOLVED = "unresolved"  #: an earlier interrupted payment cannot be resolved here
    CLOCK_WRONG = "clock wrong"
    NOTHING_TO_UNDO = "nothing to undo"
    CANNOT_UNDO = "cannot undo"
    OTHER = "other"


@dataclass(frozen=True)
class PurseView:
    """One purse as the chooser shows it; ``problem`` is why it cannot pay the amount.

    From the FCI's purse directory (applet 1.1) only index and programme are known
    (``balance`` etc. None): DEBIT INIT tells the rest when the customer has chosen.
    """

    index: int
    programme: str
    balance: int | None
    payment_cap: int | None
    expiry: dt.date | None
    problem: Problem = Problem.NONE
    left: int = 0  #: the most this purse could pay now (balance, caps and offline cap)
    code: int | None = None  #: the programme code the card listed for this purse

    @property
    def can_pay(self) -> bool:
        return self.problem is Problem.NONE


@dataclass(frozen=True)
class CardView:
    """The card on the reader: its serial and purses, and what this tap resolved."""

    serial: bytes
    purses: tuple[PurseView, ...]
    recovered: tuple[Resolution, ...] = ()
    from_directory: bool = False  #: the purses come from the FCI (1.1), not READ PURSES

    @property
    def payable(self) -> tuple[PurseView, ...]:
        return tuple(p for p in self.purses if p.can_pay)


@dataclass(frozen=True)
class SaleResult:
    """The answer of one tap: what the result panel shows."""

    verdict: Verdict
    problem: Problem = Problem.NONE
    amount: int = 0
    balance: int | None = None  #: the purse's new balance, when known
    left: int | None = None  #: when refused for the amount: the most the card can pay
    programme: str = ""
    serial: bytes | None = None
    recovered: tuple[Resolution, ...] = ()
    detail: str = ""  #: the library's own words (English), for the log and the details line
    round_trips: int = 0

    @property
    def recovered_paid(self) -> Resolution | None:
        """An earlier interrupted payment this tap found PAID (the sale is then done)."""
        return next((r for r in self.recovered if r.outcome is Outcome.PAID), None)


@dataclass(frozen=True)
class HotlistState:
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    stale: bool
    age_days: int


@dataclass(frozen=True)
class TillStatus:
    """Reader, SAM, hotlist and clock: the status bar, always in view."""

    reader: str | None  #: the card reader's full name, None when not plugged in
    sam_kind: str  #: "card", "software" or "missing"
    sam_reader: str | None
    sam_detail: str
    hotlist: HotlistState | None
    clock_ok: bool
    now: dt.datetime
    acr122: bool = False


@dataclass(frozen=True)
class DaySummary:
    """Today's sales from the journal (city date)."""

    sales: tuple[tuple[dt.datetime, int, str, int], ...]  #: (time, amount, kind, purse)
    debited: int
    undone: int
    count: int

    @property
    def net(self) -> int:
        return self.debited - self.undone


@dataclass
class TillConfig:
    """How the till is wired: readers, journal, keys.

    ``sam_reader`` None means the software SAM (pilots and tests only; it says so on screen),
    which needs the debit master in ``keystore``. ``card_reader`` None takes the first
    reader that is not the SAM's.
    """

    journal_path: Path
    card_reader: str | None = None
    sam_reader: str | None = None
    keystore: KeyStore | None = None
    trust_store: TrustStore | None = None
    sam_state: Path | None = None
    identity: SamIdentity = field(
        default_factory=lambda: SamIdentity(sam_id=1, merchant=1, terminal=1, ceiling=10_000_000)
    )
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    connect_timeout: float = 2.0
    #: how readers are listed and a card reached (PC/SC; a benchmark passes its own)
    readers: Callable[[], list[str]] = list_readers
    open_card: Callable[[str], Connection] | None = None


def rupiah_digits(value: int) -> str:
    """25000 -> "25.000" (Indonesian thousands separators)."""
    return f"{value:,}".replace(",", ".")


def programme_name(code: int) -> str:
    return PROGRAMME_NAMES.get(code, f"#{code}")


def _problem_of_rule(reason: str | None) -> Problem:
    if reason is None:
        return Problem.NONE
    if "expired" in reason:
        return Problem.EXPIRED
    if "per-payment" in reason:
        return Problem.OVER_PAYMENT_CAP
    if "balance" in reason:
        return Problem.OVER_BALANCE
    if "offline" in reason:
        return Problem.OVER_OFFLINE_CAP
    return Problem.OTHER


def _classify_reason(reason: str) -> Problem:
    """The library's NOT CHARGED sentence -> a problem code (the one place that reads it)."""
    text = reason.lower()
    table = (
        ("hotlist", Problem.BLOCKED if "blocked" in text else Problem.HOTLISTED),
        ("is blocked", Problem.BLOCKED),
        ("not issued", Problem.NOT_ISSUED),
        ("card left", Problem.CARD_PULLED),
        ("no card", Problem.CARD_PULLED),
        ("interrupted payment", Problem.UNRESOLVED),
        ("ceiling", Problem.SAM_CEILING),
        ("sam did not answer", Problem.NO_SAM),
        ("sam refused", Problem.SAM_REFUSED),
        ("not genuine", Problem.NOT_GENUINE),
        ("no such purse", Problem.NO_PURSE),
        ("no debit of this card", Problem.NOTHING_TO_UNDO),
        ("last transaction is not", Problem.CANNOT_UNDO),
    )
    for needle, problem in table:
        if needle in text:
            return problem
    rule = _problem_of_rule(text)
    return Problem.OTHER if rule is Problem.NONE else rule


class TillCard(WalletCard):
    """The customer's card as the till opens it (one SELECT): keeps the newest DEBIT INIT
    answer and its nonce, and, while a chosen purse is set (:meth:`expect`), refuses to go
    on when DEBIT INIT's purse record (the part CC covers) is not the programme chosen --
    before the SAM is asked, so nothing is authorised on a purse the customer did not pick.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.expected: tuple[int, int] | None = None  #: (purse index, programme code)
        self.last_init: tuple[InitResponse, bytes] | None = None
        self.mismatch = ""  #: why the card's purse was not the one chosen ('' if it was)

    def expect(self, index: int, programme: int | None) -> None:
        self.expected = None if programme is None else (index, programme)
        self.last_init = None
        self.mismatch = ""

    def debit_init(self, purse: int, terminal_nonce: bytes) -> InitResponse:
        init = super().debit_init(purse, terminal_nonce)
        self.last_init = (init, terminal_nonce)
        if self.expected is not None and self.expected[0] == purse:
            if init.purse.programme != self.expected[1]:
                self.mismatch = (
                    f"purse {purse} holds programme {init.purse.programme}, not "
                    f"{self.expected[1]} as the card's purse directory said"
                )
                raise PurseNotFoundError(b"", 0x6A88, self.mismatch)
        return init


def _left_of(init: InitResponse, date: int) -> int:
    """The most the purse of this DEBIT INIT answer can pay on ``date``."""
    p = init.purse
    if date > p.expiry:
        return 0
    return max(0, min(p.balance, p.payment_cap, init.offline_cap - init.cumulative))


class Till:
    """The till's card, SAM and journal operations. Not thread-safe: one worker uses it."""

    def __init__(self, config: TillConfig) -> None:
        self.config = config
        config.journal_path.parent.mkdir(parents=True, exist_ok=True)
        self.journal = MerchantJournal(config.journal_path, clock=config.clock)
        self._sam: Sam | None = None
        self._sam_connection: Connection | None = None
        self._card: CountingConnection | None = None
        self._raw: Connection | None = None
        self._view: CardView | None = None
        self._wallet: TillCard | None = None  #: the card opened (SELECTed) in this tap
        self._amount = 0
        self._last_seen = self._newest_journal_time()

    # --- status ----------------------------------------------------------------------

    def _newest_journal_time(self) -> dt.datetime | None:
        receipts = self.journal.receipts()
        return max((r.recorded_at for r in receipts), default=None)

    def now(self) -> dt.datetime:
        return self.config.clock()

    def city_date(self) -> dt.date:
        return self.now().astimezone(CITY_TIMEZONE).date()

    def clock_ok(self) -> bool:
        """False when the laptop's clock is obviously wrong: before the till could exist,
        behind a time the journal already holds, or before the hotlist was signed."""
        now = self.now()
        if now < EARLIEST_PLAUSIBLE or now.year > 2099:
            return False
        if self._last_seen is not None and now < self._last_seen - CLOCK_SLACK:
            return False
        hotlist = self.journal.hotlist()
        return not (hotlist is not None and now < hotlist.issued_at - CLOCK_SLACK)

    def hotlist_state(self) -> HotlistState | None:
        hotlist: Hotlist | None = self.journal.hotlist()
        if hotlist is None:
            return None
        now = self.now()
        return HotlistState(
            hotlist.sequence,
            hotlist.issued_at,
            hotlist.next_update,
            stale=now >= hotlist.next_update,
            age_days=max(0, (now - hotlist.issued_at).days),
        )

    def card_reader(self) -> str | None:
        """The card reader's full name, or None when it is not plugged in (or no pcscd)."""
        try:
            readers = self.config.readers()
        except TransportError:
            return None
        wanted = self.config.card_reader
        if wanted is not None:
            found = [r for r in readers if wanted.lower() in r.lower() or r == wanted]
            return found[0] if found else None
        sam = (self.config.sam_reader or "\0").lower()
        others = [r for r in readers if sam not in r.lower()]
        return others[0] if others else None

    def status(self) -> TillStatus:
        reader = self.card_reader()
        sam_kind, sam_detail = self._sam_status()
        return TillStatus(
            reader=reader,
            sam_kind=sam_kind,
            sam_reader=self.config.sam_reader,
            sam_detail=sam_detail,
            hotlist=self.hotlist_state(),
            clock_ok=self.clock_ok(),
            now=self.now(),
            acr122=reader is not None and "acr122" in reader.lower(),
        )

    # --- the SAM ---------------------------------------------------------------------

    def _open_sam(self) -> Sam:
        if self._sam is not None:
            return self._sam
        if self.config.sam_reader is None:
            self._sam = self._software_sam()
        else:
            connection = PcscConnection(
                self.config.sam_reader, exclusive=True, timeout=self.config.connect_timeout
            )
            try:
                self._sam = CardSam(connection)
            except BaseException:
                connection.close()
                raise
            self._sam_connection = connection
        return self._sam

    def _software_sam(self) -> Sam:
        from cardkit.wallet.sam import PersistentSoftwareSam, software_sam_transport_key

        store = self.config.keystore
        if store is None:
            raise CardkitError("the software SAM needs a key store with the debit master")
        transport = software_sam_transport_key(store)
        state = self.config.sam_state or self.config.journal_path.parent / "software-sam.json"
        return PersistentSoftwareSam(store, Path(state), self.config.identity, transport)

    def _drop_sam(self) -> None:
        if self._sam_connection is not None:
            self._sam_connection.close()
        self._sam = self._sam_connection = None

    def _sam_status(self) -> tuple[str, str]:
        try:
            sam = self._open_sam()
            info = sam.info()
        except CardkitError as exc:
            self._drop_sam()
            return "missing", str(exc)
        kind = "software" if getattr(info, "software", False) else "card"
        return kind, f"SAM {info.identity.sam_id} / merchant {info.identity.merchant}"

    # --- waiting for a card ----------------------------------------------------------

    def wait_for_card(self, timeout: float) -> bool:
        """True when a card is on the card reader within ``timeout`` s; raises
        :class:`NoReaderError` when the reader is not plugged in."""
        reader = self.card_reader()
        if reader is None:
            raise NoReaderError("the card reader is not plugged in")
        try:
            wait_for_card(reader, timeout)
            return True
        except NoReaderError:
            raise
        except TransportError:
            return False

    def wait_for_removal(self, timeout: float) -> bool:
        reader = self.card_reader()
        if reader is None:
            return True
        try:
            wait_for_removal(reader, timeout)
            return True
        except TransportError:
            return False

    # --- one tap ---------------------------------------------------------------------

    def _terminal(self, sam: Sam | None = None) -> PaymentTerminal:
        assert self._card is not None
        return PaymentTerminal(
            self._card,
            sam if sam is not None else self._open_sam(),
            self.journal,
            clock=self.city_date,
        )

    def _connect(self) -> None:
        self.release()
        reader = self.card_reader()
        if reader is None:
            raise NoReaderError("the card reader is not plugged in")
        if self.config.open_card is not None:
            self._raw = self.config.open_card(reader)
        else:
            self._raw = PcscConnection(reader, exclusive=True, timeout=self.config.connect_timeout)
        self._card = CountingConnection(self._raw)

    @property
    def round_trips(self) -> int:
        return self._card.count if self._card is not None else 0

    def _refused(self, problem: Problem, detail: str = "", **kwargs: Any) -> SaleResult:
        return SaleResult(
            Verdict.NOT_CHARGED,
            problem,
            amount=self._amount,
            detail=detail,
            round_trips=self.round_trips,
            **kwargs,
        )

    def begin(self, amount: int) -> CardView | SaleResult:
        """Connect to the card on the reader and read it for a payment of ``amount``.

        Answers the card's purses (the caller then picks one and calls :meth:`pay`), or a
        final :class:`SaleResult` (refused, blocked, or an earlier payment recovered PAID).
        """
        self._amount = amount
        if not self.clock_ok():
            return self._refused(Problem.CLOCK_WRONG)
        try:
            self._connect()
        except NoReaderError as exc:
            return self._refused(Problem.NO_READER, str(exc))
        except TransportError as exc:
            return self._refused(Problem.CARD_PULLED, str(exc))
        try:
            return self._read(amount)
        except PurseDirectoryError as exc:
            return self._refused(Problem.WRONG_PURSE, str(exc))
        except (ApplicationNotAvailableError, BadResponseError) as exc:
            return self._refused(Problem.OTHER_SYSTEM, str(exc))
        except TransportError as exc:
            return self._refused(Problem.CARD_PULLED, str(exc))
        except CardkitError as exc:
            if "SAM" in str(exc) or isinstance(exc, NoReaderError):
                self._drop_sam()
                return self._refused(Problem.NO_SAM, str(exc))
            return self._refused(_classify_reason(str(exc)), str(exc))

    def _read(self, amount: int) -> CardView | SaleResult:
        assert self._card is not None
        wallet = TillCard(self._card)  # SELECT, the tap's only one
        self._wallet = wallet
        session = wallet.session
        serial = session.serial
        if self.journal.is_hotlisted(serial):
            # The library refuses it and blocks it on the card (SAM AUTHORISE BLOCK + BLOCK).
            return self._result(self._terminal().pay(0, amount, card=wallet))
        if session.state is LifeCycle.BLOCKED:
            return self._refused(Problem.BLOCKED, serial=serial)
        if session.state is not LifeCycle.ISSUED:
            return self._refused(Problem.NOT_ISSUED, session.state.name, serial=serial)
        recovered: tuple[Resolution, ...] = ()
        if any(p.serial == serial for p in self.journal.unresolved()):
            try:
                recovered = self._terminal().recover(card=wallet)  # DEBIT INIT
            except CardkitError as exc:
                if isinstance(exc, TransportError):
                    raise
                return self._refused(Problem.UNRESOLVED, str(exc), serial=serial)
            paid = next((r for r in recovered if r.outcome is Outcome.PAID), None)
            if paid is not None:
                # The interrupted payment went through: this sale is done, never charge twice.
                return SaleResult(
                    Verdict.PAID,
                    amount=paid.amount,
                    balance=paid.receipt.entry.balance if paid.receipt else None,
                    programme=self._programme_of(paid),
                    serial=serial,
                    recovered=recovered,
                    round_trips=self.round_trips,
                )
        directory = wallet.session.info.purses
        if directory is not None:  # applet 1.1: choose from the FCI, no READ PURSES
            return self._directory_view(serial, directory, recovered)
        status = wallet.status()  # READ PURSES (a 1.0 card)
        date = date_to_int(self.city_date())
        offline_left = max(0, status.offline_cap - status.cumulative)
        purses = tuple(self._purse_view(p, status.cumulative, status.offline_cap, offline_left,
                                        amount, date) for p in status.purses)  # fmt: skip
        self._view = CardView(serial, purses, recovered)
        if not purses:
            return self._refused(Problem.NO_PURSE, serial=serial, recovered=recovered)
        if not self._view.payable:
            best = max(purses, key=lambda p: (p.left, -list(Problem).index(p.problem)))
            return self._refused(
                best.problem,
                left=best.left,
                balance=best.balance,
                programme=best.programme,
                serial=serial,
                recovered=recovered,
            )
        return self._view

    def _directory_view(
        self,
        serial: bytes,
        directory: tuple[DirectoryEntry, ...],
        recovered: tuple[Resolution, ...],
    ) -> CardView | SaleResult:
        purses = tuple(
            PurseView(e.index, programme_name(e.programme), None, None, None, code=e.programme)
            for e in directory
        )
        self._view = CardView(serial, purses, recovered, from_directory=True)
        if not purses:
            return self._refused(Problem.NO_PURSE, serial=serial, recovered=recovered)
        return self._view

    @staticmethod
    def _programme_of(resolution: Resolution) -> str:
        return f"#{resolution.receipt.entry.purse}" if resolution.receipt else ""

    @staticmethod
    def _purse_view(
        p: PurseRecord, cumulative: int, offline_cap: int, offline_left: int, amount: int, date: int
    ) -> PurseView:
        reason = purse_debit_refusal(p, cumulative, offline_cap, amount, date)
        expired = date > p.expiry
        left = 0 if expired else min(p.balance, p.payment_cap, offline_left)
        return PurseView(
            p.index,
            programme_name(p.programme),
            p.balance,
            p.payment_cap,
            int_to_date(p.expiry),
            _problem_of_rule(reason),
            left,
            p.programme,
        )

    def pay(self, purse: int) -> SaleResult:
        """Charge the amount of :meth:`begin` to ``purse`` on the card :meth:`begin` opened
        (DEBIT INIT + DEBIT: the library's payment without its SELECT)."""
        wallet, view = self._wallet, self._view
        if self._card is None or wallet is None or view is None:
            return self._refused(Problem.CARD_PULLED, "no card connected")
        chosen = next((p for p in view.purses if p.index == purse), None)
        if chosen is None:
            return self._refused(Problem.NO_PURSE, f"purse {purse} was not offered")
        try:
            terminal = self._terminal()
        except CardkitError as exc:
            self._drop_sam()
            return self._refused(Problem.NO_SAM, str(exc))
        wallet.expect(purse, chosen.code)
        try:
            result = terminal.pay(purse, self._amount, card=wallet)
        except CardkitError as exc:
            return self._refused(_classify_reason(str(exc)), str(exc))
        if wallet.mismatch:
            # DEBIT INIT showed another programme than the one chosen: nothing authorised
            return self._refused(
                Problem.WRONG_PURSE,
                wallet.mismatch,
                serial=wallet.serial,
                programme=chosen.programme,
            )
        if (
            view.from_directory
            and result.outcome is Outcome.NOT_CHARGED
            and _classify_reason(result.reason) is Problem.NO_PURSE
        ):
            # the directory listed a purse the card does not have
            return self._refused(
                Problem.WRONG_PURSE, result.reason, serial=wallet.serial, programme=chosen.programme
            )
        return self._result(result, purse)

    def _checked_left(self, purse: int | None) -> tuple[int | None, int | None, str]:
        """(left, balance, '') from this tap's DEBIT INIT answer on ``purse``, once the SAM
        has checked its cryptogram (AUTHORISE BLOCK: no counter, no ceiling; the MAC it makes
        is never sent); (None, None, why) when it cannot be shown."""
        wallet = self._wallet
        if wallet is None or wallet.last_init is None:
            return None, None, "no DEBIT INIT answer"
        init, nt = wallet.last_init
        if init.purse.index != purse:
            return None, None, "the DEBIT INIT answer is of another purse"
        check = getattr(self._sam, "authorise_block", None)
        if check is None:
            return None, None, "this SAM cannot check the card's cryptogram"
        try:
            check(init, wallet.serial, nt)
        except CryptoError:
            return None, None, "not genuine"
        except CardkitError as exc:
            return None, None, f"the SAM could not check the card's cryptogram: {exc}"
        return _left_of(init, date_to_int(self.city_date())), init.purse.balance, ""

    def undo(self) -> SaleResult:
        """Reverse the card's last debit made here (the card on the reader)."""
        self._amount = 0
        if not self.clock_ok():
            return self._refused(Problem.CLOCK_WRONG)
        try:
            self._connect()
            terminal = self._terminal()
        except NoReaderError as exc:
            return self._refused(Problem.NO_READER, str(exc))
        except TransportError as exc:
            return self._refused(Problem.CARD_PULLED, str(exc))
        except CardkitError as exc:
            self._drop_sam()
            return self._refused(Problem.NO_SAM, str(exc))
        try:
            return self._result(terminal.undo())
        except (ApplicationNotAvailableError, BadResponseError) as exc:
            return self._refused(Problem.OTHER_SYSTEM, str(exc))
        except CardkitError as exc:
            return self._refused(_classify_reason(str(exc)), str(exc))

    def _result(self, result: PaymentResult, purse: int | None = None) -> SaleResult:
        programme = ""
        if self._view is not None and result.purse is not None:
            programme = next(
                (p.programme for p in self._view.purses if p.index == result.purse), ""
            )
        common: dict[str, Any] = {
            "amount": result.amount,
            "balance": result.balance,
            "programme": programme,
            "serial": result.serial,
            "recovered": result.recovered,
            "detail": result.reason,
            "round_trips": self.round_trips,
        }
        if result.outcome is Outcome.PAID:
            self._last_seen = max(self.now(), self._last_seen or self.now())
            refund = result.kind is TransactionType.UNDO
            return SaleResult(Verdict.REFUNDED if refund else Verdict.PAID, **common)
        if result.outcome is Outcome.INTERRUPTED:
            return SaleResult(Verdict.TAP_AGAIN, Problem.CARD_PULLED, **common)
        problem = _classify_reason(result.reason)
        left = None
        if problem in (Problem.OVER_BALANCE, Problem.OVER_PAYMENT_CAP, Problem.OVER_OFFLINE_CAP):
            left, balance, why = self._checked_left(purse)
            if why == "not genuine":
                problem = Problem.NOT_GENUINE
            elif why:
                common["detail"] = f"{result.reason} (how much is left not shown: {why})"
            if balance is not None:
                common["balance"] = balance
        return SaleResult(Verdict.NOT_CHARGED, problem, left=left, **common)

    def feedback(self, verdict: Verdict) -> None:
        """The reader's own LED and buzzer (ACR122U pseudo-APDU to the reader, not the card):
        green and one beep for paid, red blinking and two beeps otherwise."""
        raw = self._raw
        if not isinstance(raw, PcscConnection) or not raw.is_acr122:
            return
        try:
            if verdict in (Verdict.PAID, Verdict.REFUNDED):
                raw.led_buzzer(green=True, red=False, t1_ms=200, buzzer=Buzzer.DURING_T1)
            else:
                raw.led_buzzer(red=True, green=False, blink_red=True, t1_ms=100, t2_ms=100,
                               repeat=2, buzzer=Buzzer.DURING_T1)  # fmt: skip
        except (NotSupportedError, TransportError) as exc:
            logger.info("reader feedback failed: %s", exc)

    def release(self) -> None:
        """Let go of the card (end of a tap)."""
        if self._raw is not None:
            self._raw.close()
        self._raw = self._card = None
        self._view = self._wallet = None

    # --- the day, settlement and the hotlist -------------------------------------------

    def today(self) -> DaySummary:
        day = self.city_date()
        sales = []
        debited = undone = 0
        for r in self.journal.receipts():
            local = r.recorded_at.astimezone(CITY_TIMEZONE)
            if local.date() != day:
                continue
            e = r.receipt.entry
            kind = "undo" if e.type is TransactionType.UNDO else "sale"
            if e.type is TransactionType.UNDO:
                undone += e.amount
            elif e.type is TransactionType.DEBIT:
                debited += e.amount
            sales.append((local, e.amount, kind, e.purse))
        return DaySummary(tuple(reversed(sales)), debited, undone, len(sales))

    def last_sale(self) -> tuple[int, bytes] | None:
        """(amount, card serial) of the newest debit journaled here that is not undone."""
        for r in reversed(self.journal.receipts()):
            e = r.receipt.entry
            if e.type is TransactionType.DEBIT and not self.journal.undone_by(r.id):
                return e.amount, r.receipt.serial
            if e.type is TransactionType.UNDO:
                return None
        return None

    def export_batch(self, directory: Path) -> BatchInfo:
        """Every receipt not yet exported, as a SAM-signed batch file in ``directory``."""
        sam = self._open_sam()
        info = sam.info()
        stamp = self.now().strftime("%Y%m%dT%H%M%SZ")
        target = directory / f"batch-{info.serial.hex()}-{stamp}.cksb"
        return self.journal.export_batch(sam, target)  # type: ignore[arg-type]

    def import_hotlist(self, path: Path) -> HotlistState:
        """Verify a signed hotlist file against the trust store and make it current."""
        trust = self.config.trust_store
        if trust is None:
            raise CardkitError("no trust store to verify the hotlist with")
        self.journal.import_hotlist(path.read_bytes(), trust, at=self.now())
        state = self.hotlist_state()
        assert state is not None
        return state

    def close(self) -> None:
        self.release()
        self._drop_sam()
        self.journal.close()
