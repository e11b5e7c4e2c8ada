"""The SSN card's offline e-wallet (card side): purses, counters, log, and the wallet commands.

Contract: docs/PROTOCOL.md s7; every byte layout and MAC comes from
:mod:`cardkit.codecs.wallet`. :class:`WalletApplet` is the base class of
:class:`~applets.ssn.applet.SsnCardApplet`, which supplies the life cycle, the serial, the
issuer channel and the static DEK.

What protects the money:

* ``TC`` rises by one at every DEBIT INIT and is persisted **before** the response exists,
  so no (TC, Nc) pair is ever answered twice, even across a power cut; at ``TC_LIMIT`` the
  card refuses new sessions.
* The session DEBIT INIT opens lives in RAM (cleared on deselect, reset and power loss) and
  is taken out by the next value command (DEBIT, LOAD, UNDO, BLOCK) *before* anything is
  checked: whatever the outcome, an authorisation can be presented once.
* Each DEBIT, LOAD and UNDO changes purse, cumulative, DS, log and last-transaction record
  in one transaction: a power cut leaves all of them old or all new.
* Applet 1.1: a DEBIT carries the debiting SAM's undo lock, kept with the last record; an
  UNDO must open it with the secret only that SAM can make (every SAM holds ``K_debit``, so
  AUTH alone cannot tell SAMs apart). Dates of debits and undos never go back (a till with
  its clock set back cannot spend an expired purse). BLOCK answers a MAC made after the
  state write, so a relay cannot fake "blocked".
"""

from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

from cardkit.codecs import rules
from cardkit.codecs import wallet as w
from cardkit.crypto.kcv import kcv
from cardkit.crypto.scp03 import StaticKeys
from cardkit.errors import CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW

from ..applet import Applet, command
from ..memory import Lifetime
from ..status import SwError
from .lifecycle import LifeCycle

# persistent keys (the KVN key is shared with the FCI: "kvn.<function>")
_KEY = "wallet.key.{}"
_KVN = "kvn.{}"
_PURSE = "wallet.purse.{}"  # the 19-byte purse record
_OFFLINE_CAP = "wallet.offline-cap"
_CUMULATIVE = "wallet.cumulative"
_TC = "wallet.tc"
_DS = "wallet.ds"
_LOG = "wallet.log"  # cyclic, WALLET_LOG_CAPACITY entries of 38 bytes
_LAST = "wallet.last"  # the 54-byte last-transaction record
_UNDO_LOCK = "wallet.undo-lock"  # the last debit's undo lock (8); absent: nothing undoable

# transient: the session of the last DEBIT INIT (a WalletSession)
_SESSION = "wallet-session"

#: PUT DATA tags of the wallet (personalisation) and the key tags GET DATA reads back.
WALLET_DATA_TAGS = frozenset(int(t) for t in w.WalletTag)
WALLET_KEY_TAGS = frozenset(int(t) for t in w.WALLET_KEY_TAGS)

SW_BAD_MAC = SW.SM_DATA_INCORRECT  # 6988: AUTH or BLOCK MAC wrong
SW_REFUSED = SW.CONDITIONS_NOT_SATISFIED  # 6985: state, no session, purse rules, counter


