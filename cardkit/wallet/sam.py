"""The merchant SAM as the terminal sees it: one interface, a card SAM and a software SAM.

:class:`CardSam` talks APDUs to the SAM applet (a second card in the merchant's reader):
the production path, where no master key is in laptop software. :class:`SoftwareSam` runs
the same rules in this process with keys from memory or a key store: **pilots and tests
only** -- anyone who copies the laptop copies the debit master. Both produce identical
authorisations for identical inputs and state.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..codecs.rules import ceiling_refusal, debit_refusal, undo_refusal
from ..codecs.sam import (
    AUTHORISE_DEBIT_P1_1_0,
    AUTHORISE_DEBIT_P1_1_1,
    SAM_AID,
    SAM_CLA,
    SAM_LOG_CAPACITY,
    SAM_VERSION,
    Authorisation,
    AuthoriseInput,
    BatchSignature,
    SamIdentity,
    SamInfo,
    SamIns,
    SamState,
    sam_admin_key,
    sam_batch_key,
    sam_undo_key,
    settlement_mac,
    sign_batch,
    verify_admin_mac,
)
from ..codecs.ssn import SSN_AID
from ..codecs.wallet import (
    MAX_U32,
    MAX_U64,
    WALLET_VERSION_1_1,
    DebitRequest,
    DebitResponse,
    InitResponse,
    Receipt,
    TransactionType,
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
from ..crypto.diversify import diversification_context, kdf_label
from ..errors import (
    ApduError,
    ApplicationNotAvailableError,
    BadResponseError,
    ConditionsNotSatisfiedError,
    CryptoError,
)
from ..iso7816.apdu import CommandApdu
from ..iso7816.protocol import ApduProtocol
from ..iso7816.sw import SW
from ..iso7816.tlv import Tlv
from ..keystore import KeyFunction, KeyStore
from ..transport.base import Connection

logger = logging.getLogger(__name__)

SOFTWARE_SAM_WARNING = "software SAM: pilots and tests only"


class SamRefusedError(ConditionsNotSatisfiedError):
    """The SAM will not authorise: its state, the purse rules, or an undo not its own (6985)."""


class SamCeilingError(ConditionsNotSatisfiedError):
    """The SAM's ceiling is reached: settle with the back office first (6986)."""


class SamKeyMissingError(ApduError):
    """The SAM holds no debit master of the card's key version, or no such authorisation
    (6A88)."""


@runtime_checkable
class Sam(Protocol):
    """What a payment terminal needs from a merchant SAM.

    ``terminal_nonce`` is the Nt the terminal sent in DEBIT INIT; ``date`` is ``YYYYMMDD``;
    ``amount`` is 1..2^32-1 rupiah. MAC failures raise :class:`CryptoError`, refusals
    :class:`SamRefusedError` / :class:`SamCeilingError`.
    """

    def info(self) -> SamInfo:
        """The SAM's identity, counter, ceiling use and key versions."""
        ...

    def authorise_debit(
        self,
        init: InitResponse,
        serial: bytes,
        terminal_nonce: bytes,
        amount: int,
        date: int,
        *,
        card_version: tuple[int, int] = WALLET_VERSION_1_1,
    ) -> DebitRequest:
        """Check the card's cryptogram, the purse rules and the ceiling; authorise a debit
        (with this SAM's undo lock for a 1.1 card, in the 1.0 format for a 1.0 card)."""
        ...

    def confirm(self, request: DebitRequest, response: DebitResponse) -> Receipt:
        """Check the card's confirmation of an authorised debit/undo; log and return it."""
        ...

    def authorise_undo(
        self, init: InitResponse, serial: bytes, terminal_nonce: bytes, amount: int, date: int
    ) -> DebitRequest:
        """Authorise reversing the card's last debit (only one this SAM authorised)."""
        ...

    def settle(self, settled_total: int, mac: bytes) -> None:
        """Apply a back-office settlement reset (see :func:`settlement_mac`)."""
        ...


