"""Personalising an SSN card: a plan checked before anything is sent, run in one SCP03 session.

::

    plan = PersonalisationPlan.prepare(beneficiary, signer=keystore.signer("desk-01"),
                                       desk_id="desk-01", pin="1234", can="492817")
    result = personalise(SsnSession(connection), plan, keystore)

:func:`personalise` opens the issuer channel at level 33 and then, in order:
GENERATE KEY PAIR -> build and sign the identity record and the card record (bound to the
returned public key, the card serial and the identity record's hash) -> PUT DATA 03, 01, 02,
10, 11 -> read every object back (PIN and CAN through their digests) and the public key ->
SET STATUS 07. A plan with purses (``purses=wallet_purses(...)``, ``offline_cap=...``) also
loads the card's wallet keys before SET STATUS -- ``K_debit``, ``K_load``, ``K_receipt``,
diversified per card inside the key store, each DEK-encrypted with its KCV (PUT DATA 40-42)
-- then the purses (48) and the offline cap (49), and reads them back (GET DATA 40-42:
version and KCV; READ PURSES: purses and cap). The card itself refuses ISSUED unless its own
key and serial are in the card record (and, with purses, all three wallet keys and the cap),
so a card pulled half-way stays PERSONALISING, which no terminal accepts; the next run
resumes from key generation (every step is idempotent) or wipes the card.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from ..codecs.ssn import (
    CAN_TRIES,
    CLA_PROPRIETARY,
    INS_COMPARE_SECRET,
    MAX_OBJECT_SIZE,
    PIN_TRIES,
    DataObject,
    LifeCycle,
    pad_can,
    pad_pin,
)
from ..codecs.wallet import (
    MAX_U32,
    WALLET_KEY_TAGS,
    PurseConfig,
    WalletFormatError,
    WalletIns,
    WalletStatus,
    WalletTag,
    date_to_int,
    wallet_key_data,
)
from ..crypto.diversify import diversification_context, kdf_label
from ..crypto.kcv import kcv
from ..iso7816.apdu import SHORT_MAX_NE, CommandApdu
from ..iso7816.sw import SW
from ..keystore import KeyFunction, KeyStore, Signer
from ..pki import (
    CITY_TIMEZONE,
    Address,
    CardRecord,
    IdentityRecord,
    KeyVersions,
    Programme,
    public_point,
    sign_record,
)
from .beneficiary import PROGRAMMES, Beneficiary
from .errors import PersonalisationError
from .fci import CardInfo
from .keys import card_scp03_keys
from .session import SsnSession

DEFAULT_VALIDITY_YEARS = 5
_SEX = {"L": "M", "P": "F"}  # the export's laki-laki / perempuan -> ISO/IEC 5218 letters
# Placeholders used only to measure object sizes before the card is touched.
_PROBE_SERIAL = bytes(8)
_PROBE_POINT = public_point(ec.derive_private_key(1, ec.SECP256R1()).public_key())


class Interrupted(enum.Enum):
    """What to do with a card found in PERSONALISING (a previous run was cut off)."""

    RESUME = "resume"  #: run the whole personalisation again from key generation
    WIPE = "wipe"  #: SET STATUS 01: back to BLANK, nothing else


def generate_can() -> str:
    """A random 6-digit card access number, to be printed on the card."""
    return f"{secrets.randbelow(10**6):06d}"


def programmes_of(beneficiary: Beneficiary) -> tuple[Programme, ...]:
    """The beneficiary's programmes, purse i holding the i-th programme of the export."""
    codes = {code: name for name, code in PROGRAMMES.items()}
    return tuple(
        Programme(programme_id=code, purse=index, name=codes[code])
        for index, code in enumerate(beneficiary.programme_codes)
    )


