"""The merchant's offline payment terminal: debit, balance, history, undo, recovery.

::

    terminal = PaymentTerminal(connection, sam, journal)
    result = terminal.pay(purse=0, amount=25_000)      # SELECT + DEBIT INIT + DEBIT
    print(result.message())                            # "PAID ..." or "NOT CHARGED: ..."

    wallet = WalletCard(connection)                    # a till reads the card first (SELECT,
    purses = wallet.read_purses()                      # READ PURSES), then pays on it:
    terminal.pay(1, 5_000, card=wallet)               # DEBIT INIT + DEBIT, no second SELECT

The customer's card is on one connection, the merchant SAM (:class:`cardkit.wallet.sam.Sam`) on
its own. A payment costs the card three round trips: SELECT, DEBIT INIT, DEBIT.

Recovery (docs/WALLET.md): the pending debit is journaled **before** DEBIT is sent. If the
card leaves the field after that, :meth:`PaymentTerminal.pay` answers
:attr:`Outcome.INTERRUPTED` ("tap again"); the next operation on that card begins with
DEBIT INIT, whose last-transaction record tells for certain whether the money moved:

* it carries this SAM's id and counter and the pending TC -> **paid**: the SAM checks the
  card's confirmation (CONF) and the receipt is journaled;
* its TC is older than the pending one -> the debit never committed -> **not charged**
  (the new DEBIT INIT also closed the old session on the card, so it can never land later);
* its TC is newer (the card paid elsewhere since) -> the card's log decides.

A pending debit of another card blocks new payments (the journal refuses them) until that
card is tapped again: the terminal never debits twice and never forgets a debit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from ..codecs.rules import debit_refusal
from ..codecs.wallet import (
    WALLET_VERSION_1_1,
    DebitRequest,
    DebitResponse,
    InitResponse,
    LogEntry,
    Receipt,
    TransactionType,
    date_to_int,
)
from ..errors import CardkitError, CryptoError, TransportError
from ..pki import CITY_TIMEZONE, Hotlist
from ..ssn import LifeCycle
from ..ssn.beneficiary import PROGRAMMES
from ..transport.base import Connection, CountingConnection
from .card import (
    PurseNotFoundError,
    UnconfirmedValueError,
    WalletCard,
    WalletRefusedError,
    new_terminal_nonce,
)
from .journal import (
    CardHotlistedError,
    MerchantJournal,
    PendingDebit,
    UnresolvedDebitError,
)
from .results import History, Outcome, PaymentResult, Purses, Resolution
from .sam import Sam, SamCeilingError, SamKeyMissingError, SamRefusedError

logger = logging.getLogger(__name__)


class RecoveryError(CardkitError):
    """A pending debit could not be resolved on this tap (the card is not genuine, or its
    log no longer reaches back to it): it stays pending."""


class _NotCharged(Exception):
    """A step of a payment ends it before anything was charged; carries the answer."""

    def __init__(self, result: PaymentResult) -> None:
        super().__init__(result.reason)
        self.result = result


def city_today() -> dt.date:
    """Today's date in Samarinda (WITA), the date a debit carries."""
    return dt.datetime.now(dt.UTC).astimezone(CITY_TIMEZONE).date()


def _not_charged(
    reason: str,
    amount: int,
    *,
    purse: int | None = None,
    serial: bytes | None = None,
    recovered: tuple[Resolution, ...] = (),
) -> PaymentResult:
    return PaymentResult(
        Outcome.NOT_CHARGED, amount, purse, serial, reason=reason, recovered=recovered
    )


def _underlying(connection: Connection) -> Connection:
    """The connection under any counting wrappers."""
    while isinstance(connection, CountingConnection):
        connection = connection.inner
    return connection