def _raise_for(sw: int, data: bytes, what: str) -> None:
    if sw == SW.OK:
        return
    if sw == SW.SM_DATA_INCORRECT:
        raise CryptoError(f"{what}: the SAM found a MAC or cryptogram wrong")
    if sw == SW.COMMAND_NOT_ALLOWED:
        raise SamCeilingError(data, sw, f"{what}: SAM ceiling reached, settle first")
    if sw == SW.CONDITIONS_NOT_SATISFIED:
        raise SamRefusedError(data, sw, f"{what}: SAM refused")
    if sw == SW.REFERENCED_DATA_NOT_FOUND:
        raise SamKeyMissingError(data, sw, f"{what}: SAM lacks the key or record")
    raise ApduError(data, sw, what)


def _fci_version(fci: bytes) -> tuple[int, int]:
    """The applet version (major, minor) in a SAM's SELECT answer (6F / A5 / C0)."""
    try:
        proprietary = next(t for t in Tlv.from_bytes(fci).children if t.tag == 0xA5)
        version = next(t.value for t in proprietary.children if t.tag == 0xC0)
    except (StopIteration, ValueError) as exc:
        raise BadResponseError(f"the SAM's SELECT answer has no version: {exc}") from None
    if len(version) != 2:
        raise BadResponseError(f"the SAM's version has {len(version)} bytes, not 2")
    return version[0], version[1]


class CardSam:
    """A SAM applet on a card, opened on a :class:`~cardkit.transport.base.Connection`.

    ::

        sam = CardSam(connection)       # SELECT SAM (1 round trip)

    The constructor builds its own :class:`ApduProtocol`, SELECTs the SAM applet and keeps
    the applet version from its answer in :attr:`version`. Each method is one APDU (short);
    status words become :class:`SamRefusedError`, :class:`SamCeilingError`,
    :class:`SamKeyMissingError` or :class:`CryptoError` here.
    """

    def __init__(self, connection: Connection) -> None:
        if not isinstance(connection, Connection):
            raise TypeError(f"CardSam needs a Connection, not {type(connection).__name__}")
        self.protocol = ApduProtocol(connection)
        self.version = (0, 0)
        self.select()

    def select(self) -> bytes:
        """SELECT the SAM applet (again, e.g. after a power loss); return its FCI."""
        resp = self.protocol.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x00, SAM_AID, ne=256))
        if resp.sw in (SW.FILE_NOT_FOUND, SW.FUNCTION_NOT_SUPPORTED):
            raise ApplicationNotAvailableError(
                resp.data, resp.sw, f"not a merchant SAM: no application {SAM_AID.hex().upper()}"
            )
        _raise_for(resp.sw, resp.data, "SELECT SAM")
        self.version = _fci_version(resp.data)
        return resp.data

    def _call(self, cmd: CommandApdu, what: str) -> bytes:
        resp = self.protocol.transceive(cmd)
        _raise_for(resp.sw, resp.data, what)
        return resp.data

    def _cmd(
        self, ins: SamIns, data: bytes = b"", p1: int = 0, *, sensitive: bool = False, ne: int = 256
    ) -> CommandApdu:
        return CommandApdu(SAM_CLA, ins, p1, 0, data, ne=ne, sensitive=sensitive)

    def info(self) -> SamInfo:
        return SamInfo.from_bytes(self._call(self._cmd(SamIns.GET_INFO), "SAM GET INFO"))

    def pre_personalise(self, serial: bytes, transport_kvn: int, transport_key: bytes) -> None:
        """Secure-facility step: give a blank SAM its serial and transport key."""
        data = serial + bytes([transport_kvn]) + transport_key
        self._call(
            self._cmd(SamIns.PRE_PERSONALISE, data, sensitive=True, ne=0), "SAM PRE-PERSONALISE"
        )

    def personalise(self, identity: SamIdentity, mac: bytes) -> None:
        """Set SAM id, merchant, terminal and ceiling (MAC from the back office)."""
        self._call(
            self._cmd(SamIns.PERSONALISE, identity.to_bytes() + mac, ne=0), "SAM PERSONALISE"
        )

    def load_key(self, package: bytes) -> tuple[int, bytes]:
        """Load a debit master from a key-load package; return its (version, KCV)."""
        data = self._call(self._cmd(SamIns.LOAD_KEY, package, sensitive=True), "SAM LOAD KEY")
        return data[0], data[1:]

    def authorise_debit(
        self,
        init: InitResponse,
        serial: bytes,
        terminal_nonce: bytes,
        amount: int,
        date: int,
        *,
        card_version: tuple[int, int] = WALLET_VERSION_1_1,
    ) -> DebitRequest:
        data = AuthoriseInput(serial, terminal_nonce, amount, date, init).to_bytes()
        p1 = (
            AUTHORISE_DEBIT_P1_1_1 if card_version >= WALLET_VERSION_1_1 else AUTHORISE_DEBIT_P1_1_0
        )
        answer = self._call(self._cmd(SamIns.AUTHORISE_DEBIT, data, p1), "SAM AUTHORISE DEBIT")
        return DebitRequest.from_bytes(answer, init.purse.index)

    def authorise_undo(
        self, init: InitResponse, serial: bytes, terminal_nonce: bytes, amount: int, date: int
    ) -> DebitRequest:
        data = AuthoriseInput(serial, terminal_nonce, amount, date, init).to_bytes()
        answer = self._call(self._cmd(SamIns.AUTHORISE_UNDO, data), "SAM AUTHORISE UNDO")
        return DebitRequest.from_bytes(answer, init.purse.index)

    def authorise_block(self, init: InitResponse, serial: bytes, terminal_nonce: bytes) -> bytes:
        """AUTHORISE BLOCK: the MAC that makes this card (after its DEBIT INIT) block itself,
        then the BLOCKED MAC a 1.1 card answers (16 bytes)."""
        data = serial + terminal_nonce + init.to_bytes()
        return self._call(self._cmd(SamIns.AUTHORISE_BLOCK, data), "SAM AUTHORISE BLOCK")

    def confirm(self, request: DebitRequest, response: DebitResponse) -> Receipt:
        data = request.sam_counter.to_bytes(4, "big") + response.to_bytes()
        return Receipt.from_bytes(self._call(self._cmd(SamIns.CONFIRM, data), "SAM CONFIRM"))

    def settle(self, settled_total: int, mac: bytes) -> None:
        data = settled_total.to_bytes(8, "big") + mac
        self._call(self._cmd(SamIns.SETTLE, data, ne=0), "SAM SETTLE")

    def sign_batch(self, digest: bytes) -> BatchSignature:
        """SIGN BATCH: the SAM vouches for a settlement batch body (by its SHA-256)."""
        answer = self._call(self._cmd(SamIns.SIGN_BATCH, digest), "SAM SIGN BATCH")
        return BatchSignature.from_bytes(answer)

    def receipts(self) -> list[Receipt]:
        """The SAM's confirmed receipts, newest first."""
        out: list[Receipt] = []
        for n in range(SAM_LOG_CAPACITY):
            resp = self.protocol.transceive(self._cmd(SamIns.READ_RECEIPT, p1=n))
            if resp.sw == SW.RECORD_NOT_FOUND:
                break
            _raise_for(resp.sw, resp.data, "SAM READ RECEIPT")
            out.append(Receipt.from_bytes(resp.data))
        return out


