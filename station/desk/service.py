"""The issuance desk's work, without Qt: clerks, households, reviews, issuing, card services.

Everything the desk window does is a method here; the window only asks and shows. Card
operations take a :class:`~cardkit.transport.base.Connection` (the reader worker opens it)
and a ``progress`` callback naming the step reached. Expected failures are
:class:`DeskError` with a message code (translated by the window) and fields.

Parts used and where they come from:

* the register (:class:`cardkit.register.Register`): households, the review queue, cards
  issued, one active card per household enforced by its database;
* desk tables of our own in the register's database (``desk_clerks``, ``desk_claims``,
  ``desk_loads``): a claim row per household being issued (its primary key makes the
  database refuse a second desk, and tells who holds it);
* the back office through :class:`BackOffice` (shadow balance, block, load booking);
  :class:`LedgerBackOffice` implements it over :class:`cardkit.backoffice.SettlementLedger`;
* the audit log: :class:`keys.audit.AuditLog` (append-only, hash-chained).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cardkit.backoffice import TRANSFER_AGENCY, ReplacementQuote, SettlementLedger
from cardkit.codecs.wallet import PurseConfig, Receipt
from cardkit.errors import (
    ApplicationNotAvailableError,
    CardkitError,
    InvalidPinError,
    PinBlockedError,
    TransportError,
)
from cardkit.keystore import KeyStore
from cardkit.pki import TrustStore
from cardkit.register import Register
from cardkit.register.errors import RegisterError
from cardkit.register.schema import ACTIVE, cards, households, persons
from cardkit.ssn import (
    Interrupted,
    LifeCycle,
    PersonalisationError,
    PersonalisationPlan,
    SsnSession,
    personalise,
    verify_card,
    wallet_purses,
)
from cardkit.ssn.beneficiary import Beneficiary
from cardkit.transport.base import Connection
from cardkit.wallet import LoadSequence, WalletIssuer
from cardkit.wallet.card import WalletCard
from cardkit.wallet.issuer import PendingLoad
from cardkit.wallet.journal import LoadJournal
from keys.audit import AuditLog

TARGET_HOUSEHOLDS = 53_679  #: households the programme must reach
ROLES = ("clerk", "supervisor")
#: City agencies (OPD) that load programme funds: code -> name.
AGENCIES: dict[int, str] = {
    0x0701: "Dinas Sosial",
    0x0702: "Dinas Kesehatan",
    0x0703: "Dinas Pendidikan",
    0x0704: "Dinas Ketahanan Pangan",
}
BALANCE_CAP = 2_000_000
PAYMENT_CAP = 500_000
OFFLINE_CAP = 1_000_000
VALIDITY_YEARS = 5
#: Samarinda's ten kecamatan: the dashboard shows each, with or without cards yet.
KECAMATAN = (
    "PALARAN",
    "SAMARINDA ILIR",
    "SAMARINDA SEBERANG",
    "SUNGAI KUNJANG",
    "SAMARINDA ULU",
    "SAMARINDA UTARA",
    "SAMBUTAN",
    "SUNGAI PINANG",
    "SAMARINDA KOTA",
    "LOA JANAN ILIR",
)
PROGRAMME_NAMES = ("PKH", "BPNT", "KKS")
ISSUE_STEPS = ("check", "personalise", "verify", "print", "record")

Progress = Callable[[str], None]


class DeskError(Exception):
    """An expected failure the clerk can act on: ``code`` names the message, ``fields``
    fill it in. Register refusals carry the register's own two messages."""

    def __init__(self, code: str, **fields: Any) -> None:
        super().__init__(code, fields)
        self.code = code
        self.fields = fields

    def __str__(self) -> str:
        return f"{self.code}: {self.fields}"


