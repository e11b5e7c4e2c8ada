"""The SSN card's wallet commands, host side: one method per APDU (docs/PROTOCOL.md s7).

:class:`WalletCard` takes a connection and opens an :class:`~cardkit.ssn.SsnSession` on it
(which SELECTs the applet and knows the card's serial and wallet key versions). Status
words become errors here:

* ``6985`` / ``6986`` -> :class:`WalletRefusedError` (purse rules, life cycle, no session,
  counter near wrap-around)
* ``6982`` / ``6988`` -> :class:`~cardkit.errors.CryptoError` (AUTH wrong)
* ``6A86`` / ``6A88`` / ``6A83`` -> :class:`PurseNotFoundError`
* anything else -> :class:`~cardkit.errors.ApduError`

Except for the value commands DEBIT, UNDO and LOAD: their only meaningful answer is the
authenticated success (``9000`` with a CONF the SAM or issuer checks). Any other answer --
an error status, ``6Cxx`` / ``61xx``, a short answer -- may come from a relay while the card
committed, so it raises :class:`UnconfirmedValueError` ("torn: ask the card's next DEBIT
INIT"), never a refusal. Value commands are marked ``once``: the pipeline never resends
them.
"""

from __future__ import annotations

import secrets

from ..codecs.sam import BLOCK_ORDER_LENGTH
from ..codecs.wallet import (
    MAC_LENGTH,
    NONCE_LENGTH,
    DebitRequest,
    DebitResponse,
    InitResponse,
    LastTransaction,
    LoadRequest,
    LogEntry,
    PurseRecord,
    WalletFormatError,
    WalletIns,
    WalletStatus,
    verify_blocked,
)
from ..errors import ApduError, BadResponseError, ConditionsNotSatisfiedError, CryptoError
from ..iso7816.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu
from ..iso7816.sw import SW
from ..ssn import LifeCycle, SsnSession
from ..transport.base import Connection

CLA = 0x80


class WalletRefusedError(ConditionsNotSatisfiedError):
    """The card refused a wallet command (purse rules, life cycle, no open session)."""


class PurseNotFoundError(ApduError):
    """No such purse (or log record) on the card."""


class UnconfirmedValueError(ApduError):
    """A value command (DEBIT, UNDO, LOAD) got an answer other than its success.

    A status word proves nothing (the card does not authenticate it; a relay can rewrite
    it after the card committed): the transaction is torn, and only the card's next DEBIT
    INIT -- its MAC-protected last-transaction record -- tells whether money moved.
    ``sw`` is the status word received (``0x9000`` for a success with an unreadable body).
    """

    @property
    def claims_refusal(self) -> bool:
        """The status word claims the card refused (a refusal, a MAC rejected, no such
        purse) -- a claim only the card's next authenticated record can confirm."""
        return self.sw in REFUSAL_SWS


#: Status words by which a card refuses a value command (WalletCard maps them to errors).
REFUSAL_SWS = frozenset(
    {
        SW.CONDITIONS_NOT_SATISFIED,
        SW.COMMAND_NOT_ALLOWED,
        SW.SECURITY_STATUS_NOT_SATISFIED,
        SW.SM_DATA_INCORRECT,
        SW.INCORRECT_P1P2,
        SW.REFERENCED_DATA_NOT_FOUND,
        SW.RECORD_NOT_FOUND,
    }
)


def _check(resp: ResponseApdu, what: str) -> bytes:
    sw = resp.sw
    if sw == SW.OK:
        return resp.data
    if sw in (SW.CONDITIONS_NOT_SATISFIED, SW.COMMAND_NOT_ALLOWED):
        raise WalletRefusedError(resp.data, sw, f"{what} refused by the card")
    if sw in (SW.SECURITY_STATUS_NOT_SATISFIED, SW.SM_DATA_INCORRECT):
        raise CryptoError(f"{what}: the card rejected the authorisation ({sw:04X})")
    if sw in (SW.INCORRECT_P1P2, SW.REFERENCED_DATA_NOT_FOUND, SW.RECORD_NOT_FOUND):
        raise PurseNotFoundError(resp.data, sw, f"{what}: no such purse or record")
    raise ApduError(resp.data, sw, f"{what} failed")


def new_terminal_nonce() -> bytes:
    """A fresh random Nt for DEBIT INIT."""
    return secrets.token_bytes(NONCE_LENGTH)