class SoftwareSam:
    """The SAM's rules in this process. **Pilots and tests only**: it logs a warning.

    ``keys`` is either a mapping ``debit KVN -> debit master key`` or a :class:`KeyStore`
    (the master then never leaves the store). State (counter, ceiling use, logs) lives in
    memory; pass ``counter``/``total_authorised``/``settled_total`` to resume.
    ``transport_key`` enables :meth:`settle` with the same admin MAC as the card SAM, and
    gives the undo secrets the card SAM's ``K_undo``; without it (or ``undo_key``) a random
    ``K_undo`` lives as long as this object, so only its own debits can be undone, by it.
    ``undo_count`` / ``undo_total`` resume the undo tally SIGN BATCH vouches for.
    """

    def __init__(
        self,
        keys: Mapping[int, bytes] | KeyStore,
        *,
        serial: bytes,
        identity: SamIdentity,
        transport_key: bytes | None = None,
        transport_kvn: int = 0,
        counter: int = 0,
        total_authorised: int = 0,
        settled_total: int = 0,
        admin_sequence: int = 1,
        batch_sequence: int = 0,
        undo_key: bytes | None = None,
        undo_count: int = 0,
        undo_total: int = 0,
    ) -> None:
        logger.warning(SOFTWARE_SAM_WARNING)
        self._keys = keys
        self.serial = bytes(serial)
        self.identity = identity
        self._transport_key = transport_key
        self._transport_kvn = transport_kvn
        self.counter = counter
        self.total_authorised = total_authorised
        self.settled_total = settled_total
        self.admin_sequence = admin_sequence  # 1: its personalisation counts as the first
        self.batch_sequence = batch_sequence  # batches signed so far
        if undo_key is None:
            undo_key = (
                sam_undo_key(transport_key, self.serial)
                if transport_key is not None
                else os.urandom(16)
            )
        self._undo_key = undo_key
        self.undo_count = undo_count  # undos authorised, ever
        self.undo_total = undo_total
        self._authorisations: list[Authorisation] = []  # newest first
        self._receipts: list[Receipt] = []

    def __repr__(self) -> str:  # no keys in logs (K_undo included)
        return f"SoftwareSam(serial={self.serial.hex()}, counter={self.counter})"

    def _debit_kvns(self) -> tuple[int, ...]:
        if isinstance(self._keys, Mapping):
            return tuple(sorted(self._keys))
        return tuple(self._keys.versions(KeyFunction.DEBIT))

    def _card_debit_key(self, serial: bytes, kvn: int) -> bytes:
        if kvn not in self._debit_kvns():
            raise SamKeyMissingError(
                b"", SW.REFERENCED_DATA_NOT_FOUND, f"software SAM has no debit master v{kvn}"
            )
        if isinstance(self._keys, Mapping):
            return card_key(self._keys[kvn], "debit", serial, kvn)
        return self._keys.derive(
            KeyFunction.DEBIT,
            kvn,
            kdf_label("debit"),
            diversification_context(serial, SSN_AID, kvn),
        )

    def info(self) -> SamInfo:
        return SamInfo(
            SAM_VERSION,
            SamState.ACTIVE,
            self.serial,
            self._transport_kvn,
            self.identity,
            self.counter,
            self.total_authorised,
            self.settled_total,
            self.admin_sequence,
            self._debit_kvns(),
            software=True,
        )

    def _checked(
        self, init: InitResponse, serial: bytes, nt: bytes, amount: int, date: int
    ) -> tuple[AuthoriseInput, bytes]:
        auth = AuthoriseInput(serial, nt, amount, date, init)
        k_debit = self._card_debit_key(serial, init.kvn_debit)
        if not verify_card_cryptogram(k_debit, serial, init, nt):
            raise CryptoError("the card's cryptogram is wrong")
        return auth, k_debit

    def _next_counter(self) -> int:
        if self.counter >= MAX_U32:
            raise SamRefusedError(b"", SW.CONDITIONS_NOT_SATISFIED, "SAM counter exhausted")
        return self.counter + 1

    def _remember(self, auth: AuthoriseInput, kind: TransactionType, counter: int) -> None:
        init = auth.init
        self._authorisations.insert(
            0,
            Authorisation(
                counter,
                kind,
                auth.serial,
                init.kvn_debit,
                init.kvn_receipt,
                init.tc,
                init.purse.index,
                auth.amount,
                auth.date,
            ),
        )
        del self._authorisations[SAM_LOG_CAPACITY:]

    def authorise_debit(
        self,
        init: InitResponse,
        serial: bytes,
        terminal_nonce: bytes,
        amount: int,
        date: int,
        *,
        card_version: tuple[int, int] = WALLET_VERSION_1_1,
    ) -> DebitRequest:
        auth, k_debit = self._checked(init, serial, terminal_nonce, amount, date)
        reason = debit_refusal(init, amount, date)
        if reason is not None:
            raise SamRefusedError(b"", SW.CONDITIONS_NOT_SATISFIED, reason)
        reason = ceiling_refusal(
            self.total_authorised, self.settled_total, self.identity.ceiling, amount
        )
        if reason is not None:
            raise SamCeilingError(b"", SW.COMMAND_NOT_ALLOWED, reason)
        counter = self._next_counter()
        self.counter, self.total_authorised = counter, self.total_authorised + amount
        self._remember(auth, TransactionType.DEBIT, counter)
        ident = self.identity
        lock = b""
        if card_version >= WALLET_VERSION_1_1:
            secret = undo_secret(self._undo_key, serial, init.tc, counter)
            lock = undo_lock(serial, init.tc, secret)
        return sign_debit(
            k_debit,
            auth.session(),
            amount,
            date,
            ident.merchant,
            ident.terminal,
            ident.sam_id,
            counter,
            lock,
        )

    def authorise_undo(
        self, init: InitResponse, serial: bytes, terminal_nonce: bytes, amount: int, date: int
    ) -> DebitRequest:
        auth, k_debit = self._checked(init, serial, terminal_nonce, amount, date)
        last = init.last.entry
        own = next((a for a in self._authorisations if a.sam_counter == last.sam_counter), None)
        reason = undo_refusal(auth, self.identity, own)
        if reason is not None:
            raise SamRefusedError(b"", SW.CONDITIONS_NOT_SATISFIED, reason)
        counter = self._next_counter()
        if self.undo_count >= MAX_U32 or self.undo_total + amount > MAX_U64:
            raise SamRefusedError(b"", SW.CONDITIONS_NOT_SATISFIED, "undo tally exhausted")
        self.counter = counter
        self.undo_count += 1
        self.undo_total += amount
        self._remember(auth, TransactionType.UNDO, counter)
        ident = self.identity
        return sign_undo(
            k_debit,
            auth.session(),
            last,
            amount,
            date,
            ident.merchant,
            ident.terminal,
            ident.sam_id,
            counter,
            undo_secret(self._undo_key, serial, last.tc, last.sam_counter),
        )

    def authorise_block(self, init: InitResponse, serial: bytes, terminal_nonce: bytes) -> bytes:
        """The BLOCK MAC for a hotlisted card, after checking its cryptogram, then the
        BLOCKED MAC a 1.1 card answers (16 bytes, as SAM AUTHORISE BLOCK)."""
        k_debit = self._card_debit_key(serial, init.kvn_debit)
        if not verify_card_cryptogram(k_debit, serial, init, terminal_nonce):
            raise CryptoError("the card's cryptogram is wrong")
        session = WalletSession.from_init(serial, init, terminal_nonce)
        return block_mac(k_debit, session) + blocked_mac(k_debit, session)

    def confirm(self, request: DebitRequest, response: DebitResponse) -> Receipt:
        own = next((a for a in self._authorisations if a.sam_counter == request.sam_counter), None)
        if own is None:
            raise SamKeyMissingError(b"", SW.REFERENCED_DATA_NOT_FOUND, "no such authorisation")
        receipt = own.receipt(self.identity, response)
        if not verify_confirmation(self._card_debit_key(own.serial, own.kvn_debit), receipt):
            raise CryptoError("the card's confirmation is wrong")
        if receipt not in self._receipts:
            self._receipts.insert(0, receipt)
            del self._receipts[SAM_LOG_CAPACITY:]
        return receipt

    def receipts(self) -> list[Receipt]:
        """Confirmed receipts, newest first."""
        return list(self._receipts)

    def settle(self, settled_total: int, mac: bytes) -> None:
        if self._transport_key is None:
            raise SamRefusedError(
                b"",
                SW.CONDITIONS_NOT_SATISFIED,
                "software SAM has no transport key to check settlements",
            )
        expected = settlement_mac(
            sam_admin_key(self._transport_key, self.serial),
            self.serial,
            self.admin_sequence,
            settled_total,
        )
        if not verify_admin_mac(expected, mac):
            raise CryptoError("settlement MAC is wrong")
        if not self.settled_total <= settled_total <= self.total_authorised:
            raise ApduError(b"", SW.WRONG_DATA, "settled total out of range")
        self.settled_total = settled_total
        self.admin_sequence += 1

    def sign_batch(self, digest: bytes) -> BatchSignature:
        """Vouch for a settlement batch body (by its SHA-256), as SAM SIGN BATCH does."""
        if self._transport_key is None:
            raise SamRefusedError(
                b"",
                SW.CONDITIONS_NOT_SATISFIED,
                "software SAM has no transport key to sign batches",
            )
        if self.batch_sequence >= MAX_U32:
            raise SamRefusedError(b"", SW.CONDITIONS_NOT_SATISFIED, "batch counter exhausted")
        self.batch_sequence += 1
        return sign_batch(
            sam_batch_key(self._transport_key, self.serial),
            self.serial,
            self.identity,
            self.batch_sequence,
            self.counter,
            self.total_authorised,
            digest,
            undo_count=self.undo_count,
            undo_total=self.undo_total,
        )