class WalletApplet(Applet):
    """The wallet commands and objects; subclassed by the SSN card applet."""

    #: The applet version (FCI ``C0``); ``(1, 0)`` speaks the 1.0 wallet (no undo lock, no
    #: date rule, BLOCK answers nothing), kept to test hosts against cards in the field.
    APPLET_VERSION: ClassVar[tuple[int, int]] = w.WALLET_VERSION_1_1

    @property
    def _v11(self) -> bool:
        return self.APPLET_VERSION >= w.WALLET_VERSION_1_1

    # --- supplied by the SSN card applet ---------------------------------------------------

    @property
    def serial(self) -> bytes:
        raise NotImplementedError

    @property
    def state(self) -> LifeCycle:
        raise NotImplementedError

    def _set_state(self, state: LifeCycle) -> None:
        raise NotImplementedError

    def _static_keys(self) -> StaticKeys | None:
        raise NotImplementedError

    # --- objects ---------------------------------------------------------------------------

    def _wallet_key(self, function: str) -> bytes | None:
        return self.persistent.get(_KEY.format(function))

    def _purse(self, index: int) -> w.PurseRecord | None:
        raw = self.persistent.get(_PURSE.format(index))
        return None if raw is None else w.PurseRecord.from_bytes(raw)

    def _purses(self) -> list[w.PurseRecord]:
        return [p for p in (self._purse(i) for i in range(w.PURSES)) if p is not None]

    def _last(self) -> w.LastTransaction:
        raw = self.persistent.get(_LAST)
        return w.LastTransaction.empty() if raw is None else w.LastTransaction.from_bytes(raw)

    def _log(self) -> list[bytes]:
        return self.persistent.cyclic(_LOG, w.WALLET_LOG_CAPACITY).records()

    def _wallet_ready(self) -> bool:
        """The self-check before ISSUED: a card with purses has all three wallet keys and an
        offline cap; a card without purses is an identity-only card and needs neither."""
        if not self._purses():
            return True
        return (
            all(self._wallet_key(f) is not None for f in w.WALLET_KEY_FUNCTIONS)
            and _OFFLINE_CAP in self.persistent
        )

    def _erase_wallet(self) -> None:
        """Wallet keys, purse configuration and offline cap (call in a transaction). TC, DS
        and the log stay: TC only ever rises, whatever happens to the card."""
        p = self.persistent
        for function in w.WALLET_KEY_FUNCTIONS:
            p.delete(_KEY.format(function))
        for index in range(w.PURSES):
            p.delete(_PURSE.format(index))
        p.delete(_OFFLINE_CAP)

    # --- personalisation (PUT DATA / GET DATA in the issuer channel) -----------------------

    def _put_wallet_data(self, tag: int, data: bytes) -> None:
        """PUT DATA 40-42 (a DEK-encrypted wallet key), 48 (a purse), 49 (offline cap).
        The caller has checked the issuer channel and the state (PERSONALISING)."""
        p = self.persistent
        if tag in w.WALLET_KEY_TAGS:
            keys = self._static_keys()
            if keys is None:
                raise SwError(SW_REFUSED)
            if len(data) != w.WALLET_KEY_DATA_LENGTH:
                raise SwError(SW.WRONG_LENGTH)
            try:
                kvn, key = w.open_wallet_key_data(keys.dek, data)
            except (w.WalletFormatError, CryptoError):
                raise SwError(SW.WRONG_DATA) from None
            function = w.WalletTag(tag).function
            with self.transaction():
                p.put(_KEY.format(function), key)
                p.put_int(_KVN.format(function), kvn, 1)
            return
        if tag == w.WalletTag.PURSE:
            if len(data) != w.PurseConfig.FORMAT.size:
                raise SwError(SW.WRONG_LENGTH)
            try:
                config = w.PurseConfig.from_bytes(data)
            except w.WalletFormatError:
                raise SwError(SW.WRONG_DATA) from None
            if any(
                other.programme == config.programme and other.index != config.index
                for other in self._purses()
            ):
                raise SwError(SW.WRONG_DATA)  # one purse per programme
            p.put(_PURSE.format(config.index), config.empty_purse().to_bytes())
            return
        if tag == w.WalletTag.OFFLINE_CAP:
            if len(data) != 4:
                raise SwError(SW.WRONG_LENGTH)
            p.put(_OFFLINE_CAP, data)
            return
        raise SwError(SW.INCORRECT_P1P2)

    def _wallet_key_check(self, tag: int) -> bytes:
        """GET DATA 40-42 (issuer read-back): ``KVN(1) ‖ KCV(3)`` of the loaded key."""
        function = w.WalletTag(tag).function
        key = self._wallet_key(function)
        if key is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        return bytes([self.persistent.get_int(_KVN.format(function))]) + kcv(key)

    # --- the session -----------------------------------------------------------------------

    def _take_session(self) -> w.WalletSession:
        """Consume the session of the last DEBIT INIT (gone whatever happens next); the card
        must be ISSUED."""
        session: w.WalletSession | None = self.transient.pop(_SESSION)
        if self.state is not LifeCycle.ISSUED or session is None:
            raise SwError(SW_REFUSED)
        return session

    def _keys(self) -> tuple[bytes, bytes, bytes]:
        """``(K_debit, K_load, K_receipt)``; 6985 on a card without wallet keys."""
        keys = [self._wallet_key(f) for f in w.WALLET_KEY_FUNCTIONS]
        if any(k is None for k in keys):
            raise SwError(SW_REFUSED)
        k_debit, k_load, k_receipt = keys
        assert k_debit is not None and k_load is not None and k_receipt is not None
        return k_debit, k_load, k_receipt

    def _session_purse(self, session: w.WalletSession) -> w.PurseRecord:
        purse = self._purse(session.purse)
        if purse is None:  # configuration cannot change while ISSUED; defensive
            raise SwError(SW_REFUSED)
        return purse

    @staticmethod
    def _check_p1p2(cmd: CommandApdu, p2: int = 0) -> None:
        if not 0 <= cmd.p1 < w.PURSES or cmd.p2 != p2:
            raise SwError(SW.INCORRECT_P1P2)

    def _commit(
        self,
        purse: w.PurseRecord,
        cumulative: int,
        entry: w.LogEntry,
        k_receipt: bytes,
        k_confirm: bytes,
        undo_lock: bytes = b"",
    ) -> bytes:
        """Balance, cumulative, DS, log, last record and undo lock (the new debit's, or none)
        in one transaction; the response. ``entry`` gets the next DS here."""
        p = self.persistent
        entry = dataclasses.replace(entry, ds=p.get_int(_DS) + 1)
        last = w.complete_transaction(k_receipt, k_confirm, self.serial, entry)
        with self.transaction():
            p.put(_PURSE.format(purse.index), purse.to_bytes())
            p.put_int(_CUMULATIVE, cumulative)
            p.put_int(_DS, entry.ds)
            p.cyclic(_LOG, w.WALLET_LOG_CAPACITY).append(entry.to_bytes())
            p.put(_LAST, last.to_bytes())
            if undo_lock:
                p.put(_UNDO_LOCK, undo_lock)
            else:
                p.delete(_UNDO_LOCK)
        return w.DebitResponse.from_last(last).to_bytes()

    # --- commands --------------------------------------------------------------------------

    @command(w.WalletIns.DEBIT_INIT)
    def debit_init(self, cmd: CommandApdu) -> bytes:
        """``80 E0 <purse> 00 08 <Nt>``: new TC (persisted first), Nc; the signed purse view."""
        self.transient.pop(_SESSION)  # a new INIT ends the previous session
        if self.state is not LifeCycle.ISSUED:
            raise SwError(SW_REFUSED)
        self._check_p1p2(cmd)
        if len(cmd.data) != w.NONCE_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        purse = self._purse(cmd.p1)
        if purse is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        k_debit, _, _ = self._keys()
        p = self.persistent
        tc = p.get_int(_TC)
        if tc >= w.TC_LIMIT:
            raise SwError(SW_REFUSED)  # near wrap-around: the card must be replaced
        tc += 1
        p.put_int(_TC, tc)  # one atomic write, before the response exists
        nc = os.urandom(w.NONCE_LENGTH)
        init = w.InitResponse.sign(
            k_debit,
            self.serial,
            cmd.data,
            tc=tc,
            nc=nc,
            kvn_debit=p.get_int(_KVN.format("debit")),
            kvn_load=p.get_int(_KVN.format("load")),
            kvn_receipt=p.get_int(_KVN.format("receipt")),
            purse=purse,
            cumulative=p.get_int(_CUMULATIVE),
            offline_cap=p.get_int(_OFFLINE_CAP),
            last=self._last(),
        )
        self.transient.set(
            _SESSION,
            w.WalletSession(self.serial, tc, nc, cmd.data, cmd.p1),
            Lifetime.CLEAR_ON_DESELECT,
        )
        return init.to_bytes()

    def _sam_request(self, cmd: CommandApdu) -> tuple[w.WalletSession, w.DebitRequest]:
        """Consume the DEBIT INIT session, then parse a DEBIT / UNDO command's data."""
        session = self._take_session()
        self._check_p1p2(cmd)
        size = (w.DebitRequest.FORMAT_1_1 if self._v11 else w.DebitRequest.FORMAT).size
        if len(cmd.data) != size:
            raise SwError(SW.WRONG_LENGTH)
        return session, w.DebitRequest.from_bytes(cmd.data, cmd.p1)

    @command(w.WalletIns.DEBIT)
    def debit(self, cmd: CommandApdu) -> bytes:
        """``80 E2 <purse> 00 20 <DEBIT data>``: the SAM-authorised payment."""
        session, request = self._sam_request(cmd)
        k_debit, _, k_receipt = self._keys()
        if not w.verify_debit_request(k_debit, session, request):
            raise SwError(SW_BAD_MAC)
        purse = self._session_purse(session)
        cumulative = self.persistent.get_int(_CUMULATIVE)
        if (
            rules.purse_debit_refusal(
                purse,
                cumulative,
                self.persistent.get_int(_OFFLINE_CAP),
                request.amount,
                request.date,
                self._last().entry.date if self._v11 else 0,
            )
            is not None
        ):
            raise SwError(SW_REFUSED)
        balance = purse.balance - request.amount
        entry = w.LogEntry(
            w.TransactionType.DEBIT,
            session.tc,
            0,
            purse.index,
            request.amount,
            balance,
            request.date,
            request.merchant,
            request.terminal,
            request.sam_id,
            request.sam_counter,
        )
        return self._commit(
            _with_balance(purse, balance),
            cumulative + request.amount,
            entry,
            k_receipt,
            k_debit,
            request.proof,
        )

    @command(w.WalletIns.UNDO)
    def undo(self, cmd: CommandApdu) -> bytes:
        """``80 E6 <purse> 00 20 <UNDO data>``: reverse (part of) the last debit, once."""
        session, request = self._sam_request(cmd)
        k_debit, _, k_receipt = self._keys()
        undone = self._last().entry
        if not w.verify_undo_request(k_debit, session, undone, request):
            raise SwError(SW_BAD_MAC)
        purse = self._session_purse(session)
        if rules.card_undo_refusal(undone, purse.index, request, dates_rise=self._v11):
            raise SwError(SW_REFUSED)
        if self._v11:
            # Only the SAM that made the debit can open its lock; without one (a debit made
            # in the 1.0 format) nothing can prove who made it, so no undo.
            lock = self.persistent.get(_UNDO_LOCK)
            if lock is None:
                raise SwError(SW_REFUSED)
            if not w.verify_undo_secret(lock, self.serial, undone.tc, request.proof):
                raise SwError(SW_BAD_MAC)
        balance = purse.balance + request.amount
        if balance > purse.balance_cap:  # cannot happen after a debit; kept as a guard
            raise SwError(SW_REFUSED)
        cumulative = max(0, self.persistent.get_int(_CUMULATIVE) - request.amount)
        entry = w.LogEntry(
            w.TransactionType.UNDO,
            session.tc,
            0,
            purse.index,
            request.amount,
            balance,
            request.date,
            request.merchant,
            request.terminal,
            request.sam_id,
            request.sam_counter,
        )
        return self._commit(_with_balance(purse, balance), cumulative, entry, k_receipt, k_debit)

    @command(w.WalletIns.LOAD)
    def load(self, cmd: CommandApdu) -> bytes:
        """``80 E4 <purse> <flags> 1C <LOAD data>``: the issuer's credit (and/or sync)."""
        session = self._take_session()
        if not 0 <= cmd.p1 < w.PURSES or cmd.p2 & ~w.LOAD_FLAG_RESET_CUMULATIVE:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != w.LoadRequest.FORMAT.size:
            raise SwError(SW.WRONG_LENGTH)
        request = w.LoadRequest.from_bytes(cmd.data, cmd.p1, cmd.p2)
        _, k_load, k_receipt = self._keys()
        if not w.verify_load_request(k_load, session, request):
            raise SwError(SW_BAD_MAC)
        purse = self._session_purse(session)
        if rules.load_refusal(purse, request.flags, request.amount, request.date) is not None:
            raise SwError(SW_REFUSED)
        cumulative = (
            0
            if request.flags & w.LOAD_FLAG_RESET_CUMULATIVE
            else self.persistent.get_int(_CUMULATIVE)
        )
        balance = purse.balance + request.amount
        entry = w.LogEntry(
            w.TransactionType.LOAD,
            session.tc,
            0,
            purse.index,
            request.amount,
            balance,
            request.date,
            request.agency,
            request.desk,
            0,
            request.sequence,
        )
        return self._commit(_with_balance(purse, balance), cumulative, entry, k_receipt, k_load)

    @command(w.WalletIns.BLOCK)
    def block(self, cmd: CommandApdu) -> bytes | None:
        """``80 EA 00 00 08 <MAC>``: a SAM blocks a hotlisted card (-> BLOCKED); only the
        issuer unblocks (SET STATUS 07 in SCP03). A 1.1 card answers BLOCKED (8), made
        after the state write."""
        session = self._take_session()
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != w.MAC_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        k_debit, _, _ = self._keys()
        if not w.verify_block_mac(k_debit, session, cmd.data):
            raise SwError(SW_BAD_MAC)
        self._set_state(LifeCycle.BLOCKED)  # one atomic write
        return w.blocked_mac(k_debit, session) if self._v11 else None

    @command(w.WalletIns.READ_PURSES)
    def read_purses(self, cmd: CommandApdu) -> bytes:
        """``80 B2 00 00 00``: TC, DS, cumulative, offline cap and the configured purses."""
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        p = self.persistent
        return w.WalletStatus(
            p.get_int(_TC),
            p.get_int(_DS),
            p.get_int(_CUMULATIVE),
            p.get_int(_OFFLINE_CAP),
            tuple(self._purses()),
        ).to_bytes()

    @command(w.WalletIns.READ_LOG)
    def read_log(self, cmd: CommandApdu) -> bytes:
        """``80 B4 <first> <count> 00``: log entries newest first from ``first`` (0 = the
        newest); ``count`` 0 = all the rest. 6A83 when ``first`` is past the end."""
        log = self._log()
        if cmd.p1 >= len(log):
            raise SwError(SW.RECORD_NOT_FOUND)
        end = len(log) if cmd.p2 == 0 else min(len(log), cmd.p1 + cmd.p2)
        return b"".join(log[cmd.p1 : end])

    @command(w.WalletIns.LAST_TRANSACTION)
    def last_transaction(self, cmd: CommandApdu) -> bytes:
        """``80 E8 00 00 00``: the last-transaction record (54 bytes; zeros before the first).
        Not authenticated: recovery reads it from DEBIT INIT, under CC."""
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        return self._last().to_bytes()


def _with_balance(purse: w.PurseRecord, balance: int) -> w.PurseRecord:
    return dataclasses.replace(purse, balance=balance)