class PaymentTerminal:
    """A merchant's till: one card connection, one SAM, one journal.

    ``card`` is the customer card's :class:`Connection`; each operation opens a
    :class:`WalletCard` on it (one SELECT).
    ``hotlist`` adds to the journal's verified hotlist (e.g. one just verified by the
    caller); ``clock`` returns the date bound into debits (default: today in WITA).
    """

    def __init__(
        self,
        card: Connection,
        sam: Sam,
        journal: MerchantJournal,
        *,
        hotlist: Hotlist | None = None,
        clock: Callable[[], dt.date] = city_today,
    ) -> None:
        self.connection = card
        self.sam = sam
        self.journal = journal
        self.hotlist = hotlist
        self.clock = clock
        self._sam_lost = False  # the SAM lost power: SELECT its applet again before use

    def _sam_ready(self) -> None:
        """Re-select a card SAM that lost power (its applet is no longer selected)."""
        if self._sam_lost:
            select = getattr(self.sam, "select", None)
            if select is not None:
                select()
            self._sam_lost = False

    # --- public operations -----------------------------------------------------------

    def pay(
        self, purse_or_programme: int | str, amount: int, *, card: WalletCard | None = None
    ) -> PaymentResult:
        """Debit ``amount`` rupiah from a purse (index 0..7) or a programme (``"PKH"``).

        Answers PAID (with the receipt), NOT_CHARGED (with the reason), or INTERRUPTED
        when the card left after DEBIT was sent (tap again: the next tap resolves it).
        A purse index costs 3 round trips; a programme name one more (READ PURSES).

        ``card``: a :class:`WalletCard` the caller already opened on this terminal's
        connection in this tap (e.g. to read its purses first); the payment then sends no
        SELECT of its own (DEBIT INIT + DEBIT: 2 round trips). The card's hotlist and
        life-cycle checks are made on it all the same, and every recovery step is the same:
        DEBIT INIT closes whatever session the card had open and carries the record that
        resolves an interrupted payment.
        """
        if not isinstance(amount, int) or amount < 1:
            return _not_charged("the amount must be a whole number of rupiah, at least 1", amount)
        try:
            wallet = (
                self._open_for_payment(amount) if card is None else self._check_open(card, amount)
            )
            # Another card's interrupted payment does not hold the till: it is resolved when
            # that card is tapped again (or by the back office from the batch), so a customer
            # who walks away never stops the shop.
            purse = self._choose_purse(wallet, purse_or_programme, amount)
            nt = new_terminal_nonce()
            init = self._open_debit(wallet, purse, nt, amount)
            recovered = self._resolve_before_paying(wallet, init, nt, purse, amount)
            date = date_to_int(self.clock())
            reason = debit_refusal(init, amount, date)
            if reason is not None:
                return _not_charged(
                    reason, amount, purse=purse, serial=wallet.serial, recovered=recovered
                )
            request = self._authorise_debit(wallet, init, nt, amount, date, recovered)
        except _NotCharged as stop:
            return stop.result
        return self._commit(wallet, init, request, recovered, undoes=None)

    def undo(self, amount: int | None = None) -> PaymentResult:
        """Reverse (part of) the card's last debit, if this terminal made it and nothing
        happened on the card since. ``amount`` defaults to the whole debit."""
        try:
            wallet = WalletCard(self.connection)
        except TransportError as exc:
            return _not_charged(f"no card ({exc})", amount or 0)
        serial = wallet.serial
        refusal = self._refuse_card(wallet)
        if refusal:
            return _not_charged(refusal, amount or 0, serial=serial)
        mine = [
            r for r in self.journal.history(serial) if r.receipt.entry.type is TransactionType.DEBIT
        ]
        if not mine:
            return _not_charged(
                "this terminal has no debit of this card to undo", amount or 0, serial=serial
            )
        last_mine = max(mine, key=lambda r: r.receipt.entry.ds)
        purse = last_mine.receipt.entry.purse
        nt = new_terminal_nonce()
        try:
            init = wallet.debit_init(purse, nt)
        except TransportError as exc:
            return _not_charged(f"the card left ({exc})", amount or 0, serial=serial)
        try:
            recovered = self._resolve(wallet, init, nt)
        except (RecoveryError, TransportError) as exc:
            return _not_charged(
                f"an interrupted payment of this card cannot be resolved: {exc}",
                amount or 0,
                purse=purse,
                serial=serial,
            )
        last = init.last.entry
        own = next(
            (r for r in mine if r.receipt.entry.ds == last.ds and r.receipt.entry.tc == last.tc),
            None,
        )
        if last.type is not TransactionType.DEBIT or own is None:
            return _not_charged(
                "the card's last transaction is not a debit of this "
                "terminal: only the last debit can be undone",
                amount or 0,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        undo_amount = last.amount if amount is None else amount
        if wallet.session.info.version < WALLET_VERSION_1_1:
            return _not_charged(
                "this card runs applet 1.0, which cannot prove which SAM made a debit: "
                "undo is refused on it (refund the customer another way and report it)",
                undo_amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        date = date_to_int(self.clock())
        try:
            request = self.sam.authorise_undo(init, serial, nt, undo_amount, date)
        except (SamRefusedError, SamKeyMissingError, SamCeilingError) as exc:
            return _not_charged(
                f"the SAM refused the undo: {exc}",
                undo_amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        except CryptoError:
            return _not_charged(
                "the card is not genuine (its cryptogram is wrong)",
                undo_amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        except TransportError as exc:
            self._sam_lost = True
            return _not_charged(
                f"the SAM did not answer ({exc})",
                undo_amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        return self._commit(wallet, init, request, recovered, undoes=own.id)

    def recover(self, *, card: WalletCard | None = None) -> tuple[Resolution, ...]:
        """Resolve any pending debit of the card on the reader (SELECT + DEBIT INIT when
        there is one, SELECT alone otherwise; without the SELECT when ``card`` is the
        :class:`WalletCard` already opened in this tap)."""
        return self._recover_session(card if card is not None else WalletCard(self.connection))

    def balance(self) -> Purses:
        """The card's purses and offline cumulative (SELECT + READ PURSES; a pending debit
        of this card is resolved first, with one DEBIT INIT)."""
        wallet = WalletCard(self.connection)
        recovered = self._recover_session(wallet)
        status = wallet.status()
        return Purses(
            wallet.serial,
            status.purses,
            status.cumulative,
            status.offline_cap,
            recovered=recovered,
        )

    def history(self) -> History:
        """The card's own transaction log, newest first (a pending debit is resolved first)."""
        wallet = WalletCard(self.connection)
        recovered = self._recover_session(wallet)
        return History(wallet.serial, wallet.log(), recovered=recovered)

    # --- steps of a payment (each ends it with _NotCharged when it must) ------------

    def _open_for_payment(self, amount: int) -> WalletCard:
        """SELECT the card, and refuse a hotlisted card or one not ISSUED."""
        try:
            wallet = WalletCard(self.connection)
        except TransportError as exc:
            raise _NotCharged(_not_charged(f"no card ({exc})", amount)) from exc
        refusal = self._refuse_card(wallet)
        if refusal:
            raise _NotCharged(_not_charged(refusal, amount, serial=wallet.serial))
        return wallet

    def _check_open(self, wallet: WalletCard, amount: int) -> WalletCard:
        """A card the caller opened in this tap: it must be on this terminal's connection
        (the card that pays is the card recovery reads); refuse a hotlisted card or one
        not ISSUED, as :meth:`_open_for_payment` does."""
        if _underlying(wallet.session.protocol.connection) is not _underlying(self.connection):
            raise ValueError("the card was opened on another connection than this terminal's")
        refusal = self._refuse_card(wallet)
        if refusal:
            raise _NotCharged(_not_charged(refusal, amount, serial=wallet.serial))
        return wallet

    def _choose_purse(self, wallet: WalletCard, purse_or_programme: int | str, amount: int) -> int:
        """The purse index to debit (a programme name costs one READ PURSES)."""
        try:
            return self._purse_index(wallet, purse_or_programme)
        except (LookupError, PurseNotFoundError) as exc:
            raise _NotCharged(_not_charged(str(exc), amount, serial=wallet.serial)) from exc
        except TransportError as exc:
            raise _NotCharged(
                _not_charged(f"the card left before paying ({exc})", amount, serial=wallet.serial)
            ) from exc

    def _open_debit(self, wallet: WalletCard, purse: int, nt: bytes, amount: int) -> InitResponse:
        """DEBIT INIT on ``purse``: the card's authenticated purse and last transaction."""
        try:
            return wallet.debit_init(purse, nt)
        except TransportError as exc:
            reason = f"the card left before paying ({exc})"
        except (WalletRefusedError, PurseNotFoundError) as exc:
            reason = f"the card refused: {exc}"
        raise _NotCharged(_not_charged(reason, amount, purse=purse, serial=wallet.serial))

    def _resolve_before_paying(
        self, wallet: WalletCard, init: InitResponse, nt: bytes, purse: int, amount: int
    ) -> tuple[Resolution, ...]:
        """Resolve this card's interrupted payments first; none may stay open."""
        try:
            return self._resolve(wallet, init, nt)
        except (RecoveryError, TransportError) as exc:
            raise _NotCharged(
                _not_charged(
                    f"an interrupted payment of this card cannot be resolved: {exc}",
                    amount,
                    purse=purse,
                    serial=wallet.serial,
                )
            ) from exc

    def _authorise_debit(
        self,
        wallet: WalletCard,
        init: InitResponse,
        nt: bytes,
        amount: int,
        date: int,
        recovered: tuple[Resolution, ...],
    ) -> DebitRequest:
        """The SAM checks the card's cryptogram, the purse rules and its ceiling."""
        try:
            return self.sam.authorise_debit(
                init, wallet.serial, nt, amount, date, card_version=wallet.session.info.version
            )
        except SamCeilingError:
            reason = "the SAM's ceiling is reached: settle with the back office first"
        except (SamRefusedError, SamKeyMissingError) as exc:
            reason = f"the SAM refused: {exc}"
        except CryptoError:
            reason = "the card is not genuine (its cryptogram is wrong)"
        except TransportError as exc:
            self._sam_lost = True
            reason = f"the SAM did not answer ({exc})"
        raise _NotCharged(
            _not_charged(
                reason, amount, purse=init.purse.index, serial=wallet.serial, recovered=recovered
            )
        )

    # --- steps -----------------------------------------------------------------------

    def _is_hotlisted(self, serial: bytes) -> bool:
        if self.hotlist is not None and self.hotlist.contains(serial):
            return True
        return self.journal.is_hotlisted(serial)

    def _refuse_card(self, wallet: WalletCard) -> str:
        """Why this card must not pay here ('' if it may). A hotlisted card is refused, and
        blocked on the card when the SAM can order it (SAM AUTHORISE BLOCK + BLOCK)."""
        serial = wallet.serial
        if self._is_hotlisted(serial):
            self.journal.record_refusal(serial, "hotlisted")
            logger.warning("refused hotlisted card %s", serial.hex().upper())
            # Try whatever the FCI says (a relay may fake its state byte); "blocked" is
            # recorded only on the card's BLOCKED MAC, never on a status word.
            if self._block(wallet):
                self.journal.record_refusal(serial, "blocked")
                return (
                    "the card is on the hotlist (reported lost, stolen or revoked): "
                    "it is now blocked"
                )
            return "the card is on the hotlist (reported lost, stolen or revoked)"
        if wallet.state is not LifeCycle.ISSUED:
            return f"the card is {wallet.state.name}, not ISSUED"
        return ""

    def _block(self, wallet: WalletCard) -> bool:
        """Make a hotlisted card block itself; True only when the card proved it (its
        BLOCKED MAC, checked against the SAM's expected value); False otherwise."""
        authorise_block = getattr(self.sam, "authorise_block", None)
        if authorise_block is None:
            return False
        try:
            purses = wallet.read_purses()
            if not purses:
                return False
            nt = new_terminal_nonce()
            init = wallet.debit_init(purses[0].index, nt)
            confirmed = wallet.block_confirmed(authorise_block(init, wallet.serial, nt))
        except (CardkitError, ValueError) as exc:
            logger.warning("could not block card %s: %s", wallet.serial.hex().upper(), exc)
            return False
        if not confirmed:
            logger.warning("block of card %s not confirmed by the card", wallet.serial.hex())
        return confirmed

    def _purse_index(self, wallet: WalletCard, purse_or_programme: int | str) -> int:
        if isinstance(purse_or_programme, int):
            return purse_or_programme
        key = purse_or_programme.strip()
        if key.isdigit():
            return int(key)
        code = PROGRAMMES.get(key.upper())
        if code is None:
            raise LookupError(f"unknown programme {purse_or_programme!r}")
        for record in wallet.read_purses():
            if record.programme == code:
                return record.index
        raise LookupError(f"the card has no {key.upper()} purse")

    def _commit(
        self,
        wallet: WalletCard,
        init: InitResponse,
        request: DebitRequest,
        recovered: tuple[Resolution, ...],
        *,
        undoes: int | None,
    ) -> PaymentResult:
        """Journal the pending debit/undo, send it, confirm it with the SAM, journal it."""
        serial = wallet.serial
        request_kind = TransactionType.UNDO if undoes is not None else TransactionType.DEBIT
        amount, purse = request.amount, request.purse
        try:
            pending_id = self.journal.record_request(serial, init, request, undoes=undoes)
        except CardHotlistedError:
            return _not_charged(
                "the card is on the hotlist",
                amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        except UnresolvedDebitError as exc:
            return _not_charged(
                f"an interrupted payment is not resolved yet ({exc})",
                amount,
                purse=purse,
                serial=serial,
                recovered=recovered,
            )
        try:
            response = wallet.undo(request) if undoes is not None else wallet.debit(request)
        except TransportError:
            # The card may or may not have committed: only it knows. Tap again.
            return PaymentResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                reason="the card left before the payment finished",
                recovered=recovered,
                kind=request_kind,
            )
        except UnconfirmedValueError as exc:
            # Any answer but the authenticated success -- a refusal's status word, 6Cxx,
            # an unreadable answer -- proves nothing: a relay can send it after the card
            # committed. A claimed refusal is checked at once against the card's next
            # DEBIT INIT (it is still on the reader); anything else is "tap again".
            logger.warning("DEBIT/UNDO of SC %d answered unclearly: %s", request.sam_counter, exc)
            if exc.claims_refusal:
                return self._settle_torn(wallet, request, recovered, request_kind, exc)
            return PaymentResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                reason=f"the card's answer could not be read ({exc})",
                recovered=recovered,
                kind=request_kind,
            )
        except CardkitError as exc:
            logger.error("DEBIT/UNDO of SC %d ended unclearly: %s", request.sam_counter, exc)
            return PaymentResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                reason=f"the card's answer could not be read ({exc})",
                recovered=recovered,
                kind=request_kind,
            )
        try:
            receipt = self.sam.confirm(request, response)
        except CardkitError as exc:
            self._sam_lost = isinstance(exc, TransportError)
            # The card says it committed, but its confirmation did not check out (or the
            # SAM left): keep it pending; the next tap reads the card's record again.
            logger.error("confirmation of SC %d failed: %s", request.sam_counter, exc)
            return PaymentResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                reason=f"the payment could not be confirmed ({exc})",
                recovered=recovered,
                kind=request_kind,
            )
        self.journal.resolve_paid(pending_id, receipt)
        return PaymentResult(
            Outcome.PAID,
            amount,
            purse,
            serial,
            receipt=receipt,
            balance=response.balance,
            recovered=recovered,
            kind=request_kind,
        )

    def _settle_torn(
        self,
        wallet: WalletCard,
        request: DebitRequest,
        recovered: tuple[Resolution, ...],
        kind: TransactionType,
        exc: CardkitError,
    ) -> PaymentResult:
        """A value command answered something other than its success: read the card's
        authenticated record now (one DEBIT INIT) and answer what it proves; "tap again"
        when it cannot be read or proves nothing yet."""
        amount, purse, serial = request.amount, request.purse, wallet.serial
        try:
            nt = new_terminal_nonce()
            init = wallet.debit_init(purse, nt)
            settled = self._resolve(wallet, init, nt)
        except CardkitError as again:
            return PaymentResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                reason=f"the card's answer could not be trusted ({exc}); checking it failed "
                f"({again}): tap the card again",
                recovered=recovered,
                kind=kind,
            )
        mine = next((r for r in settled if r.sam_counter == request.sam_counter), None)
        others = tuple(r for r in settled if r is not mine)
        if mine is not None and mine.outcome is Outcome.PAID and mine.receipt is not None:
            return PaymentResult(
                Outcome.PAID,
                amount,
                purse,
                serial,
                receipt=mine.receipt,
                balance=mine.receipt.entry.balance,
                reason=f"the card's answer was not its success ({exc}), but its "
                "authenticated record shows the payment",
                recovered=recovered + others,
                kind=kind,
            )
        if mine is not None and mine.outcome is Outcome.NOT_CHARGED:
            return _not_charged(
                f"the card did not take it (its answer: {exc}; its authenticated record "
                "confirms that nothing moved)",
                amount,
                purse=purse,
                serial=serial,
                recovered=recovered + others,
            )
        return PaymentResult(
            Outcome.INTERRUPTED,
            amount,
            purse,
            serial,
            reason=f"the card's answer could not be trusted ({exc}): tap the card again",
            recovered=recovered + settled,
            kind=kind,
        )

    def _recover_session(self, wallet: WalletCard) -> tuple[Resolution, ...]:
        pending = [p for p in self.journal.unresolved() if p.serial == wallet.serial]
        if not pending:
            return ()
        nt = new_terminal_nonce()
        init = wallet.debit_init(pending[0].purse, nt)
        return self._resolve(wallet, init, nt)

    def _resolve(self, wallet: WalletCard, init: InitResponse, nt: bytes) -> tuple[Resolution, ...]:
        """Resolve every pending transaction of this card from a fresh DEBIT INIT."""
        self._sam_ready()
        checked: list[bool] = []

        def fresh() -> None:
            # once per DEBIT INIT: the SAM checks CC (this card, this nonce, now)
            if not checked:
                self._check_authentic(wallet.serial, init, nt)
                checked.append(True)

        out = []
        for pending in self.journal.unresolved():
            if pending.serial == wallet.serial:
                out.append(self._resolve_one(wallet, init, pending, fresh))
        return tuple(out)

    def _check_authentic(self, serial: bytes, init: InitResponse, nt: bytes) -> None:
        """Have the SAM check the DEBIT INIT answer's cryptogram CC, which covers the
        card's last-transaction record and this tap's nonce: only then is the record the
        card's own, current word (a relay can rewrite or replay any unchecked answer).

        The check is the SAM's AUTHORISE BLOCK, which verifies CC and spends no counter
        and no ceiling; its BLOCK MAC is discarded (never sent: the session it is bound
        to ends with the card's next DEBIT INIT). RecoveryError when it cannot be done.
        """
        check = getattr(self.sam, "authorise_block", None)
        if check is None:
            raise RecoveryError(
                "this SAM cannot check the card's cryptogram, so the card's record cannot "
                "prove that nothing moved"
            )
        try:
            check(init, serial, nt)
        except CryptoError as exc:
            raise RecoveryError(
                "the card's DEBIT INIT answer is not authentic (its cryptogram is wrong: "
                "a relay, or not a genuine card)"
            ) from exc
        except TransportError as exc:
            self._sam_lost = True
            raise RecoveryError(f"the SAM did not answer ({exc})") from exc
        except CardkitError as exc:
            raise RecoveryError(f"the SAM could not check the card's cryptogram: {exc}") from exc

    def _resolve_one(
        self,
        wallet: WalletCard,
        init: InitResponse,
        pending: PendingDebit,
        fresh: Callable[[], None],
    ) -> Resolution:
        """One pending transaction against the card's MAC-protected last record.

        * the record is the pending transaction -> **paid** (its CONF checked by the SAM,
          or, when the SAM no longer holds that authorisation, the record checked under
          this tap's CC);
        * under a checked CC: the card's DS is still the one the pending transaction saw,
          or its one transaction since is another -> **not charged**;
        * the card transacted more than once since: its record cannot tell, and its log
          carries no MAC (a relay can delete an entry; 16 later payments rotate it out)
          -> **referred** to the back office, and the card may pay again.
        """
        last = init.last.entry
        if init.tc <= pending.tc:
            raise RecoveryError(
                f"the card's counter ({init.tc}) is not past the pending "
                f"debit's ({pending.tc}): a copy of an older card image, or a replayed answer?"
            )
        if last.tc == pending.tc and self._is_ours(last, pending):
            receipt, note = self._confirm_recovered(wallet.serial, init, pending, fresh)
            self.journal.resolve_paid(pending.id, receipt)
            return self._resolution(pending, Outcome.PAID, receipt, note)
        fresh()  # every verdict below believes the record: it must be the card's, now
        d0 = pending.ds_before
        if last.tc < pending.tc or (d0 is not None and last.ds == d0):
            # Nothing committed since the pending session opened, and this DEBIT INIT has
            # closed that session for good.
            self.journal.resolve_not_charged(pending.id)
            return self._resolution(
                pending, Outcome.NOT_CHARGED, None, "the card's last transaction predates it"
            )
        if d0 is not None and last.ds < d0:
            raise RecoveryError(
                f"the card's sequence ({last.ds}) went back past the pending debit's ({d0}): "
                "a copy of an older card image?"
            )
        if (d0 is not None and last.ds == d0 + 1) or last.tc == pending.tc:
            # Had the pending transaction committed it would carry DS d0 + 1 (or it would
            # be the one transaction of its own session): that place is another's.
            self.journal.resolve_not_charged(pending.id)
            return self._resolution(
                pending,
                Outcome.NOT_CHARGED,
                None,
                "the card's authenticated record shows another transaction in its place",
            )
        since = f" ({last.ds - d0} since)" if d0 is not None else ""
        reason = (
            f"the card has transacted since{since}: its authenticated record no longer "
            "reaches back to this transaction and its log carries no MAC, so nothing on the "
            "card proves whether it moved money; referred to the back office (the card's "
            f"receipts and DS {'' if d0 is None else d0 + 1} tell), the card is released"
        )
        self.journal.refer(pending.id, reason)
        return self._resolution(pending, Outcome.REFERRED, None, reason)

    @staticmethod
    def _is_ours(entry: LogEntry, pending: PendingDebit) -> bool:
        return (
            entry.type == pending.kind
            and entry.sam_id == pending.sam_id
            and entry.sam_counter == pending.sam_counter
            and entry.purse == pending.purse
            and entry.amount == pending.amount
        )

    def _confirm_recovered(
        self,
        serial: bytes,
        init: InitResponse,
        pending: PendingDebit,
        fresh: Callable[[], None],
    ) -> tuple[Receipt, str]:
        """The recovered record as a receipt, once it is shown to be the card's own word:
        the SAM checks its CONF, or (the SAM no longer holds the authorisation) this tap's
        CC, which covers the whole record, RM and CONF included."""
        e = init.last.entry
        # The SAM identifies the authorisation by its counter; AUTH is not needed again.
        request = DebitRequest(
            e.purse, e.amount, e.date, e.merchant, e.terminal, e.sam_id, e.sam_counter, bytes(8)
        )
        try:
            receipt = self.sam.confirm(request, DebitResponse.from_last(init.last))
        except CryptoError as exc:
            raise RecoveryError(
                "the card's record of the pending debit does not confirm: the card is not genuine"
            ) from exc
        except SamKeyMissingError:
            # The SAM keeps its newest authorisations only; the card's record, under this
            # tap's cryptogram, is proof enough (the back office checks its RM).
            fresh()
            receipt = Receipt(serial, init.kvn_debit, init.kvn_receipt, init.last)
            return receipt, (
                "recovered from the card's authenticated last transaction "
                f"(the SAM no longer holds authorisation SC {pending.sam_counter})"
            )
        return receipt, "recovered from the card's last transaction"

    @staticmethod
    def _resolution(
        pending: PendingDebit, outcome: Outcome, receipt: Receipt | None, note: str
    ) -> Resolution:
        logger.info(
            "pending %s of card %s SC %d resolved: %s (%s)",
            pending.kind.name,
            pending.serial.hex().upper(),
            pending.sam_counter,
            outcome.value,
            note,
        )
        return Resolution(
            pending.serial,
            pending.sam_counter,
            pending.kind,
            pending.amount,
            outcome,
            receipt,
            note,
        )


__all__ = ["PaymentTerminal", "RecoveryError", "city_today"]
