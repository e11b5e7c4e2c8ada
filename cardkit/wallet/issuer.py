"""Issuer loads: credit a purse under the issuer's ``K_load`` (SELECT + DEBIT INIT + LOAD).

::

    issuer = WalletIssuer(keystore, agency=0x0701, desk=1, sequence=LoadSequence(path))
    result = issuer.load(connection, purse=0, amount=300_000, sync=True)

The per-card ``K_load`` is derived inside the key store (the master never leaves it), with
the same label and context the card was personalised with: ``kdf_label("load")`` and
``diversification_context(serial, SSN_AID, KVN load)``. ``sync=True`` sets LOAD flag ``01``:
the card resets its offline cumulative, so the holder may spend offline again up to the cap.
The issuer checks the card's answer (CONF under ``K_load``) before it counts a load as done.

Torn loads (docs/WALLET.md, "Recovery"): every load is journaled in the desk's
:class:`~cardkit.wallet.journal.LoadJournal` **before** LOAD is sent. Any answer but the
authenticated success (a lost answer, a status word -- which a relay can forge --, a
garbled body) leaves it pending; the card's next DEBIT INIT resolves it, at once when the
card is still there, else on the next tap (:meth:`WalletIssuer.load` again, or
:meth:`WalletIssuer.check`). While a card has a pending load the desk loads nothing more
onto it. "Loaded" is proven by the record's CONF under ``K_load``; "not loaded" only by the
card's record under a checked cryptogram (the desk's debit key, or a SAM): the DS the card
had when the load was prepared is still the card's, or the one transaction since is
another. The card's log (READ LOG) carries no MAC and is never evidence. When nothing
proves either way the load stays pending and says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codecs.ssn import SSN_AID
from ..codecs.wallet import (
    LOAD_FLAG_RESET_CUMULATIVE,
    MAX_U32,
    DebitResponse,
    InitResponse,
    LastTransaction,
    LoadRequest,
    LogEntry,
    Receipt,
    TransactionType,
    WalletSession,
    card_cryptogram,
    date_to_int,
    sign_load,
    verify_confirmation,
)
from ..crypto.diversify import diversification_context, kdf_label
from ..errors import ApduError, CardkitError, CryptoError, TransportError
from ..iso7816.sw import SW
from ..keystore import KeyFunction, KeyStore
from ..ssn import LifeCycle
from ..transport.base import Connection
from .card import (
    PurseNotFoundError,
    UnconfirmedValueError,
    WalletCard,
    WalletRefusedError,
    new_terminal_nonce,
)
from .journal import LoadJournal, PendingLoadRow, UnresolvedDebitError
from .results import Outcome
from .terminal import city_today


class LoadRefusedError(CardkitError):
    """The load would break a purse rule (balance cap), or the card is not ISSUED."""


class LoadSequence:
    """The issuing desk's load sequence numbers, persisted in a small file.

    The number is written (fsync) *before* it is used, so a crash can skip a number but
    never use one twice.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def current(self) -> int:
        try:
            return int(self.path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0

    def __call__(self) -> int:
        value = self.current() + 1
        if value > MAX_U32:
            raise LoadRefusedError("load sequence exhausted")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{value}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return value


@dataclass(frozen=True)
class PendingLoad:
    """A load sent to a card whose authenticated answer never came back (journaled)."""

    serial: bytes
    tc: int
    purse: int
    amount: int
    sequence: int
    ds_before: int | None = None  #: the card's DS when the load was prepared
    id: int | None = None  #: its row in the desk's :class:`LoadJournal`

    @classmethod
    def from_row(cls, row: PendingLoadRow) -> PendingLoad:
        return cls(row.serial, row.tc, row.purse, row.amount, row.sequence, row.ds_before, row.id)


@dataclass(frozen=True)
class LoadResult:
    """PAID here means "loaded": the receipt's CONF was checked under ``K_load``."""

    outcome: Outcome
    amount: int
    purse: int
    serial: bytes
    receipt: Receipt | None = None
    balance: int | None = None
    pending: PendingLoad | None = None  #: set when INTERRUPTED: pass it to check()
    reason: str = ""
    #: earlier torn loads of this card that this tap resolved (first, before anything else)
    recovered: tuple[LoadResult, ...] = ()


@dataclass(frozen=True)
class _Verdict:
    """What the card's record proves about one pending load (None: nothing yet)."""

    loaded: bool | None
    note: str
    receipt: Receipt | None = None


def _claimed_refusal(exc: UnconfirmedValueError, note: str) -> CardkitError:
    """The error a refusal status word claims, or None-like ApduError for the rest."""
    sw = exc.sw
    if sw in (SW.CONDITIONS_NOT_SATISFIED, SW.COMMAND_NOT_ALLOWED):
        return WalletRefusedError(exc.data, sw, f"LOAD refused by the card: {note}")
    if sw in (SW.SECURITY_STATUS_NOT_SATISFIED, SW.SM_DATA_INCORRECT):
        return CryptoError(f"LOAD: the card rejected the authorisation ({sw:04X}): {note}")
    if sw in (SW.INCORRECT_P1P2, SW.REFERENCED_DATA_NOT_FOUND, SW.RECORD_NOT_FOUND):
        return PurseNotFoundError(exc.data, sw, f"LOAD: no such purse: {note}")
    return ApduError(exc.data, sw, f"LOAD failed: {note}")


class WalletIssuer:
    """The issuer's side of the wallet: loads (credits) and offline-cap resets.

    ``pending`` is the desk's :class:`LoadJournal` (default: one in memory, for this
    process only -- a desk passes a file). ``sam``, when given, checks the card's
    cryptogram for a desk whose key store holds no debit master (AUTHORISE BLOCK, spends
    nothing): without either, the desk can prove a torn load landed, never that it did not.
    """

    def __init__(
        self,
        keystore: KeyStore,
        *,
        agency: int,
        desk: int,
        sequence: Callable[[], int],
        clock: Callable[[], dt.date] = city_today,
        pending: LoadJournal | None = None,
        sam: object | None = None,
    ) -> None:
        self.keystore = keystore
        self.agency = agency
        self.desk = desk
        self.sequence = sequence
        self.clock = clock
        self.pending = pending if pending is not None else LoadJournal(":memory:")
        self.sam = sam

    def _card_key(self, function: KeyFunction, serial: bytes, version: int) -> bytes:
        if version not in self.keystore.versions(function):
            raise CryptoError(f"the key store holds no {function.value} master v{version}")
        return self.keystore.derive(
            function,
            version,
            kdf_label(function.value),
            diversification_context(serial, SSN_AID, version),
        )

    def _check_cryptogram(self, serial: bytes, init: InitResponse, nt: bytes) -> bool:
        """Check CC (the store's debit master, else the SAM); False when neither can.
        CryptoError when it is wrong."""
        if init.kvn_debit in self.keystore.versions(KeyFunction.DEBIT):
            k_debit = self._card_key(KeyFunction.DEBIT, serial, init.kvn_debit)
            if not hmac.compare_digest(card_cryptogram(k_debit, serial, init.body(), nt), init.cc):
                raise CryptoError("the card's cryptogram is wrong: not a genuine card")
            return True
        check = getattr(self.sam, "authorise_block", None)
        if check is None:
            return False
        try:
            check(init, serial, nt)  # verifies CC; the BLOCK MAC is discarded, never sent
        except CryptoError:
            raise
        except CardkitError:
            return False
        return True

    def load(self, card: Connection, purse: int, amount: int, *, sync: bool = False) -> LoadResult:
        """Credit ``amount`` rupiah to ``purse``; ``sync`` also resets the offline cumulative
        (an amount of 0 with ``sync`` only resets it).

        A pending load of this card is resolved first, from this tap's DEBIT INIT: if it
        landed, nothing more is loaded (the re-run after "tap again" is answered with the
        recovered load); if it provably did not, this load goes ahead; if nothing proves
        either way, nothing is loaded and the reason says why (NOT_CHARGED, ``pending``).
        """
        wallet = WalletCard(card)
        if wallet.state is not LifeCycle.ISSUED:
            raise LoadRefusedError(f"the card is {wallet.state.name}, not ISSUED")
        serial = wallet.serial
        nt = new_terminal_nonce()
        init = wallet.debit_init(purse, nt)
        fresh = self._check_cryptogram(serial, init, nt)
        recovered: list[LoadResult] = []
        for row in self.pending.unresolved(serial):
            verdict = self._settle(serial, init, fresh, row)
            done = self._close(row, verdict, init)
            recovered.append(done)
            if verdict.loaded is None:
                return LoadResult(
                    Outcome.NOT_CHARGED,
                    amount,
                    purse,
                    serial,
                    pending=PendingLoad.from_row(row),
                    reason=f"not loaded: the earlier load of Rp {row.amount} (sequence "
                    f"{row.sequence}) to this card is still pending: {verdict.note}",
                    recovered=tuple(recovered),
                )
            if verdict.loaded:
                return LoadResult(
                    Outcome.PAID,
                    row.amount,
                    row.purse,
                    serial,
                    verdict.receipt,
                    done.balance,
                    reason=f"the interrupted load of Rp {row.amount} (sequence "
                    f"{row.sequence}) had reached the card: nothing loaded again",
                    recovered=tuple(recovered),
                )
        if amount < 0 or (amount == 0 and not sync):
            raise LoadRefusedError("the amount must be at least 1 rupiah (0 only with sync)")
        if init.purse.balance + amount > init.purse.balance_cap:
            raise LoadRefusedError(
                f"balance {init.purse.balance} + {amount} would pass the purse cap "
                f"{init.purse.balance_cap}"
            )
        k_load = self._card_key(KeyFunction.LOAD, serial, init.kvn_load)
        flags = LOAD_FLAG_RESET_CUMULATIVE if sync else 0
        date = date_to_int(self.clock())
        sequence = self.sequence()
        session_bytes = WalletSession.from_init(serial, init, nt)
        request = sign_load(
            k_load, session_bytes, flags, amount, date, self.agency, self.desk, sequence
        )
        try:
            row = self.pending.record(
                serial, init.tc, init.last.entry.ds, purse, amount, flags, sequence
            )
        except UnresolvedDebitError as exc:  # another desk process journaled one meanwhile
            raise LoadRefusedError(f"not loaded: {exc}") from exc
        result = self._send(wallet, init, request, k_load, row, tuple(recovered))
        return result

    def _send(
        self,
        wallet: WalletCard,
        init: InitResponse,
        request: LoadRequest,
        k_load: bytes,
        row: PendingLoadRow,
        recovered: tuple[LoadResult, ...],
    ) -> LoadResult:
        """Send the journaled LOAD once and resolve it from what the card proves."""
        serial, purse, amount = wallet.serial, row.purse, row.amount
        pending = PendingLoad.from_row(row)

        def interrupted(reason: str) -> LoadResult:
            return LoadResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                pending=pending,
                reason=reason,
                recovered=recovered,
            )

        try:
            response = wallet.load(request)
        except TransportError as exc:
            return interrupted(f"the card left during the load ({exc}): tap it again")
        except UnconfirmedValueError as exc:
            if exc.claims_refusal:  # a claim: checked at once against the card's record
                return self._settle_torn(wallet, row, exc, recovered)
            return interrupted(f"the card's answer could not be read ({exc}): tap it again")
        except CardkitError as exc:
            return interrupted(f"the card's answer could not be read ({exc}): tap it again")
        entry = LogEntry(
            TransactionType.LOAD,
            init.tc,
            response.ds,
            purse,
            amount,
            response.balance,
            request.date,
            self.agency,
            self.desk,
            0,
            row.sequence,
        )
        try:
            receipt = self._receipt(serial, init, entry, response, k_load)
        except CryptoError as exc:
            return interrupted(f"{exc}: tap the card again to check the load")
        self.pending.resolve(row.id, "loaded", "loaded", receipt)
        return LoadResult(
            Outcome.PAID, amount, purse, serial, receipt, response.balance, recovered=recovered
        )

    def _settle_torn(
        self,
        wallet: WalletCard,
        row: PendingLoadRow,
        exc: UnconfirmedValueError,
        recovered: tuple[LoadResult, ...],
    ) -> LoadResult:
        """LOAD answered something but its success: ask the card's record at once."""
        pending = PendingLoad.from_row(row)
        try:
            nt = new_terminal_nonce()
            init = wallet.debit_init(row.purse, nt)
            fresh = self._check_cryptogram(row.serial, init, nt)
            verdict = self._settle(row.serial, init, fresh, row)
        except CryptoError:
            raise
        except CardkitError as again:
            return LoadResult(
                Outcome.INTERRUPTED,
                row.amount,
                row.purse,
                row.serial,
                pending=pending,
                reason=f"the card's answer could not be trusted ({exc}); checking it failed "
                f"({again}): tap it again to check",
                recovered=recovered,
            )
        done = self._close(row, verdict, init)
        if verdict.loaded is True:
            return dataclasses.replace(done, recovered=recovered)
        if verdict.loaded is False:
            if exc.sw == SW.OK:
                return dataclasses.replace(done, recovered=recovered)
            raise _claimed_refusal(exc, "its authenticated record confirms nothing was loaded")
        if exc.sw != SW.OK and exc.sw >> 8 not in (0x61, 0x6C):
            raise _claimed_refusal(
                exc,
                f"not authenticated, so the load (sequence {row.sequence}) stays pending "
                f"until the card proves it: {verdict.note}",
            )
        return LoadResult(
            Outcome.INTERRUPTED,
            row.amount,
            row.purse,
            row.serial,
            pending=pending,
            reason=f"the card's answer could not be trusted ({exc}): {verdict.note}",
            recovered=recovered,
        )

    @staticmethod
    def _receipt(
        serial: bytes, init: InitResponse, entry: LogEntry, response: DebitResponse, k_load: bytes
    ) -> Receipt:
        receipt = Receipt(
            serial,
            init.kvn_debit,
            init.kvn_receipt,
            LastTransaction(entry, response.rm, response.conf),
        )
        if not verify_confirmation(k_load, receipt):
            raise CryptoError("the card's confirmation of the load is wrong")
        return receipt

    def _settle(
        self, serial: bytes, init: InitResponse, fresh: bool, row: PendingLoadRow
    ) -> _Verdict:
        """What this DEBIT INIT's record proves about the pending load ``row``."""
        last = init.last.entry
        if init.tc <= row.tc:
            return _Verdict(
                None,
                f"the card's counter ({init.tc}) is not past the load's ({row.tc}): a "
                "replayed answer, or a copy of an older card image",
            )
        if (
            last.type is TransactionType.LOAD
            and last.tc == row.tc
            and last.sam_counter == row.sequence
            and last.terminal == self.desk
            and last.purse == row.purse
            and last.amount == row.amount
        ):
            k_load = self._card_key(KeyFunction.LOAD, serial, init.kvn_load)
            try:
                receipt = self._receipt(
                    serial, init, last, DebitResponse.from_last(init.last), k_load
                )
            except CryptoError:
                return _Verdict(None, "the card's record of the load does not confirm")
            return _Verdict(True, "recovered from the card's last transaction", receipt)
        if not fresh:
            return _Verdict(
                None,
                "this desk cannot check the card's cryptogram (no debit key, no SAM), so "
                "its record cannot prove that the load did not happen",
            )
        d0 = row.ds_before
        if last.tc < row.tc or last.ds == d0:
            return _Verdict(False, "the load did not reach the card")
        if last.ds == d0 + 1 or last.tc == row.tc:
            return _Verdict(
                False, "the card's authenticated record shows another transaction in its place"
            )
        if last.ds < d0:
            return _Verdict(None, "the card's sequence went back: a copy of an older card image?")
        return _Verdict(
            None,
            f"the card has transacted {last.ds - d0} times since: its authenticated record "
            "no longer reaches back to the load, and its log carries no MAC; the back "
            f"office decides from the card's receipts (DS {d0 + 1})",
        )

    def _close(self, row: PendingLoadRow, verdict: _Verdict, init: InitResponse) -> LoadResult:
        """Journal a verdict (a load still unproven stays open) and say it as a result."""
        pending = PendingLoad.from_row(row)
        if verdict.loaded is None:
            return LoadResult(
                Outcome.INTERRUPTED,
                row.amount,
                row.purse,
                row.serial,
                pending=pending,
                reason=verdict.note,
            )
        if verdict.loaded:
            self.pending.resolve(row.id, "loaded", verdict.note, verdict.receipt)
            assert verdict.receipt is not None
            return LoadResult(
                Outcome.PAID,
                row.amount,
                row.purse,
                row.serial,
                verdict.receipt,
                verdict.receipt.entry.balance,
                reason="recovered",
            )
        self.pending.resolve(row.id, "not-loaded", verdict.note)
        return LoadResult(
            Outcome.NOT_CHARGED,
            row.amount,
            row.purse,
            row.serial,
            balance=init.purse.balance,
            reason=verdict.note,
        )

    def check(self, card: Connection, pending: PendingLoad) -> LoadResult:
        """Resolve an interrupted load from the card's last transaction (SELECT + one DEBIT
        INIT). INTERRUPTED (still pending, with the reason) when nothing proves it yet."""
        wallet = WalletCard(card)
        if wallet.serial != pending.serial:
            raise LoadRefusedError("this is not the card of the interrupted load")
        row = next(
            (r for r in self.pending.unresolved(pending.serial) if r.sequence == pending.sequence),
            None,
        )
        if row is None:
            raise LoadRefusedError(
                f"the load with sequence {pending.sequence} is not pending in this desk's journal"
            )
        nt = new_terminal_nonce()
        init = wallet.debit_init(row.purse, nt)
        fresh = self._check_cryptogram(row.serial, init, nt)
        return self._close(row, self._settle(row.serial, init, fresh, row), init)

    def refer(self, pending: PendingLoad, note: str) -> None:
        """Close a pending load on the back office's verdict (from the card's receipts),
        so the desk may load the card again. ``note`` says whose verdict and why."""
        row = next(
            (r for r in self.pending.unresolved(pending.serial) if r.sequence == pending.sequence),
            None,
        )
        if row is not None:
            self.pending.resolve(row.id, "referred", note)
