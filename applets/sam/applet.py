"""The merchant SAM applet: holds the debit master key and authorises wallet debits.

A SAM is a second card in the merchant's reader. It derives each customer card's
``K_debit`` from the debit master, checks the card's cryptogram, authorises debits within
its ceiling with its own counter (persisted before any authorisation leaves the SAM),
checks the card's confirmation and keeps a short log, and authorises an undo only of a
debit it authorised itself -- provably to a 1.1 card: each debit carries the lock of an undo
secret made under this SAM's own ``K_undo``, and only this SAM can open it. Every undo it
authorises is counted (count and total) into what SIGN BATCH vouches for. Command layouts:
docs/WALLET.md, "The merchant SAM".
"""

from __future__ import annotations

from typing import ClassVar

from cardkit.codecs.rules import ceiling_refusal, debit_refusal, undo_refusal
from cardkit.codecs.sam import (
    AUTHORISE_DEBIT_P1_1_0,
    AUTHORISE_DEBIT_P1_1_1,
    BATCH_DIGEST_LENGTH,
    BLOCK_INPUT_LENGTH,
    SAM_AID,
    SAM_LOG_CAPACITY,
    SAM_MAX_DEBIT_KEYS,
    SAM_VERSION,
    Authorisation,
    AuthoriseInput,
    SamIdentity,
    SamInfo,
    SamIns,
    SamState,
    personalisation_mac,
    sam_admin_key,
    sam_batch_key,
    sam_undo_key,
    settlement_mac,
    sign_batch,
    verify_admin_mac,
)
from cardkit.codecs.wallet import (
    MAX_U32,
    NONCE_LENGTH,
    SERIAL_LENGTH,
    DebitResponse,
    InitResponse,
    TransactionType,
    WalletFormatError,
    WalletSession,
    block_mac,
    blocked_mac,
    card_key,
    sign_debit,
    sign_undo,
    undo_lock,
    undo_secret,
    verify_card_cryptogram,
    verify_confirmation,
)
from cardkit.crypto.keyload import KeyLoadFormatError, open_key_load_package
from cardkit.errors import CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv

from ..applet import Applet, command
from ..status import SwError

# persistent keys
_STATE = "state"
_SERIAL = "serial"
_TRANSPORT_KEY = "transport-key"
_TRANSPORT_KVN = "transport-kvn"
_IDENTITY = "identity"
_COUNTER = "counter"
_TOTAL = "total-authorised"
_SETTLED = "settled-total"
_ADMIN_SEQ = "admin-sequence"
_DEBIT_KEY = "debit-key."  # + KVN as two hex digits
_AUTH_LOG = "authorisations"
_RECEIPT_LOG = "receipts"
_BATCH_SEQ = "batch-sequence"  # absent = 0: no batch signed yet
_UNDO_COUNT = "undo-count"  # undos authorised, ever (absent = 0)
_UNDO_TOTAL = "undo-total"  # their amounts, ever (8 bytes; absent = 0)

_PRE_PERSO_LENGTH = SERIAL_LENGTH + 1 + 16
_ADMIN_MAC_LENGTH = 8
_NO_IDENTITY = SamIdentity(0, 0, 0, 0)

# status words of the SAM (docs/WALLET.md)
SW_BAD_MAC = SW.SM_DATA_INCORRECT  # 6988: cryptogram, confirmation, package or admin MAC wrong
SW_REFUSED = SW.CONDITIONS_NOT_SATISFIED  # 6985: state, purse rules, undo not own
SW_CEILING = SW.COMMAND_NOT_ALLOWED  # 6986: ceiling reached, settle first