def wallet_purses(
    programmes: tuple[Programme, ...], *, balance_cap: int, payment_cap: int, expiry: date
) -> tuple[PurseConfig, ...]:
    """One purse per programme (at the programme's purse index), all with the same caps."""
    return tuple(
        PurseConfig(p.purse, p.programme_id, balance_cap, payment_cap, date_to_int(expiry))
        for p in programmes
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class PersonalisationPlan:
    """Everything needed to personalise one card, checked when prepared.

    Secrets (PIN, CAN) are kept out of ``repr``.
    """

    beneficiary: Beneficiary
    programmes: tuple[Programme, ...]
    not_before: date
    not_after: date
    desk_id: str
    signer: Signer
    pin: str
    can: str
    purses: tuple[PurseConfig, ...] = ()  #: the wallet; empty: an identity-only card
    offline_cap: int = 0  #: rupiah spendable offline between issuer syncs

    def __repr__(self) -> str:
        return (
            f"PersonalisationPlan(row={self.beneficiary.row}, desk={self.desk_id!r}, "
            f"valid {self.not_before}..{self.not_after}, "
            f"programmes={[p.name for p in self.programmes]}, purses={len(self.purses)}, "
            f"offline cap {self.offline_cap})"
        )

    @classmethod
    def prepare(
        cls,
        beneficiary: Beneficiary,
        *,
        signer: Signer,
        desk_id: str,
        pin: str,
        can: str | None = None,
        programmes: tuple[Programme, ...] | None = None,
        not_before: date | None = None,
        validity_years: int = DEFAULT_VALIDITY_YEARS,
        not_after: date | None = None,
        purses: tuple[PurseConfig, ...] = (),
        offline_cap: int = 0,
    ) -> PersonalisationPlan:
        """A checked plan; ``can`` is generated when not given (read it from the plan).
        ``purses`` (see :func:`wallet_purses`) and ``offline_cap`` make it a wallet card."""
        start = not_before or datetime.now(UTC).astimezone(CITY_TIMEZONE).date()
        plan = cls(
            beneficiary=beneficiary,
            programmes=programmes_of(beneficiary) if programmes is None else tuple(programmes),
            not_before=start,
            not_after=not_after or _add_years(start, validity_years),
            desk_id=desk_id,
            signer=signer,
            pin=pin,
            can=generate_can() if can is None else can,
            purses=tuple(purses),
            offline_cap=offline_cap,
        )
        plan.validate()
        return plan

    def validate(self) -> None:
        """Check secrets, fields and record sizes; raises :class:`PersonalisationError`."""
        try:
            pad_pin(self.pin)
            pad_can(self.can)
            self._check_wallet()
            self._records(_PROBE_SERIAL, _PROBE_POINT, KeyVersions(1, 1, 1, 1))
        except ValueError as exc:
            raise PersonalisationError(
                f"cannot personalise row {self.beneficiary.row}: {exc}"
            ) from None

    def _check_wallet(self) -> None:
        if not 0 <= self.offline_cap <= MAX_U32:
            raise ValueError("the offline cap must be 0..2^32-1 rupiah")
        if not self.purses:
            if self.offline_cap:
                raise ValueError("an offline cap without purses")
            return
        indexes = [p.index for p in self.purses]
        codes = [p.programme for p in self.purses]
        if len(set(indexes)) != len(indexes) or len(set(codes)) != len(codes):
            raise ValueError("one purse per index and per programme")
        # the signed card record names each programme's purse: they must agree
        named = {(p.purse, p.programme_id) for p in self.programmes}
        for purse in self.purses:
            if (purse.index, purse.programme) not in named:
                raise ValueError(
                    f"purse {purse.index} (programme {purse.programme}) is not "
                    "one of the card record's programmes"
                )

    @property
    def has_wallet(self) -> bool:
        return bool(self.purses)

    def check_card(self, info: CardInfo) -> None:
        """Refuse, before anything is sent, objects the card could not take."""
        if info.key_versions.card_management == 0:
            raise PersonalisationError(
                "the card has no card-management keys loaded (not pre-personalised)"
            )
        limit = min(MAX_OBJECT_SIZE, info.max_command_data)
        identity, card = self._records(info.serial, _PROBE_POINT, _key_versions(info))
        sizes = {
            "identity record": len(sign_record(identity, self.signer)),
            "card record": len(sign_record(card, self.signer)),
            "desk certificate": len(self.signer.certificate_der),
        }
        for name, size in sizes.items():
            # a signature may come out a byte or two longer than this probe: keep a margin
            if size + 8 > limit:
                raise PersonalisationError(
                    f"the {name} would be about {size} bytes; the card takes at most {limit}"
                )

    def _records(
        self, serial: bytes, point: bytes, versions: KeyVersions
    ) -> tuple[IdentityRecord, CardRecord]:
        b = self.beneficiary
        rt = int(b.rt) if b.rt.isdigit() else 0
        identity = IdentityRecord(
            card_serial=serial,
            nik=b.nik,
            kk=b.kk,
            name=b.name,
            date_of_birth=b.birth_date,
            sex=_SEX.get(b.sex, b.sex),
            address=Address(street=b.street, rt=rt, kelurahan=b.kelurahan, kecamatan=b.kecamatan),
        )
        card = CardRecord(
            card_serial=serial,
            card_public_point=point,
            programmes=self.programmes,
            not_before=self.not_before,
            not_after=self.not_after,
            issuing_desk=self.desk_id,
            key_versions=versions,
            identity_digest=identity.digest(),
        )
        return identity, card


def _key_versions(info: CardInfo) -> KeyVersions:
    kv = info.key_versions
    return KeyVersions(
        card_management=kv.card_management, debit=kv.debit, load=kv.load, receipt=kv.receipt
    )


@dataclass(frozen=True)
class PersonalisationResult:
    """A personalised card (or a wiped one, with ``wiped``)."""

    serial: bytes
    state: LifeCycle
    card_record: CardRecord | None = None
    identity_record: IdentityRecord | None = None
    card_record_der: bytes | None = None
    identity_record_der: bytes | None = None
    resumed: bool = False  #: the card was found half-personalised and done again
    wiped: bool = False
    round_trips: int | None = None  #: APDU round trips of this run (after SELECT)

    @property
    def serial_hex(self) -> str:
        return self.serial.hex().upper()


def personalise(
    session: SsnSession,
    plan: PersonalisationPlan,
    keystore: KeyStore,
    *,
    on_interrupted: Interrupted = Interrupted.RESUME,
    signing_time: datetime | None = None,
) -> PersonalisationResult:
    """Personalise the card of ``session`` following ``plan`` (see the module docstring).

    Refuses (:class:`PersonalisationError`) an issued, blocked or terminated card and a
    plan the card cannot hold, before sending anything after SELECT.
    """
    start = session.round_trips
    info = _card_to_personalise(session, plan)
    resumed = info.state == LifeCycle.PERSONALISING

    def done(**fields: object) -> PersonalisationResult:
        trips = (
            None if start is None or session.round_trips is None else (session.round_trips - start)
        )
        return PersonalisationResult(serial=info.serial, round_trips=trips, **fields)  # type: ignore[arg-type]

    session.open_issuer_channel(keystore)
    if resumed and on_interrupted is Interrupted.WIPE:
        session.set_status(LifeCycle.BLANK)
        return done(state=LifeCycle.BLANK, wiped=True)

    versions = _planned_key_versions(plan, keystore, info)
    point = session.generate_key_pair()
    written = _write_records(session, plan, info, point, versions, signing_time)
    pin, can = _write_secrets(session, plan)
    wallet_check: dict[WalletTag, bytes] = {}
    if plan.has_wallet:
        wallet_check = _put_wallet(session, plan, keystore, info, versions)

    _read_back_records(session, written.objects)
    _read_back_secrets(session, pin, can)
    if plan.has_wallet:
        _read_back_wallet(session, plan, wallet_check)
    if session.card_public_key() != point:
        raise PersonalisationError("the card's public key changed during personalisation")
    session.set_status(LifeCycle.ISSUED)
    return done(
        state=LifeCycle.ISSUED,
        card_record=written.card,
        identity_record=written.identity,
        card_record_der=written.objects[DataObject.CARD_RECORD],
        identity_record_der=written.objects[DataObject.IDENTITY_RECORD],
        resumed=resumed,
    )


@dataclass(frozen=True)
class _WrittenRecords:
    """The signed records put on the card, and every object as written (for read-back)."""

    identity: IdentityRecord
    card: CardRecord
    objects: dict[DataObject, bytes]


def _card_to_personalise(session: SsnSession, plan: PersonalisationPlan) -> CardInfo:
    """The card's FCI (SELECTed afresh if a channel was open); refuses a card that is not
    BLANK or PERSONALISING, or that cannot hold the plan."""
    info = session.select() if session.channel is not None else session.info
    if info.state not in (LifeCycle.BLANK, LifeCycle.PERSONALISING):
        raise PersonalisationError(
            f"card {info.serial_hex} is {info.state.name}, not blank: refusing to personalise"
        )
    plan.check_card(info)
    return info


def _planned_key_versions(
    plan: PersonalisationPlan, keystore: KeyStore, info: CardInfo
) -> KeyVersions:
    """The key versions the card record names: the card's, and the store's current wallet
    keys when the plan has a wallet."""
    versions = _key_versions(info)
    if not plan.has_wallet:
        return versions
    return KeyVersions(
        card_management=versions.card_management,
        debit=keystore.current_version(KeyFunction.DEBIT),
        load=keystore.current_version(KeyFunction.LOAD),
        receipt=keystore.current_version(KeyFunction.RECEIPT),
    )


def _write_records(
    session: SsnSession,
    plan: PersonalisationPlan,
    info: CardInfo,
    point: bytes,
    versions: KeyVersions,
    signing_time: datetime | None,
) -> _WrittenRecords:
    """Sign the identity and card records and PUT DATA them with the desk certificate."""
    identity, card = plan._records(info.serial, point, versions)
    when = signing_time or datetime.now(UTC)
    objects = {
        DataObject.DESK_CERTIFICATE: plan.signer.certificate_der,
        DataObject.CARD_RECORD: sign_record(card, plan.signer, signing_time=when),
        DataObject.IDENTITY_RECORD: sign_record(identity, plan.signer, signing_time=when),
    }
    for tag, value in objects.items():
        session.put_data(tag, value)
    return _WrittenRecords(identity, card, objects)


def _write_secrets(session: SsnSession, plan: PersonalisationPlan) -> tuple[bytes, bytes]:
    """PUT DATA the PIN and the CAN with their tries; returns them padded (for read-back)."""
    pin, can = pad_pin(plan.pin), pad_can(plan.can)
    session.put_data(DataObject.PIN_STATUS, bytes([PIN_TRIES]) + pin, sensitive=True)
    session.put_data(DataObject.CAN_STATUS, bytes([CAN_TRIES]) + can, sensitive=True)
    return pin, can


def _read_back_records(session: SsnSession, objects: dict[DataObject, bytes]) -> None:
    """Each written object must read back byte for byte."""
    for tag, value in objects.items():
        if session.get_data(tag) != value:
            raise PersonalisationError(
                f"read-back of object {tag:02X} differs from what was written"
            )


def _read_back_secrets(session: SsnSession, pin: bytes, can: bytes) -> None:
    """The card must hold the PIN and CAN that were written, with full tries.

    Read-back is a compare inside PERSONALISING (applet 1.1): no PIN-derived value ever
    leaves the card; the card answers match or no match.
    """
    for tag, secret, name in (
        (DataObject.PIN_STATUS, bytes([PIN_TRIES]) + pin, "PIN"),
        (DataObject.CAN_STATUS, bytes([CAN_TRIES]) + can, "CAN"),
    ):
        compared = session.protocol.transceive(
            CommandApdu(CLA_PROPRIETARY, INS_COMPARE_SECRET, 0, tag, secret, sensitive=True)
        )
        if compared.sw != SW.OK:
            raise PersonalisationError(f"read-back of the {name} does not match")


def _wallet_key(
    keystore: KeyStore, function: KeyFunction, serial: bytes, aid: bytes, version: int
) -> bytes:
    """The card's wallet key, derived inside the store as the SAM / back office derive it
    (:func:`cardkit.codecs.wallet.card_key`: label = function, context = serial, AID, KVN)."""
    if version not in keystore.versions(function):
        raise PersonalisationError(
            f"the key store holds no {function.value} master version {version}"
        )
    return keystore.derive(
        function, version, kdf_label(function.value), diversification_context(serial, aid, version)
    )


_KEY_TAGS = {
    WalletTag.KEY_DEBIT: KeyFunction.DEBIT,
    WalletTag.KEY_LOAD: KeyFunction.LOAD,
    WalletTag.KEY_RECEIPT: KeyFunction.RECEIPT,
}


def _put_wallet(
    session: SsnSession,
    plan: PersonalisationPlan,
    keystore: KeyStore,
    info: CardInfo,
    versions: KeyVersions,
) -> dict[WalletTag, bytes]:
    """PUT DATA 40-42 (keys under the DEK), 48 (each purse), 49 (offline cap); returns
    what GET DATA 40-42 must read back (KVN || KCV of each key)."""
    dek = card_scp03_keys(keystore, info.serial, info.key_versions.card_management, session.aid).dek
    version_of = {
        KeyFunction.DEBIT: versions.debit,
        KeyFunction.LOAD: versions.load,
        KeyFunction.RECEIPT: versions.receipt,
    }
    expected: dict[WalletTag, bytes] = {}
    for tag in WALLET_KEY_TAGS:
        function = _KEY_TAGS[tag]
        version = version_of[function]
        key = _wallet_key(keystore, function, info.serial, session.aid, version)
        session.put_data(tag, wallet_key_data(dek, key, version), sensitive=True)
        expected[tag] = bytes([version]) + kcv(key)
    for purse in plan.purses:
        session.put_data(WalletTag.PURSE, purse.to_bytes())
    session.put_data(WalletTag.OFFLINE_CAP, plan.offline_cap.to_bytes(4, "big"))
    return expected


def _read_back_wallet(
    session: SsnSession, plan: PersonalisationPlan, expected: dict[WalletTag, bytes]
) -> None:
    """Read back the wallet: each key's version and KCV, the purses and the offline cap."""
    for tag, check in expected.items():
        if not hmac.compare_digest(session.get_data(tag), check):
            raise PersonalisationError(
                f"read-back of the {_KEY_TAGS[tag].value} key does not match"
            )
    resp = session.protocol.transceive(
        CommandApdu(CLA_PROPRIETARY, WalletIns.READ_PURSES, 0, 0, ne=SHORT_MAX_NE)
    )
    status = None
    if resp.sw == SW.OK:
        try:
            status = WalletStatus.from_bytes(resp.data)
        except WalletFormatError:
            status = None
    if status is None:
        raise PersonalisationError(f"READ PURSES failed during read-back ({resp.sw:04X})")
    if status.offline_cap != plan.offline_cap:
        raise PersonalisationError("read-back of the offline cap does not match")
    written = {p.index: p.empty_purse() for p in plan.purses}
    if {p.index: p for p in status.purses} != written:
        raise PersonalisationError("read-back of the purses does not match")