#: The serial of the pilots' software SAM ("SOFTSAM" 01).
SOFTWARE_SAM_SERIAL = bytes.fromhex("534F465453414D01")


def software_sam_transport_key(store: KeyStore) -> bytes | None:
    """The pilots' software SAM's transport key, diversified in ``store`` from its current
    SAM-transport master (None if it holds none: the SAM then keeps its own undo key)."""
    if not store.versions(KeyFunction.SAM_TRANSPORT):
        return None
    version = store.current_version(KeyFunction.SAM_TRANSPORT)
    return store.derive(
        KeyFunction.SAM_TRANSPORT,
        version,
        kdf_label("sam-transport"),
        diversification_context(SOFTWARE_SAM_SERIAL, SAM_AID, version),
    )


class PersistentSoftwareSam(SoftwareSam):
    """A :class:`SoftwareSam` whose state survives restarts (a JSON file, written atomically
    and fsynced before an authorisation leaves): counters, the undo tally SIGN BATCH vouches
    for, the recent authorisations, and -- when no transport key is given -- its own undo
    key, so a sale made before a restart can still be undone after it. Pilots only."""

    def __init__(
        self,
        keystore: KeyStore,
        state_path: Path,
        identity: SamIdentity,
        transport_key: bytes | None,
    ) -> None:
        self.state_path = state_path
        state: dict[str, Any] = {}
        if state_path.exists():
            state = json.loads(state_path.read_text(encoding="utf-8"))
        super().__init__(
            keystore,
            serial=SOFTWARE_SAM_SERIAL,
            identity=identity,
            transport_key=transport_key,
            counter=state.get("counter", 0),
            total_authorised=state.get("total_authorised", 0),
            settled_total=state.get("settled_total", 0),
            admin_sequence=state.get("admin_sequence", 1),
            batch_sequence=state.get("batch_sequence", 0),
            undo_key=(
                bytes.fromhex(state["undo_key"])
                if transport_key is None and "undo_key" in state
                else None
            ),
            undo_count=state.get("undo_count", 0),
            undo_total=state.get("undo_total", 0),
        )
        self._keep_undo_key = transport_key is None
        self._authorisations = [
            Authorisation.from_bytes(bytes.fromhex(a)) for a in state.get("authorisations", [])
        ]

    def _save(self) -> None:
        state = {
            "counter": self.counter,
            "total_authorised": self.total_authorised,
            "settled_total": self.settled_total,
            "admin_sequence": self.admin_sequence,
            "batch_sequence": self.batch_sequence,
            "authorisations": [a.to_bytes().hex() for a in self._authorisations],
            "undo_count": self.undo_count,
            "undo_total": self.undo_total,
        }
        if self._keep_undo_key:  # a pilot SAM's own key: the file is the SAM (mode 0600)
            state["undo_key"] = self._undo_key.hex()
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f".{self.state_path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def authorise_debit(
        self,
        init: InitResponse,
        serial: bytes,
        terminal_nonce: bytes,
        amount: int,
        date: int,
        **kwargs: Any,
    ) -> DebitRequest:
        request = super().authorise_debit(init, serial, terminal_nonce, amount, date, **kwargs)
        self._save()  # before the authorisation leaves: a counter is never reused
        return request

    def authorise_undo(
        self, init: InitResponse, serial: bytes, terminal_nonce: bytes, amount: int, date: int
    ) -> DebitRequest:
        request = super().authorise_undo(init, serial, terminal_nonce, amount, date)
        self._save()
        return request

    def confirm(self, request: DebitRequest, response: DebitResponse) -> Receipt:
        receipt = super().confirm(request, response)
        self._save()
        return receipt

    def sign_batch(self, digest: bytes) -> BatchSignature:
        signature = super().sign_batch(digest)
        self._save()
        return signature