class SamApplet(Applet):
    """The merchant SAM (see the module docstring and docs/WALLET.md)."""

    AID: ClassVar[bytes] = SAM_AID

    def install(self) -> None:
        p = self.persistent
        p.put(_STATE, bytes([SamState.BLANK]))
        for name in (_COUNTER, _ADMIN_SEQ):
            p.put_int(name, 0)
        for name in (_TOTAL, _SETTLED):
            p.put_int(name, 0, 8)

    # --- state helpers ---------------------------------------------------------------------

    @property
    def state(self) -> SamState:
        return SamState(self.persistent[_STATE][0])

    def _require(self, *states: SamState) -> None:
        if self.state not in states:
            raise SwError(SW_REFUSED)

    def _serial(self) -> bytes:
        return self.persistent.get(_SERIAL, b"") or b""

    def _identity(self) -> SamIdentity:
        raw = self.persistent.get(_IDENTITY)
        return _NO_IDENTITY if raw is None else SamIdentity.from_bytes(raw)

    def _admin_key(self) -> bytes:
        return sam_admin_key(self.persistent[_TRANSPORT_KEY], self._serial())

    def _undo_secret(self, card_serial: bytes, tc: int, counter: int) -> bytes:
        """This SAM's undo secret for its debit ``counter`` at the card's ``tc``."""
        k_undo = sam_undo_key(self.persistent[_TRANSPORT_KEY], self._serial())
        return undo_secret(k_undo, card_serial, tc, counter)

    def _debit_kvns(self) -> list[int]:
        return sorted(
            int(k[len(_DEBIT_KEY) :], 16)
            for k in self.persistent.keys()
            if k.startswith(_DEBIT_KEY)
        )

    def _card_debit_key(self, serial: bytes, kvn: int) -> bytes:
        master = self.persistent.get(f"{_DEBIT_KEY}{kvn:02X}")
        if master is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)  # 6A88: no master of that version
        return card_key(master, "debit", serial, kvn)

    def _authorisations(self) -> list[Authorisation]:
        return [
            Authorisation.from_bytes(r)
            for r in self.persistent.cyclic(_AUTH_LOG, SAM_LOG_CAPACITY).records()
        ]

    def _find_authorisation(self, counter: int) -> Authorisation | None:
        return next((a for a in self._authorisations() if a.sam_counter == counter), None)

    def _receipts(self) -> list[bytes]:
        return self.persistent.cyclic(_RECEIPT_LOG, SAM_LOG_CAPACITY).records()

    # --- life cycle ------------------------------------------------------------------------

    def select(self, cmd: CommandApdu) -> bytes:
        proprietary = Tlv.build(
            0xA5,
            Tlv(0xC0, SAM_VERSION.to_bytes(2, "big")),
            Tlv(0xC1, self._serial()),
            Tlv(0xC2, bytes([self.state])),
        )
        return bytes(Tlv.build(0x6F, Tlv(0x84, self.aid), proprietary))

    @command(SamIns.PRE_PERSONALISE)
    def pre_personalise(self, cmd: CommandApdu) -> bytes:
        """Serial, transport key version and transport key, once, in the secure facility."""
        self._require(SamState.BLANK)
        if len(cmd.data) != _PRE_PERSO_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        serial, kvn, key = cmd.data[:8], cmd.data[8], cmd.data[9:]
        with self.transaction():
            self.persistent.put(_SERIAL, serial)
            self.persistent.put(_TRANSPORT_KVN, bytes([kvn]))
            self.persistent.put(_TRANSPORT_KEY, key)
            self.persistent.put(_STATE, bytes([SamState.PRE_PERSONALISED]))
        return b""

    @command(SamIns.PERSONALISE)
    def personalise(self, cmd: CommandApdu) -> bytes:
        """Merchant, terminal, SAM id and ceiling, authorised by the back office."""
        self._require(SamState.PRE_PERSONALISED, SamState.ACTIVE)
        if len(cmd.data) != SamIdentity.FORMAT.size + _ADMIN_MAC_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        identity = SamIdentity.from_bytes(cmd.data[: SamIdentity.FORMAT.size])
        seq = self.persistent.get_int(_ADMIN_SEQ)
        expected = personalisation_mac(self._admin_key(), self._serial(), seq, identity)
        if not verify_admin_mac(expected, cmd.data[SamIdentity.FORMAT.size :]):
            raise SwError(SW_BAD_MAC)
        with self.transaction():
            self.persistent.put(_IDENTITY, identity.to_bytes())
            self.persistent.put_int(_ADMIN_SEQ, seq + 1)
            self.persistent.put(_STATE, bytes([SamState.ACTIVE]))
        return b""

    @command(SamIns.LOAD_KEY)
    def load_key(self, cmd: CommandApdu) -> bytes:
        """Accept a debit master key from a key-load package; answer ``KVN ‖ KCV``."""
        self._require(SamState.PRE_PERSONALISED, SamState.ACTIVE)
        try:
            contents = open_key_load_package(
                cmd.data, self.persistent[_TRANSPORT_KEY], self._serial()
            )
        except KeyLoadFormatError as exc:
            raise SwError(SW.WRONG_DATA) from exc
        except CryptoError as exc:
            raise SwError(SW_BAD_MAC) from exc
        if contents.label != "debit" or len(contents.key) != 16 or contents.version == 0:
            raise SwError(SW.WRONG_DATA)
        if contents.transport_version != self.persistent[_TRANSPORT_KVN][0]:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        kvns = self._debit_kvns()
        if contents.version not in kvns and len(kvns) >= SAM_MAX_DEBIT_KEYS:
            raise SwError(SW.NOT_ENOUGH_MEMORY)
        self.persistent.put(f"{_DEBIT_KEY}{contents.version:02X}", contents.key)
        return bytes([contents.version]) + contents.kcv

    # --- authorisation ---------------------------------------------------------------------

    def _checked_input(self, cmd: CommandApdu) -> tuple[AuthoriseInput, bytes]:
        """Parse AUTHORISE data and check the card's cryptogram; return it and K_debit."""
        self._require(SamState.ACTIVE)
        if len(cmd.data) != AuthoriseInput.LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        try:
            auth = AuthoriseInput.from_bytes(cmd.data)
        except WalletFormatError as exc:
            raise SwError(SW.WRONG_DATA) from exc
        k_debit = self._card_debit_key(auth.serial, auth.init.kvn_debit)
        if not verify_card_cryptogram(k_debit, auth.serial, auth.init, auth.nt):
            raise SwError(SW_BAD_MAC)
        return auth, k_debit

    def _next_counter(self) -> int:
        counter = self.persistent.get_int(_COUNTER) + 1
        if counter > MAX_U32:
            raise SwError(SW_REFUSED)  # a SAM at the end of its counter is replaced
        return counter

    def _record(self, auth: AuthoriseInput, kind: TransactionType, counter: int) -> bytes:
        init = auth.init
        return Authorisation(
            counter,
            kind,
            auth.serial,
            init.kvn_debit,
            init.kvn_receipt,
            init.tc,
            init.purse.index,
            auth.amount,
            auth.date,
        ).to_bytes()

    @command(SamIns.AUTHORISE_DEBIT)
    def authorise_debit(self, cmd: CommandApdu) -> bytes:
        """Check the card, the purse rules and the ceiling; answer the DEBIT data: P1 = 01
        for a 1.1 card (40 bytes, with this SAM's undo lock), 00 for a 1.0 card (32)."""
        if cmd.p1 not in (AUTHORISE_DEBIT_P1_1_0, AUTHORISE_DEBIT_P1_1_1) or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        auth, k_debit = self._checked_input(cmd)
        if debit_refusal(auth.init, auth.amount, auth.date) is not None:
            raise SwError(SW_REFUSED)
        identity = self._identity()
        total = self.persistent.get_int(_TOTAL)
        settled = self.persistent.get_int(_SETTLED)
        if ceiling_refusal(total, settled, identity.ceiling, auth.amount) is not None:
            raise SwError(SW_CEILING)
        counter = self._next_counter()
        # Counter, ceiling and record commit before the authorisation exists: a tear before
        # the commit issues nothing, a tear after it only leaves a gap in the counter.
        with self.transaction():
            self.persistent.put_int(_COUNTER, counter)
            self.persistent.put_int(_TOTAL, total + auth.amount, 8)
            self.persistent.cyclic(_AUTH_LOG, SAM_LOG_CAPACITY).append(
                self._record(auth, TransactionType.DEBIT, counter)
            )
        lock = b""
        if cmd.p1 == AUTHORISE_DEBIT_P1_1_1:
            secret = self._undo_secret(auth.serial, auth.init.tc, counter)
            lock = undo_lock(auth.serial, auth.init.tc, secret)
        return sign_debit(
            k_debit,
            auth.session(),
            auth.amount,
            auth.date,
            identity.merchant,
            identity.terminal,
            identity.sam_id,
            counter,
            lock,
        ).to_bytes()

    @command(SamIns.AUTHORISE_UNDO)
    def authorise_undo(self, cmd: CommandApdu) -> bytes:
        """Authorise reversing the card's last debit, if this SAM authorised it: the UNDO
        data (40 bytes) reveals the debit's undo secret. Counted for SIGN BATCH."""
        auth, k_debit = self._checked_input(cmd)
        identity = self._identity()
        last = auth.init.last.entry
        if undo_refusal(auth, identity, self._find_authorisation(last.sam_counter)) is not None:
            raise SwError(SW_REFUSED)
        counter = self._next_counter()
        p = self.persistent
        undo_count = p.get_int(_UNDO_COUNT, 0) + 1
        if undo_count > MAX_U32:
            raise SwError(SW_REFUSED)
        with self.transaction():
            p.put_int(_COUNTER, counter)
            p.put_int(_UNDO_COUNT, undo_count)
            p.put_int(_UNDO_TOTAL, p.get_int(_UNDO_TOTAL, 0) + auth.amount, 8)
            p.cyclic(_AUTH_LOG, SAM_LOG_CAPACITY).append(
                self._record(auth, TransactionType.UNDO, counter)
            )
        return sign_undo(
            k_debit,
            auth.session(),
            last,
            auth.amount,
            auth.date,
            identity.merchant,
            identity.terminal,
            identity.sam_id,
            counter,
            self._undo_secret(auth.serial, last.tc, last.sam_counter),
        ).to_bytes()

    @command(SamIns.AUTHORISE_BLOCK)
    def authorise_block(self, cmd: CommandApdu) -> bytes:
        """Order a hotlisted card to block itself: data = card serial(8) ‖ Nt(8) ‖ DEBIT INIT
        response(104); after the card's CC checks, answer the BLOCK MAC (8) and the BLOCKED
        MAC a 1.1 card answers once blocked (8). Which cards are hotlisted is the terminal's
        judgement (signed hotlist); the SAM spends no counter and no ceiling on it."""
        self._require(SamState.ACTIVE)
        if len(cmd.data) != BLOCK_INPUT_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        serial, nt = (
            cmd.data[:SERIAL_LENGTH],
            cmd.data[SERIAL_LENGTH : SERIAL_LENGTH + NONCE_LENGTH],
        )
        try:
            init = InitResponse.from_bytes(cmd.data[SERIAL_LENGTH + NONCE_LENGTH :])
        except WalletFormatError as exc:
            raise SwError(SW.WRONG_DATA) from exc
        k_debit = self._card_debit_key(serial, init.kvn_debit)
        if not verify_card_cryptogram(k_debit, serial, init, nt):
            raise SwError(SW_BAD_MAC)
        session = WalletSession.from_init(serial, init, nt)
        return block_mac(k_debit, session) + blocked_mac(k_debit, session)

    @command(SamIns.CONFIRM)
    def confirm(self, cmd: CommandApdu) -> bytes:
        """Check the card's CONF for one of this SAM's authorisations; log and answer the
        receipt (64 bytes). Confirming the same receipt again answers it again."""
        self._require(SamState.ACTIVE)
        if len(cmd.data) != 4 + DebitResponse.FORMAT.size:
            raise SwError(SW.WRONG_LENGTH)
        counter = int.from_bytes(cmd.data[:4], "big")
        response = DebitResponse.from_bytes(cmd.data[4:])
        own = self._find_authorisation(counter)
        if own is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        receipt = own.receipt(self._identity(), response)
        if not verify_confirmation(self._card_debit_key(own.serial, own.kvn_debit), receipt):
            raise SwError(SW_BAD_MAC)
        raw = receipt.to_bytes()
        if raw not in self._receipts():
            with self.transaction():
                self.persistent.cyclic(_RECEIPT_LOG, SAM_LOG_CAPACITY).append(raw)
        return raw

    @command(SamIns.READ_RECEIPT)
    def read_receipt(self, cmd: CommandApdu) -> bytes:
        """P1 = n: the n-th newest confirmed receipt (6A83 past the end)."""
        receipts = self._receipts()
        if cmd.p2 != 0:
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.p1 >= len(receipts):
            raise SwError(SW.RECORD_NOT_FOUND)
        return receipts[cmd.p1]

    # --- information and settlement --------------------------------------------------------

    @command(SamIns.GET_INFO)
    def get_info(self, cmd: CommandApdu) -> bytes:
        p = self.persistent
        tkvn = p.get(_TRANSPORT_KVN, b"\x00") or b"\x00"
        return SamInfo(
            SAM_VERSION,
            self.state,
            self._serial() or bytes(SERIAL_LENGTH),
            tkvn[0],
            self._identity(),
            p.get_int(_COUNTER),
            p.get_int(_TOTAL),
            p.get_int(_SETTLED),
            p.get_int(_ADMIN_SEQ),
            tuple(self._debit_kvns()),
        ).to_bytes()

    @command(SamIns.SETTLE)
    def settle(self, cmd: CommandApdu) -> bytes:
        """Settlement reset: the back office vouches for everything up to a total."""
        self._require(SamState.ACTIVE)
        if len(cmd.data) != 8 + _ADMIN_MAC_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        settled = int.from_bytes(cmd.data[:8], "big")
        seq = self.persistent.get_int(_ADMIN_SEQ)
        expected = settlement_mac(self._admin_key(), self._serial(), seq, settled)
        if not verify_admin_mac(expected, cmd.data[8:]):
            raise SwError(SW_BAD_MAC)
        if not self.persistent.get_int(_SETTLED) <= settled <= self.persistent.get_int(_TOTAL):
            raise SwError(SW.WRONG_DATA)
        with self.transaction():
            self.persistent.put_int(_SETTLED, settled, 8)
            self.persistent.put_int(_ADMIN_SEQ, seq + 1)
        return b""

    @command(SamIns.SIGN_BATCH)
    def sign_batch(self, cmd: CommandApdu) -> bytes:
        """Vouch for a merchant's settlement batch: data = SHA-256 of the batch body (32);
        answer ``batch sequence ‖ SC ‖ total authorised ‖ undo count ‖ undo total ‖ MAC``
        (36 bytes)."""
        self._require(SamState.ACTIVE)
        if len(cmd.data) != BATCH_DIGEST_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        sequence = self.persistent.get_int(_BATCH_SEQ) + 1
        if sequence > MAX_U32:
            raise SwError(SW_REFUSED)
        # The new sequence commits before the MAC exists: a MAC is never issued twice for one
        # sequence number; a tear only leaves a gap the back office sees.
        self.persistent.put_int(_BATCH_SEQ, sequence)
        p = self.persistent
        k_batch = sam_batch_key(p[_TRANSPORT_KEY], self._serial())
        return sign_batch(
            k_batch,
            self._serial(),
            self._identity(),
            sequence,
            p.get_int(_COUNTER),
            p.get_int(_TOTAL, 0),
            cmd.data,
            undo_count=p.get_int(_UNDO_COUNT, 0),
            undo_total=p.get_int(_UNDO_TOTAL, 0),
        ).to_bytes()
