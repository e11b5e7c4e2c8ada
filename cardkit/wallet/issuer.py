"""Issuer loads: credit a purse under the issuer's ``K_load`` (SELECT + DEBIT INIT + LOAD).

::

    issuer = WalletIssuer(keystore, agency=0x0701, desk=1, sequence=LoadSequence(path))
    result = issuer.load(connection, purse=0, amount=300_000, sync=True)

The per-card ``K_load`` is derived inside the key store (the master never leaves it), with
the same label and context the card was personalised with: ``kdf_label("load")`` and
``diversification_context(serial, SSN_AID, KVN load)``. ``sync=True`` sets LOAD flag ``01``:
the card resets its offline cumulative, so the holder may spend offline again up to the cap.
The issuer checks the card's answer (CONF under ``K_load``) before it counts a load as done;
a load torn by a card leaving the field is resolved by :meth:`WalletIssuer.check` on the
next tap (the card's last transaction carries SAM id 0 and the load sequence).
"""

from __future__ import annotations

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
from ..errors import CardkitError, CryptoError, TransportError
from ..keystore import KeyFunction, KeyStore
from ..ssn import LifeCycle
from ..transport.base import Connection
from .card import PurseNotFoundError, WalletCard, WalletRefusedError, new_terminal_nonce
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
    """A load sent to a card whose answer never came back."""

    serial: bytes
    tc: int
    purse: int
    amount: int
    sequence: int


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


class WalletIssuer:
    """The issuer's side of the wallet: loads (credits) and offline-cap resets."""

    def __init__(
        self,
        keystore: KeyStore,
        *,
        agency: int,
        desk: int,
        sequence: Callable[[], int],
        clock: Callable[[], dt.date] = city_today,
    ) -> None:
        self.keystore = keystore
        self.agency = agency
        self.desk = desk
        self.sequence = sequence
        self.clock = clock

    def _card_key(self, function: KeyFunction, serial: bytes, version: int) -> bytes:
        if version not in self.keystore.versions(function):
            raise CryptoError(f"the key store holds no {function.value} master v{version}")
        return self.keystore.derive(
            function,
            version,
            kdf_label(function.value),
            diversification_context(serial, SSN_AID, version),
        )

    def _check_cryptogram(self, serial: bytes, init: InitResponse, nt: bytes) -> None:
        """Check CC when the store also holds the debit master (the city's back office)."""
        if init.kvn_debit not in self.keystore.versions(KeyFunction.DEBIT):
            return
        k_debit = self._card_key(KeyFunction.DEBIT, serial, init.kvn_debit)
        if not hmac.compare_digest(card_cryptogram(k_debit, serial, init.body(), nt), init.cc):
            raise CryptoError("the card's cryptogram is wrong: not a genuine card")

    def load(self, card: Connection, purse: int, amount: int, *, sync: bool = False) -> LoadResult:
        """Credit ``amount`` rupiah to ``purse``; ``sync`` also resets the offline cumulative
        (an amount of 0 with ``sync`` only resets it)."""
        wallet = WalletCard(card)
        if wallet.state is not LifeCycle.ISSUED:
            raise LoadRefusedError(f"the card is {wallet.state.name}, not ISSUED")
        serial = wallet.serial
        nt = new_terminal_nonce()
        init = wallet.debit_init(purse, nt)
        self._check_cryptogram(serial, init, nt)
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
        pending = PendingLoad(serial, init.tc, purse, amount, sequence)
        try:
            response = wallet.load(request)
        except TransportError as exc:
            return LoadResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                pending=pending,
                reason=f"the card left during the load ({exc}): tap it again",
            )
        except (WalletRefusedError, PurseNotFoundError, CryptoError):
            raise  # the card refused: nothing was credited
        except CardkitError as exc:
            # An unreadable answer or an unexpected status: the card may have credited
            # the purse. Loading again could credit it twice; check() tells for certain.
            return LoadResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                pending=pending,
                reason=f"the card's answer could not be read ({exc}): tap it again to check",
            )
        entry = LogEntry(
            TransactionType.LOAD,
            init.tc,
            response.ds,
            purse,
            amount,
            response.balance,
            date,
            self.agency,
            self.desk,
            0,
            sequence,
        )
        try:
            receipt = self._receipt(serial, init, entry, response, k_load)
        except CryptoError as exc:
            return LoadResult(
                Outcome.INTERRUPTED,
                amount,
                purse,
                serial,
                pending=pending,
                reason=f"{exc}: tap the card again to check the load",
            )
        return LoadResult(Outcome.PAID, amount, purse, serial, receipt, response.balance)

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

    def check(self, card: Connection, pending: PendingLoad) -> LoadResult:
        """Resolve an interrupted load from the card's last transaction (one DEBIT INIT)."""
        wallet = WalletCard(card)
        if wallet.serial != pending.serial:
            raise LoadRefusedError("this is not the card of the interrupted load")
        nt = new_terminal_nonce()
        init = wallet.debit_init(pending.purse, nt)
        self._check_cryptogram(pending.serial, init, nt)
        last = init.last.entry
        if (
            last.type is TransactionType.LOAD
            and last.tc == pending.tc
            and last.sam_counter == pending.sequence
            and last.terminal == self.desk
        ):
            k_load = self._card_key(KeyFunction.LOAD, pending.serial, init.kvn_load)
            receipt = self._receipt(
                pending.serial, init, last, DebitResponse.from_last(init.last), k_load
            )
            return LoadResult(
                Outcome.PAID,
                pending.amount,
                pending.purse,
                pending.serial,
                receipt,
                last.balance,
                reason="recovered",
            )
        if last.tc < pending.tc:
            return LoadResult(
                Outcome.NOT_CHARGED,
                pending.amount,
                pending.purse,
                pending.serial,
                balance=init.purse.balance,
                reason="the load did not reach the card",
            )
        found = next((e for e in wallet.log() if e.tc == pending.tc), None)
        if found is not None and found.sam_counter == pending.sequence:
            return LoadResult(
                Outcome.PAID,
                pending.amount,
                pending.purse,
                pending.serial,
                balance=init.purse.balance,
                reason="the card's log shows the load (receipt MACs gone)",
            )
        return LoadResult(
            Outcome.NOT_CHARGED,
            pending.amount,
            pending.purse,
            pending.serial,
            balance=init.purse.balance,
            reason="the card's log has no such load",
        )