# --- passwords -------------------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # 16 MiB per guess


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of ``password`` with a fresh salt."""
    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(
        password.encode()
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time compare inside scrypt)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    kdf = Scrypt(salt=bytes.fromhex(salt), length=32, n=int(n), r=int(r), p=int(p))
    try:
        kdf.verify(password.encode(), bytes.fromhex(digest))
    except InvalidKey:
        return False
    return True


_DUMMY_HASH = hash_password(secrets.token_hex(8))  # an unknown name costs as much as a known


# --- desk tables (in the register's database) -------------------------------------------

desk_metadata = sa.MetaData()
desk_clerks = sa.Table(
    "desk_clerks",
    desk_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password", sa.String(256), nullable=False),
)
desk_claims = sa.Table(
    "desk_claims",
    desk_metadata,
    sa.Column("kk", sa.String(16), primary_key=True),  # the database refuses a second desk
    sa.Column("desk", sa.String(64), nullable=False),
    sa.Column("clerk", sa.String(64), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
)
desk_loads = sa.Table(
    "desk_loads",
    desk_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("serial", sa.String(16), nullable=False, index=True),
    sa.Column("purse", sa.Integer, nullable=False),
    sa.Column("programme", sa.String(16), nullable=False),
    sa.Column("agency", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("clerk", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the back office ------------------------------------------------------------------


class BackOffice(Protocol):
    """What the desk needs from the back office."""

    def register_card(
        self, serial: bytes, *, offline_cap: int, purses: tuple[PurseConfig, ...]
    ) -> None:
        """Record an issued card with the caps it was written with: settlement flags a
        payment over a purse's cap or the card's offline cap, and a replacement holds back
        no more than the offline cap."""
        ...

    def replacement_quote(self, serial: bytes) -> ReplacementQuote:
        """What may move from this lost card to its replacement now, per purse: its shadow
        balance (loads - settled spends + undos - moved, never read from the card) less
        what it can still spend offline until the settlement window has passed."""
        ...

    def record_load(self, receipt: Receipt) -> None:
        """Book a load the desk made (its receipt, checked under K_load)."""
        ...

    def record_transfer(self, receipt: Receipt, moved_from: bytes) -> None:
        """Book a load of money moved from the lost card ``moved_from`` (it leaves that
        card's shadow balance in the same booking)."""
        ...

    def block(self, serial: bytes, reason: str) -> None:
        """Put the card on the next hotlist; its later receipts are flagged."""
        ...


class LedgerBackOffice:
    """:class:`BackOffice` over the back office's ledger (:class:`cardkit.backoffice.Ledger`):
    the shadow balance is the ledger's own (issuer loads, settled debits and undos).

    ``open_ledger`` opens the ledger; one is opened per thread that uses it (the GUI
    thread, the reader's worker), as a SQLite connection serves only its own thread.
    """

    def __init__(self, open_ledger: Callable[[], SettlementLedger]) -> None:
        self._open = open_ledger
        self._local = threading.local()

    @property
    def ledger(self) -> SettlementLedger:
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = self._local.ledger = self._open()
        return ledger

    def register_card(
        self, serial: bytes, *, offline_cap: int, purses: tuple[PurseConfig, ...]
    ) -> None:
        self.ledger.register_card(serial, offline_cap=offline_cap, purses=purses)

    def replacement_quote(self, serial: bytes) -> ReplacementQuote:
        return self.ledger.replacement_quote(serial)

    def record_load(self, receipt: Receipt) -> None:
        self.ledger.record_load(receipt)

    def record_transfer(self, receipt: Receipt, moved_from: bytes) -> None:
        self.ledger.record_transfer(receipt, moved_from=moved_from)

    def block(self, serial: bytes, reason: str) -> None:
        with self.ledger.transaction():
            self.ledger.block(serial, reason)


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplacementPlan:
    """What moves from a lost card to its replacement now, and what waits."""

    moves: dict[int, int]  #: purse -> rupiah that move now (the shadow balance less holdback)
    held: int  #: rupiah the lost card's record keeps (what it could still spend offline)
    held_until: dt.datetime | None  #: when ``held`` can move too (None: nothing held)


@dataclass(frozen=True)
class Clerk:
    """A logged-in clerk."""

    name: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


@dataclass(frozen=True)
class HouseholdSummary:
    """One line of a search result."""

    kk: str
    head: str
    nik: str
    kecamatan: str
    status: str  #: eligible | review | card-active | card-blocked | inactive
    card: str | None


@dataclass(frozen=True)
class CardFace:
    """What is printed on the card (both sides); no number is typed by hand."""

    serial: str
    name: str
    masked_nik: str
    can: str
    kelurahan: str
    kecamatan: str
    valid_until: dt.date
    programmes: tuple[str, ...]
    photo: Path | None
    development: bool

    @property
    def qr_payload(self) -> str:
        """What the QR code carries: the card serial and its check value, nothing else."""
        return qr_payload(self.serial)


@dataclass
class Issuance:
    """A card being issued: personalised and verified; printed and recorded when done."""

    kk: str
    face: CardFace
    resumed: bool = False
    printed: bool = False
    recorded: bool = False
    round_trips: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: the wallet the card was written with (the back office registers its caps)
    purses: tuple[PurseConfig, ...] = ()
    offline_cap: int = 0


@dataclass(frozen=True)
class CardReport:
    """A presented card, read and verified."""

    serial: str
    verdict: str
    genuine: bool
    state: str
    reasons: tuple[str, ...]
    programmes: tuple[str, ...]
    balances: dict[int, int]
    register_state: str | None
    kk: str | None


@dataclass(frozen=True)
class Dashboard:
    """Figures for the dashboard charts."""

    target: int
    issued: int
    by_kecamatan: dict[str, int]
    by_kelurahan: dict[str, int]
    funds_by_programme: dict[str, int]
    reviews_by_kind: dict[str, int]


def mask_nik(nik: str) -> str:
    """The NIK as printed: region and serial kept, birth date hidden."""
    return nik[:6] + "******" + nik[-4:]


def check_value(serial_hex: str) -> str:
    """Two-digit ISO 7064 MOD 97-10 check value of a hex card serial."""
    return f"{98 - (int(serial_hex, 16) * 100) % 97:02d}"


def qr_payload(serial_hex: str) -> str:
    """``SSN:<serial hex>:<check>``: what the card face's QR code carries."""
    return f"SSN:{serial_hex.upper()}:{check_value(serial_hex)}"


def parse_qr_payload(text: str) -> str:
    """The card serial from a scanned QR payload; ``DeskError`` if the check fails."""
    parts = text.split(":")
    if (
        len(parts) != 3
        or parts[0] != "SSN"
        or not hmac.compare_digest(check_value(parts[1]), parts[2])
    ):
        raise DeskError("qr-invalid")
    return parts[1]


def rupiah(amount: int) -> str:
    """``Rp 1.500.000`` (Indonesian grouping)."""
    return f"Rp {amount:,}".replace(",", ".")


class DeskService:
    """The desk ``desk_id`` on ``register``, with its key store, back office and audit log.

    ``workdir`` holds the desk's load sequence file. ``development`` marks the DEVELOPMENT
    key set: it is printed on every card face and shown on screen.
    """

    def __init__(
        self,
        register: Register,
        keystore: KeyStore,
        backoffice: BackOffice,
        audit: AuditLog,
        *,
        desk_id: str = "desk-01",
        desk_number: int = 1,
        workdir: Path,
        development: bool = False,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.register = register
        self.keystore = keystore
        self.backoffice = backoffice
        self.audit = audit
        self.desk_id = desk_id
        self.desk_number = desk_number
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.development = development
        self.clock = clock
        self.clerk: Clerk | None = None
        #: Cards written but not yet verified (a card pulled while being checked): kk -> issuance.
        self._written: dict[str, Issuance] = {}
        #: Loads whose answer never came (the card pulled): serial -> (pending, agency).
        # card -> (the load cut short, its agency, the lost card a move came from)
        self._pending_loads: dict[str, tuple[PendingLoad, int, str | None]] = {}
        self.trust = TrustStore([keystore.signer("root").certificate_der])
        self.sequence = LoadSequence(self.workdir / "load-sequence")
        self._journals = threading.local()
        desk_metadata.create_all(register.engine)

    @property
    def load_journal(self) -> LoadJournal:
        """The desk's pending loads, journaled before LOAD is sent (they survive a crash of
        the desk); one SQLite connection per thread that uses it (GUI, reader worker)."""
        journal = getattr(self._journals, "journal", None)
        if journal is None:
            journal = self._journals.journal = LoadJournal(self.workdir / "pending-loads.sqlite")
        return journal

    @property
    def engine(self) -> sa.Engine:
        return self.register.engine

    def _log(self, event: str, **fields: Any) -> None:
        clerk = self.clerk.name if self.clerk else "-"
        self.audit.append(event, desk=self.desk_id, clerk=clerk, **fields)

    def _who(self) -> Clerk:
        if self.clerk is None:
            raise DeskError("not-logged-in")
        return self.clerk

    # --- clerks ----------------------------------------------------------------------

    def add_clerk(self, name: str, password: str, role: str = "clerk") -> None:
        """Create (or replace) a clerk account; the password is kept only as a scrypt hash."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if len(password) < 8:
            raise DeskError("password-short")
        with self.engine.begin() as conn:
            conn.execute(desk_clerks.delete().where(desk_clerks.c.name == name))
            conn.execute(
                desk_clerks.insert().values(name=name, role=role, password=hash_password(password))
            )
        self._log("clerk-added", account=name, role=role)

    def has_clerks(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(sa.select(sa.func.count()).select_from(desk_clerks)).scalar_one() > 0
            )

    def _check(self, name: str, password: str) -> Clerk | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(desk_clerks).where(desk_clerks.c.name == name)).first()
        if row is None:
            check_password(password, _DUMMY_HASH)
            return None
        return Clerk(row.name, row.role) if check_password(password, row.password) else None

    def login(self, name: str, password: str) -> Clerk:
        """Log a clerk in; ``DeskError("login-failed")`` for a wrong name or password."""
        clerk = self._check(name, password)
        if clerk is None:
            self.audit.append("login-failed", desk=self.desk_id, account=name)
            raise DeskError("login-failed")
        self.clerk = clerk
        self._log("login", role=clerk.role)
        return clerk

    def logout(self) -> None:
        if self.clerk is not None:
            self._log("logout")
        self.clerk = None

    def confirm_supervisor(self, name: str, password: str, action: str) -> Clerk:
        """A supervisor's confirmation of ``action``; refused for a wrong password or a
        clerk without the role (and logged either way)."""
        clerk = self._who()
        supervisor = self._check(name, password)
        if supervisor is None or not supervisor.supervisor:
            self._log("supervisor-refused", action=action, supervisor=name)
            raise DeskError("supervisor-refused")
        if supervisor.name == clerk.name:
            self._log("supervisor-refused", action=action, supervisor=name)
            raise DeskError("supervisor-self")
        self._log("supervisor-confirmed", action=action, supervisor=supervisor.name)
        return supervisor

    # --- households ------------------------------------------------------------------

    def find(self, query: str) -> list[HouseholdSummary]:
        """Households whose NIK, KK, head's name (part of it) or card serial match."""
        query = query.strip()
        if not query:
            return []
        with self.engine.connect() as conn:
            kks = set(self.register.find(query))
            if not kks:
                serial = query.upper()
                if serial.startswith("SSN:"):
                    serial = parse_qr_payload(serial)
                kks |= set(
                    conn.execute(sa.select(cards.c.kk).where(cards.c.serial == serial)).scalars()
                )
            if not kks and len(query) >= 3:
                pattern = f"%{query.upper()}%"
                kks |= set(
                    conn.execute(
                        sa.select(persons.c.kk)
                        .distinct()
                        .where(sa.func.upper(persons.c.name).like(pattern))
                        .limit(50)
                    ).scalars()
                )
        return [self.summary(kk) for kk in sorted(kks)]

    def summary(self, kk: str) -> HouseholdSummary:
        """One household's line: head, status, card."""
        view = self.register.household(kk)
        active = [m for m in view.members if m["status"] == ACTIVE]
        head = active[0] if active else (view.members[0] if view.members else {})
        card = next((c for c in view.cards if c.state == ACTIVE), None)
        blocked = next((c for c in reversed(view.cards) if c.state == "blocked"), None)
        if view.status != ACTIVE or not active:
            status = "inactive"
        elif view.open_items:
            status = "review"
        elif card is not None:
            status = "card-active"
        elif blocked is not None:
            status = "card-blocked"
        else:
            status = "eligible"
        shown = card or blocked
        return HouseholdSummary(
            kk,
            str(head.get("name", "")),
            str(head.get("nik", "")),
            view.kecamatan,
            status,
            shown.serial if shown else None,
        )

    def beneficiary(self, kk: str) -> Beneficiary:
        """The household head as a :class:`Beneficiary` (for the card's records)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(persons)
                    .where(persons.c.kk == kk)
                    .where(persons.c.status == ACTIVE)
                    .order_by(persons.c.source_no)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise DeskError("household-inactive", kk=kk)
        birth = row["birth_date"]
        return Beneficiary.from_row(
            {
                "NO": str(row["source_no"]),
                "NIK": row["nik"],
                "NO_KK": row["kk"],
                "NAMA": row["name"],
                "JENIS_KELAMIN": row["sex"],
                "TEMPAT_LAHIR": row["birth_place"],
                "TANGGAL_LAHIR": (
                    birth if isinstance(birth, dt.date) else dt.date.fromisoformat(str(birth))
                ).strftime("%d-%m-%Y"),
                "ALAMAT": row["address"],
                "RT": row["rt"],
                "KELURAHAN": row["kelurahan"],
                "KECAMATAN": row["kecamatan"],
                "STATUS_BANSOS": row["programmes"] or "",
            }
        )

    # --- reviews ---------------------------------------------------------------------

    def reviews(self, kk: str | None = None) -> list[Any]:
        """Open review items (all, or one household's)."""
        return self.register.review_items(kk=kk)

    def review_detail(self, item_id: int) -> Any:
        return self.register.review_item(item_id)

    def decide(
        self, item_id: int, action: str, *, keep: int | None = None, reason: str | None = None
    ) -> Any:
        """Decide a review item as the logged-in clerk (logged)."""
        clerk = self._who()
        try:
            decision = self.register.decide(
                item_id, action, clerk=clerk.name, keep=keep, reason=reason
            )
        except RegisterError as exc:
            raise _register_error(exc) from None
        self._log("review-decided", item=item_id, action=action, kept=keep)
        return decision

    # --- claims: one desk per household at a time ------------------------------------

    def claim(self, kk: str) -> None:
        """Hold household ``kk`` for this desk while its card is made; another desk
        holding it is ``DeskError("household-claimed", desk=, clerk=)``."""
        clerk = self._who()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    desk_claims.insert().values(
                        kk=kk, desk=self.desk_id, clerk=clerk.name, claimed_at=_now()
                    )
                )
        except sa.exc.IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(desk_claims).where(desk_claims.c.kk == kk)).first()
            if row is not None and row.desk == self.desk_id:
                return  # our own claim (a retry after a pulled card)
            raise DeskError(
                "household-claimed",
                kk=kk,
                desk=row.desk if row else "?",
                clerk=row.clerk if row else "?",
            ) from None
        self._log("household-claimed", kk=kk)

    def release(self, kk: str) -> None:
        """Let go of this desk's claim on ``kk``."""
        with self.engine.begin() as conn:
            conn.execute(
                desk_claims.delete()
                .where(desk_claims.c.kk == kk)
                .where(desk_claims.c.desk == self.desk_id)
            )

    def _preflight(self, kk: str) -> None:
        summary = self.summary(kk)
        if summary.status == "review":
            raise DeskError("household-in-review", kk=kk)
        if summary.status == "card-active":
            raise DeskError("household-has-card", kk=kk, serial=summary.card)
        if summary.status == "inactive":
            raise DeskError("household-inactive", kk=kk)

    # --- issuing ---------------------------------------------------------------------

    def _plan(self, kk: str, pin: str) -> PersonalisationPlan:
        beneficiary = self.beneficiary(kk)
        signer = self.keystore.signer(self.desk_id)
        base = PersonalisationPlan.prepare(
            beneficiary, signer=signer, desk_id=self.desk_id, pin=pin, validity_years=VALIDITY_YEARS
        )
        return PersonalisationPlan.prepare(
            beneficiary,
            signer=signer,
            desk_id=self.desk_id,
            pin=pin,
            can=base.can,
            validity_years=VALIDITY_YEARS,
            offline_cap=OFFLINE_CAP if base.programmes else 0,
            purses=wallet_purses(
                base.programmes,
                balance_cap=BALANCE_CAP,
                payment_cap=PAYMENT_CAP,
                expiry=base.not_after,
            ),
        )

    def inspect(self, connection: Connection) -> LifeCycle:
        """The presented card's state; a card of another system is ``foreign-card``."""
        return _open(connection).state

    def personalise(
        self,
        connection: Connection,
        kk: str,
        *,
        pin: str,
        photo: Path | None = None,
        progress: Progress = lambda step: None,
        interrupted: Interrupted | None = None,
    ) -> Issuance:
        """Claim ``kk``, personalise the presented card and verify it by reading it back.

        A card left half-personalised by a pulled card is ``DeskError("card-interrupted")``
        unless ``interrupted`` says what to do: RESUME (do it all again) or WIPE (back to
        blank: ``DeskError("card-wiped")``, present it again).
        """
        self._who()
        progress("check")
        self._preflight(kk)
        self.claim(kk)
        session = _open(connection)
        written = self._written.get(kk)
        if (
            written is not None
            and session.state is LifeCycle.ISSUED
            and session.serial.hex().upper() == written.face.serial
        ):
            progress("verify")  # written before the card was pulled: check it now
            self._verify_issued(connection, session.serial)
            del self._written[kk]
            return written
        plan = self._plan(kk, pin)
        if session.state is LifeCycle.PERSONALISING and interrupted is None:
            raise DeskError("card-interrupted", serial=session.serial.hex().upper())
        if session.state not in (LifeCycle.BLANK, LifeCycle.PERSONALISING):
            raise DeskError(
                "card-not-blank", serial=session.serial.hex().upper(), state=session.state.name
            )
        progress("personalise")
        try:
            result = personalise(
                session, plan, self.keystore, on_interrupted=interrupted or Interrupted.RESUME
            )
        except TransportError:
            self._log("card-pulled", kk=kk, step="personalise", serial=session.serial.hex().upper())
            raise DeskError("card-pulled-personalising") from None
        except PersonalisationError as exc:
            raise DeskError("personalise-failed", why=str(exc)) from None
        if result.wiped:
            self._log("card-wiped", serial=result.serial_hex)
            raise DeskError("card-wiped", serial=result.serial_hex)
        self._log("card-personalised", kk=kk, serial=result.serial_hex, resumed=result.resumed)
        face = CardFace(
            serial=result.serial_hex,
            name=plan.beneficiary.name,
            masked_nik=mask_nik(plan.beneficiary.nik),
            can=plan.can,
            kelurahan=plan.beneficiary.kelurahan,
            kecamatan=plan.beneficiary.kecamatan,
            valid_until=plan.not_after,
            programmes=tuple(p.name for p in plan.programmes),
            photo=photo,
            development=self.development,
        )
        issuance = Issuance(
            kk,
            face,
            resumed=result.resumed,
            round_trips=result.round_trips,
            purses=plan.purses,
            offline_cap=plan.offline_cap,
        )
        self._written[kk] = issuance
        progress("verify")
        self._verify_issued(connection, result.serial)
        del self._written[kk]
        return issuance

    def _verify_issued(self, connection: Connection, serial: bytes) -> None:
        try:
            check = verify_card(connection, self.trust)
        except TransportError:
            raise DeskError("card-pulled-verifying") from None
        if not check.genuine or check.serial != serial:
            raise DeskError("verify-failed", why="; ".join(check.reasons) or check.verdict.name)

    def print_face(self, issuance: Issuance, printer: Callable[[CardFace], None]) -> None:
        """Print the face; a failed printer is ``DeskError("print-failed")`` and the card
        is not recorded as handed over."""
        try:
            printer(issuance.face)
        except Exception as exc:  # any printer failure: the card is not handed over
            self._log("print-failed", serial=issuance.face.serial, why=type(exc).__name__)
            raise DeskError(
                "print-failed", why=str(exc) or type(exc).__name__, issuance=issuance
            ) from None
        issuance.printed = True
        self._log("card-printed", serial=issuance.face.serial)

    def record(self, issuance: Issuance) -> None:
        """Record the printed card as issued in the register and release the claim."""
        clerk = self._who()
        if not issuance.printed:
            raise DeskError("not-printed", serial=issuance.face.serial)
        # the back office first (idempotent): a card the register records is one whose
        # caps settlement knows
        self.backoffice.register_card(
            bytes.fromhex(issuance.face.serial),
            offline_cap=issuance.offline_cap,
            purses=issuance.purses,
        )
        try:
            self.register.issue_card(
                issuance.kk, issuance.face.serial, desk=self.desk_id, clerk=clerk.name
            )
        except RegisterError as exc:
            raise _register_error(exc) from None
        issuance.recorded = True
        self.release(issuance.kk)
        self._log("card-issued", kk=issuance.kk, serial=issuance.face.serial)

    def abandon(self, kk: str, why: str) -> None:
        """Give up issuing to ``kk`` for now (set aside in a batch, the clerk cancels)."""
        self.release(kk)
        self._log("issue-set-aside", kk=kk, why=why)

    def issue(
        self,
        connection: Connection,
        kk: str,
        *,
        pin: str,
        printer: Callable[[CardFace], None],
        photo: Path | None = None,
        progress: Progress = lambda step: None,
        interrupted: Interrupted | None = None,
    ) -> Issuance:
        """The whole pass: personalise, verify, print, record (see the steps' methods)."""
        issuance = self.personalise(
            connection, kk, pin=pin, photo=photo, progress=progress, interrupted=interrupted
        )
        progress("print")
        self.print_face(issuance, printer)
        progress("record")
        self.record(issuance)
        return issuance

    # --- card services ---------------------------------------------------------------

    def read_card(self, connection: Connection) -> CardReport:
        """Verify the presented card offline and read its purses."""
        self._who()
        session = _open(connection)
        try:
            check = verify_card(session, self.trust)
            balances: dict[int, int] = {}
            if session.state is LifeCycle.ISSUED:
                balances = {p.index: p.balance for p in WalletCard(connection).status().purses}
        except TransportError:
            raise DeskError("card-pulled") from None
        serial = session.serial.hex().upper()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(cards.c.state, cards.c.kk).where(cards.c.serial == serial)
            ).first()
        record = check.card_record
        names = tuple(p.name for p in record.programmes) if record else ()
        self._log("card-read", serial=serial, verdict=check.verdict.name)
        report = CardReport(
            serial,
            check.verdict.name,
            check.genuine,
            session.state.name,
            check.reasons,
            names,
            balances,
            row.state if row else None,
            row.kk if row else None,
        )
        if serial in self._pending_loads and check.genuine:
            self._resolve_pending_load(connection, report)
            return self.read_card(connection)
        return report

    def load(self, connection: Connection, agency: int, purse: int, amount: int) -> int:
        """Load ``amount`` rupiah into ``purse`` for ``agency``; the new balance."""
        if agency not in AGENCIES:
            raise DeskError("agency-unknown")
        return self._load(connection, agency, purse, amount, None)

    def _load(
        self, connection: Connection, agency: int, purse: int, amount: int, moved_from: str | None
    ) -> int:
        clerk = self._who()
        if amount <= 0:
            raise DeskError("amount-invalid")
        report = self.read_card(connection)
        if not report.genuine:
            raise DeskError("card-not-genuine", why="; ".join(report.reasons))
        if report.register_state != ACTIVE:
            raise DeskError("card-not-active", serial=report.serial)
        if purse not in report.balances:
            raise DeskError("purse-unknown", purse=purse)
        issuer = WalletIssuer(
            self.keystore,
            agency=agency,
            desk=self.desk_number,
            sequence=self.sequence,
            pending=self.load_journal,
        )
        try:
            result = issuer.load(connection, purse, amount, sync=True)
        except TransportError:
            raise DeskError("card-pulled") from None
        except CardkitError as exc:
            raise DeskError("load-refused", why=str(exc)) from None
        if result.receipt is None:
            if result.pending is not None:
                self._pending_loads[report.serial] = (result.pending, agency, moved_from)
            self._log("load-interrupted", serial=report.serial, purse=purse, amount=amount)
            raise DeskError("load-interrupted", why=result.reason)
        self._book_load(result.receipt, report, agency, clerk, moved_from)
        return result.balance or 0

    def _book_load(
        self,
        receipt: Receipt,
        report: CardReport,
        agency: int,
        clerk: Clerk,
        moved_from: str | None = None,
    ) -> None:
        entry = receipt.entry
        if moved_from is None:
            self.backoffice.record_load(receipt)
        else:
            self.backoffice.record_transfer(receipt, bytes.fromhex(moved_from))
        names = report.programmes
        programme = names[entry.purse] if entry.purse < len(names) else str(entry.purse)
        with self.engine.begin() as conn:
            conn.execute(
                desk_loads.insert().values(
                    serial=report.serial,
                    purse=entry.purse,
                    programme=programme,
                    agency=agency,
                    amount=entry.amount,
                    clerk=clerk.name,
                    at=_now(),
                )
            )
        self._log(
            "funds-loaded",
            serial=report.serial,
            purse=entry.purse,
            amount=entry.amount,
            agency=agency,
        )

    def _resolve_pending_load(self, connection: Connection, report: CardReport) -> None:
        """A load cut short on this card: learn from the card whether it was credited,
        and book it if so (never load twice)."""
        waiting = self._pending_loads.get(report.serial)
        if waiting is None:
            return
        pending, agency, moved_from = waiting
        issuer = WalletIssuer(
            self.keystore,
            agency=agency,
            desk=self.desk_number,
            sequence=self.sequence,
            pending=self.load_journal,
        )
        try:
            result = issuer.check(connection, pending)
        except TransportError:
            raise DeskError("card-pulled") from None
        del self._pending_loads[report.serial]
        if result.receipt is not None:
            self._book_load(result.receipt, report, agency, self._who(), moved_from)
        else:
            self._log(
                "load-not-credited",
                serial=report.serial,
                purse=pending.purse,
                amount=pending.amount,
                why=result.reason,
            )

    def block(self, serial: str, reason: str) -> None:
        """Block a lost or stolen card: ended in the register, on the next hotlist."""
        self._who()
        try:
            self.register.end_card(serial, "blocked", reason=reason)
        except RegisterError as exc:
            raise _register_error(exc) from None
        self.backoffice.block(bytes.fromhex(serial), reason)
        self._log("card-blocked", serial=serial, reason=reason)

    def card_state(self, serial: str) -> str | None:
        """The card's state in the register (active, blocked, ...), None if unknown."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(cards.c.state).where(cards.c.serial == serial.upper())
            ).scalar()

    def replaced(self, serial: str) -> bool:
        """True when the household of this blocked card has an active card: its
        replacement was issued (a second one would be refused)."""
        with self.engine.connect() as conn:
            kk = conn.execute(
                sa.select(cards.c.kk).where(cards.c.serial == serial.upper())
            ).scalar()
            if kk is None:
                return False
            active = conn.execute(
                sa.select(cards.c.serial).where(cards.c.kk == kk, cards.c.state == "active")
            ).first()
        return active is not None

    def replacement_plan(self, lost_serial: str) -> ReplacementPlan:
        """What moves to a replacement now, per purse (the back office's shadow balance of
        the lost card less what it holds back), and what waits on the lost card's record
        until the settlement window has passed."""
        quote = self.backoffice.replacement_quote(bytes.fromhex(lost_serial))
        moves = {b.purse: quote.transfer(b.purse) for b in quote.balances}
        held = sum(quote.holdback.values())
        return ReplacementPlan(
            {p: amount for p, amount in moves.items() if amount > 0},
            held,
            quote.held_until if held else None,
        )

    def replace(
        self,
        connection: Connection,
        lost_serial: str,
        *,
        pin: str,
        printer: Callable[[CardFace], None],
        supervisor: Clerk,
        photo: Path | None = None,
        progress: Progress = lambda step: None,
        interrupted: Interrupted | None = None,
    ) -> tuple[Issuance, ReplacementPlan]:
        """Issue a replacement for a blocked card and load it with the lost card's shadow
        balance less the holdback (confirmed by ``supervisor``); returns the issuance and
        what was moved and what waits."""
        self._who()
        if not supervisor.supervisor:
            raise DeskError("supervisor-refused")
        row = self._lost_card(lost_serial)
        plan = self.replacement_plan(lost_serial)
        issuance = self.issue(
            connection,
            row.kk,
            pin=pin,
            printer=printer,
            photo=photo,
            progress=progress,
            interrupted=interrupted,
        )
        progress("transfer")
        for purse, amount in sorted(plan.moves.items()):
            self._load(connection, TRANSFER_AGENCY, purse, amount, lost_serial)
        self._log(
            "card-replaced",
            lost=lost_serial,
            serial=issuance.face.serial,
            moved=sum(plan.moves.values()),
            held=plan.held,
            supervisor=supervisor.name,
        )
        return issuance, plan

    def _lost_card(self, serial: str) -> Any:
        """The register's row of a blocked card (DeskError if unknown or not blocked)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cards).where(cards.c.serial == serial)).first()
        if row is None:
            raise DeskError("card-unknown", serial=serial)
        if row.state != "blocked":
            raise DeskError("card-not-blocked", serial=serial)
        return row

    def move_rest(self, connection: Connection, lost_serial: str) -> dict[int, int]:
        """Move what the lost card's record still holds to its replacement (the card on
        the reader, the household's active card) once the settlement window has passed;
        what was moved, per purse. Nothing moves twice: each move leaves the lost card's
        shadow balance in the same booking."""
        self._who()
        lost_serial = lost_serial.upper()
        lost = self._lost_card(lost_serial)
        report = self.read_card(connection)
        with self.engine.connect() as conn:
            here = conn.execute(sa.select(cards).where(cards.c.serial == report.serial)).first()
        if here is None or here.kk != lost.kk or here.state != ACTIVE:
            raise DeskError("not-the-replacement", serial=report.serial, lost=lost_serial)
        plan = self.replacement_plan(lost_serial)
        moves = plan.moves
        if not moves:
            if plan.held_until is not None:
                until = f"{plan.held_until:%d-%m-%Y}"
                raise DeskError("held-back", amount=rupiah(plan.held), until=until)
            raise DeskError("nothing-to-move", serial=lost_serial)
        for purse, amount in sorted(moves.items()):
            self._load(connection, TRANSFER_AGENCY, purse, amount, lost_serial)
        self._log(
            "balance-moved", lost=lost_serial, serial=report.serial, moved=sum(moves.values())
        )
        return moves

    def change_pin(self, connection: Connection, old: str, new: str) -> None:
        """The cardholder changes their PIN (knowing the old one)."""
        self._who()
        session = _open(connection)
        check = verify_card(session, self.trust)
        if not check.genuine or check.card_record is None:
            raise DeskError("card-not-genuine", why="; ".join(check.reasons))
        try:
            session.open_identity_channel(check.card_record.card_public_point)
            session.change_pin(old, new)
        except PinBlockedError:
            raise DeskError("pin-blocked") from None
        except InvalidPinError as exc:
            raise DeskError("pin-wrong", left=exc.attempts_remaining) from None
        except TransportError:
            raise DeskError("card-pulled") from None
        self._log("pin-changed", serial=session.serial.hex().upper())

    def unblock_pin(self, connection: Connection, new: str, *, supervisor: Clerk) -> None:
        """Set a new PIN with the issuer key (a supervisor confirmed); tries restored."""
        self._who()
        if not supervisor.supervisor:
            raise DeskError("supervisor-refused")
        session = _open(connection)
        try:
            session.open_issuer_channel(self.keystore)
            session.reset_retry_counter(new)
        except TransportError:
            raise DeskError("card-pulled") from None
        except CardkitError as exc:
            raise DeskError("unblock-refused", why=str(exc)) from None
        self._log("pin-unblocked", serial=session.serial.hex().upper(), supervisor=supervisor.name)

    def pin_tries(self, connection: Connection) -> int:
        """PIN tries left on the presented card."""
        return _open(connection).pin_status().tries_left

    # --- dashboard -------------------------------------------------------------------

    def dashboard(self) -> Dashboard:
        """Cards issued by kecamatan and kelurahan, funds by programme, reviews open."""
        with self.engine.connect() as conn:
            issued_q = (
                sa.select(households.c.kecamatan, households.c.kelurahan, sa.func.count())
                .join(cards, cards.c.kk == households.c.kk)
                .where(cards.c.state == ACTIVE)
                .group_by(households.c.kecamatan, households.c.kelurahan)
            )
            by_kec: dict[str, int] = dict.fromkeys(KECAMATAN, 0)
            by_kel: dict[str, int] = {}
            for kec, kel, n in conn.execute(issued_q):
                by_kec[kec] = by_kec.get(kec, 0) + int(n)
                by_kel[kel] = by_kel.get(kel, 0) + int(n)
            funds = dict.fromkeys(PROGRAMME_NAMES, 0)
            funds |= {
                p: int(a)
                for p, a in conn.execute(
                    sa.select(desk_loads.c.programme, sa.func.sum(desk_loads.c.amount)).group_by(
                        desk_loads.c.programme
                    )
                )
            }
        reviews: dict[str, int] = {}
        for item in self.register.review_items():
            reviews[item.kind] = reviews.get(item.kind, 0) + 1
        return Dashboard(TARGET_HOUSEHOLDS, sum(by_kec.values()), by_kec, by_kel, funds, reviews)

    # --- import ----------------------------------------------------------------------

    def import_file(self, path: Path, **options: Any) -> Mapping[str, Any]:
        """Import a beneficiary export into the register (with duplicate detection)."""
        clerk = self._who()
        try:
            result = self.register.import_file(path, clerk=clerk.name, **options)
        except RegisterError as exc:
            raise _register_error(exc) from None
        report = result.report
        figures = {
            "rows": report.rows,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "review": result.detection.new_items if result.detection else 0,
        }
        self._log(
            "register-imported",
            file=Path(path).name,
            sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            **figures,
        )
        return figures


def _open(connection: Connection) -> SsnSession:
    try:
        return SsnSession(connection)
    except ApplicationNotAvailableError:
        raise DeskError("foreign-card") from None
    except TransportError:
        raise DeskError("card-pulled") from None
    except CardkitError:
        raise DeskError("foreign-card") from None


def _register_error(exc: RegisterError) -> DeskError:
    return DeskError("register", text_id=exc.message_id, text_en=exc.message_en)