class WalletCard:
    """The wallet of one SSN card, opened on a :class:`~cardkit.transport.base.Connection`.

    ::

        wallet = WalletCard(connection)     # SELECT (1 round trip)
        wallet.status().purses

    The constructor opens an :class:`~cardkit.ssn.SsnSession` (its own protocol, SELECT,
    version, serial, life-cycle state), kept in :attr:`session` for the card's other
    commands; each wallet command is then one method.
    """

    def __init__(self, connection: Connection) -> None:
        self.session = SsnSession(connection)

    @property
    def serial(self) -> bytes:
        return self.session.serial

    @property
    def state(self) -> LifeCycle:
        """The card's life-cycle state at SELECT."""
        return self.session.state

    @property
    def version(self) -> tuple[int, int]:
        """The applet version (major, minor)."""
        return self.session.version

    def _send(self, cmd: CommandApdu, what: str) -> bytes:
        return _check(self.session.protocol.transceive(cmd), what)

    def debit_init(self, purse: int, terminal_nonce: bytes) -> InitResponse:
        """DEBIT INIT: open a value session on ``purse`` (1 round trip, spends one TC)."""
        data = self._send(
            CommandApdu(CLA, WalletIns.DEBIT_INIT, purse, 0, terminal_nonce, ne=SHORT_MAX_NE),
            "DEBIT INIT",
        )
        try:
            init = InitResponse.from_bytes(data)
        except WalletFormatError as exc:
            raise BadResponseError(f"DEBIT INIT answer: {exc}") from None
        if init.purse.index != purse:
            raise BadResponseError(f"DEBIT INIT answered purse {init.purse.index}, not {purse}")
        return init

    def _value(self, ins: WalletIns, p2: int, purse: int, data: bytes, what: str) -> DebitResponse:
        """Send a value command once; its success or :class:`UnconfirmedValueError`."""
        resp = self.session.protocol.transceive(
            CommandApdu(CLA, ins, purse, p2, data, ne=SHORT_MAX_NE, once=True)
        )
        if resp.sw != SW.OK:
            raise UnconfirmedValueError(
                resp.data,
                resp.sw,
                f"{what} answered {resp.sw:04X}, not its authenticated success: "
                "whether it committed is known only from the card's next DEBIT INIT",
            )
        try:
            return DebitResponse.from_bytes(resp.data)
        except WalletFormatError as exc:
            raise UnconfirmedValueError(
                resp.data, resp.sw, f"{what} answer unreadable ({exc}): torn"
            ) from None

    def debit(self, request: DebitRequest) -> DebitResponse:
        """DEBIT with a SAM's authorisation (right after DEBIT INIT on the same purse)."""
        return self._value(WalletIns.DEBIT, 0, request.purse, request.to_bytes(), "DEBIT")

    def undo(self, request: DebitRequest) -> DebitResponse:
        """UNDO of the card's last debit, with the same SAM's authorisation."""
        return self._value(WalletIns.UNDO, 0, request.purse, request.to_bytes(), "UNDO")

    def load(self, request: LoadRequest) -> DebitResponse:
        """LOAD with the issuer's authorisation (flags in P2)."""
        return self._value(WalletIns.LOAD, request.flags, request.purse, request.to_bytes(), "LOAD")

    def block(self, mac: bytes) -> bytes:
        """BLOCK: the card blocks itself on a SAM's order (right after DEBIT INIT). Answers
        the card's BLOCKED MAC (a 1.1 card; empty from 1.0): only that proves the block --
        a 9000 alone may come from a relay that never forwarded the command."""
        return self._send(CommandApdu(CLA, WalletIns.BLOCK, 0, 0, mac, ne=SHORT_MAX_NE), "BLOCK")

    def block_confirmed(self, order: bytes) -> bool:
        """BLOCK with a SAM's order (``BLOCK MAC ‖ expected BLOCKED``, SAM AUTHORISE BLOCK);
        True only when the card's answer is the expected BLOCKED MAC."""
        if len(order) != BLOCK_ORDER_LENGTH:
            raise ValueError("a block order is BLOCK MAC(8) ‖ expected BLOCKED(8)")
        return verify_blocked(order[MAC_LENGTH:], self.block(order[:MAC_LENGTH]))

    def status(self) -> WalletStatus:
        """READ PURSES: TC, DS, offline cumulative and cap, every configured purse (no
        session, spends nothing; not authenticated -- DEBIT INIT's answer is)."""
        data = self._send(
            CommandApdu(CLA, WalletIns.READ_PURSES, 0, 0, ne=SHORT_MAX_NE), "READ PURSES"
        )
        try:
            return WalletStatus.from_bytes(data)
        except WalletFormatError as exc:
            raise BadResponseError(f"READ PURSES answer: {exc}") from None

    def read_purses(self) -> tuple[PurseRecord, ...]:
        """The configured purses (READ PURSES)."""
        return self.status().purses

    def log(self) -> tuple[LogEntry, ...]:
        """READ LOG: the card's log, newest first (empty before the first transaction)."""
        resp = self.session.protocol.transceive(
            CommandApdu(CLA, WalletIns.READ_LOG, 0, 0, ne=SHORT_MAX_NE)
        )
        if resp.sw == SW.RECORD_NOT_FOUND:
            return ()
        data = _check(resp, "READ LOG")
        size = LogEntry.FORMAT.size
        if len(data) % size:
            raise BadResponseError(f"READ LOG answered {len(data)} bytes, not n x {size}")
        try:
            return tuple(LogEntry.from_bytes(data[i : i + size]) for i in range(0, len(data), size))
        except WalletFormatError as exc:
            raise BadResponseError(f"READ LOG answer: {exc}") from None

    def last_transaction(self) -> LastTransaction:
        """LAST TRANSACTION: the newest log entry with its RM and CONF (not authenticated)."""
        data = self._send(
            CommandApdu(CLA, WalletIns.LAST_TRANSACTION, 0, 0, ne=SHORT_MAX_NE), "LAST TRANSACTION"
        )
        return LastTransaction.from_bytes(data)
