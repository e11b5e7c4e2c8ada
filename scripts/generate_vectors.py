"""Write the test vectors of the formats cardkit invented into ``tests/vectors/*.json``.

Every input is fixed in this file, so two runs write byte-identical files. Each vector is
``{"kind", "name", "description", "inputs", "outputs"}`` with every value as lowercase hex
(integers as their big-endian wire encoding, text as its UTF-8 / ASCII bytes); lists of
sub-objects (record programmes, hotlist entries) are lists of such dictionaries.

The outputs are computed by cardkit's own functions (:data:`COMPUTE`, one function per
kind, which ``tests/unit/codecs/test_vectors.py`` also calls on the inputs read back from the
files); ``tests/unit/codecs/test_vectors_independent.py`` checks them with a second
implementation written from the byte tables in the docs. Usage::

    python scripts/generate_vectors.py [--check]

``--check`` writes nothing and exits 1 when a file on disk differs from what it would write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path[:1]:  # this checkout's cardkit, not another installed copy
    sys.path.insert(0, str(ROOT))

from cardkit.codecs import sam as s  # noqa: E402
from cardkit.codecs import wallet as w  # noqa: E402
from cardkit.codecs.batch import assemble_batch, batch_body, read_batch  # noqa: E402
from cardkit.codecs.ssn import SSN_AID  # noqa: E402
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason  # noqa: E402
from cardkit.pki.records import (  # noqa: E402
    Address,
    CardRecord,
    IdentityRecord,
    KeyVersions,
    Programme,
    public_point,
)

VECTOR_DIR = ROOT / "tests" / "vectors"

Fields = dict[str, Any]


def u(value: int, width: int = 4) -> str:
    """An integer as ``width`` big-endian bytes, in hex."""
    return value.to_bytes(width, "big").hex()


def n(hex_value: str) -> int:
    """The integer of a big-endian hex field."""
    return int.from_bytes(bytes.fromhex(hex_value), "big")


def b(hex_value: str) -> bytes:
    return bytes.fromhex(hex_value)


def text(hex_value: str) -> str:
    return b(hex_value).decode("utf-8")


# --- cardkit's side: outputs from inputs, one function per kind ----------------------------


def _session(i: Fields) -> w.WalletSession:
    return w.WalletSession(b(i["serial"]), n(i["tc"]), b(i["nc"]), b(i["nt"]), n(i["purse"]))


def _entry(hex_value: str) -> w.LogEntry:
    return w.LogEntry.from_bytes(b(hex_value))


def _identity(i: Fields) -> s.SamIdentity:
    return s.SamIdentity(n(i["sam_id"]), n(i["merchant"]), n(i["terminal"]), n(i["ceiling"]))


def card_key(i: Fields) -> Fields:
    assert b(i["aid"]) == SSN_AID
    key = w.card_key(b(i["master"]), text(i["function"]), b(i["serial"]), n(i["kvn"]))
    return {"key": key.hex()}


def purse_record(i: Fields) -> Fields:
    names = ("index", "programme", "balance", "balance_cap", "payment_cap", "expiry")
    record = w.PurseRecord(*(n(i[k]) for k in names))
    assert w.PurseRecord.from_bytes(record.to_bytes()) == record
    return {"record": record.to_bytes().hex()}


def log_entry(i: Fields) -> Fields:
    names = ("tc", "ds", "purse", "amount", "balance", "date", "merchant", "terminal")
    values = (n(i[k]) for k in (*names, "sam_id", "sc"))
    entry = w.LogEntry(w.TransactionType(n(i["type"])), *values)
    assert w.LogEntry.from_bytes(entry.to_bytes()) == entry
    return {"entry": entry.to_bytes().hex()}


def init_response(i: Fields) -> Fields:
    k_debit, serial, nt = b(i["k_debit"]), b(i["serial"]), b(i["nt"])
    init = w.InitResponse.sign(
        k_debit,
        serial,
        nt,
        tc=n(i["tc"]),
        nc=b(i["nc"]),
        kvn_debit=n(i["kvn_debit"]),
        kvn_load=n(i["kvn_load"]),
        kvn_receipt=n(i["kvn_receipt"]),
        purse=w.PurseRecord.from_bytes(b(i["purse_record"])),
        cumulative=n(i["cumulative"]),
        offline_cap=n(i["offline_cap"]),
        last=w.LastTransaction.from_bytes(b(i["last_transaction"])),
    )
    assert w.InitResponse.from_bytes(init.to_bytes()) == init
    assert w.verify_card_cryptogram(k_debit, serial, init, nt)
    return {
        "cc_input": (w.LABEL_INIT + serial + init.body() + nt).hex(),
        "cc": init.cc.hex(),
        "response": init.to_bytes().hex(),
    }


def _request_fields(i: Fields) -> tuple[int, int, int, int, int, int]:
    amount, date, merchant, terminal, sam_id, sc = (
        n(i[k]) for k in ("amount", "date", "merchant", "terminal", "sam_id", "sc")
    )
    return amount, date, merchant, terminal, sam_id, sc


def debit_auth(i: Fields) -> Fields:
    """Applet 1.1 when the inputs carry a ``lock`` (40-byte DEBIT data), else 1.0 (32)."""
    session, key = _session(i), b(i["k_debit"])
    lock = b(i.get("lock", ""))
    request = w.sign_debit(key, session, *_request_fields(i), lock)
    assert w.verify_debit_request(key, session, request)
    assert w.DebitRequest.from_bytes(request.to_bytes(), session.purse) == request
    message = w.LABEL_DEBIT + session.to_bytes() + request.fields() + lock
    return {
        "session": session.to_bytes().hex(),
        "auth_input": message.hex(),
        "auth": request.auth.hex(),
        "debit_data": request.to_bytes().hex(),
    }


def undo_auth(i: Fields) -> Fields:
    session, key = _session(i), b(i["k_debit"])
    undone = _entry(i["undone_entry"])
    secret = b(i.get("secret", ""))
    request = w.sign_undo(key, session, undone, *_request_fields(i), secret)
    assert w.verify_undo_request(key, session, undone, request)
    message = (
        w.LABEL_UNDO
        + session.to_bytes()
        + undone.ds.to_bytes(4, "big")
        + undone.sam_counter.to_bytes(4, "big")
        + request.fields()
        + secret
    )
    return {
        "session": session.to_bytes().hex(),
        "auth_input": message.hex(),
        "auth": request.auth.hex(),
        "undo_data": request.to_bytes().hex(),
    }


def load_auth(i: Fields) -> Fields:
    session, key = _session(i), b(i["k_load"])
    fields = tuple(n(i[k]) for k in ("flags", "amount", "date", "agency", "desk", "sequence"))
    request = w.sign_load(key, session, *fields)
    assert w.verify_load_request(key, session, request)
    message = w.LABEL_LOAD + session.to_bytes() + b(i["flags"]) + request.to_bytes()[:20]
    return {
        "session": session.to_bytes().hex(),
        "auth_input": message.hex(),
        "auth": request.auth.hex(),
        "load_data": request.to_bytes().hex(),
    }


def transaction_macs(i: Fields) -> Fields:
    """RM and CONF of one log entry, and the records and receipt they make."""
    serial, entry = b(i["serial"]), _entry(i["entry"])
    k_receipt, k_confirm = b(i["k_receipt"]), b(i["k_confirm"])
    last = w.complete_transaction(k_receipt, k_confirm, serial, entry)
    receipt = w.Receipt(serial, n(i["kvn_debit"]), n(i["kvn_receipt"]), last)
    assert w.verify_receipt(k_receipt, receipt) and w.verify_confirmation(k_confirm, receipt)
    assert w.Receipt.from_bytes(receipt.to_bytes()) == receipt
    return {
        "rm_input": (w.LABEL_RECEIPT + serial + entry.to_bytes()).hex(),
        "rm": last.rm.hex(),
        "conf_input": (w.LABEL_CONFIRM + serial + entry.to_bytes() + last.rm).hex(),
        "conf": last.conf.hex(),
        "last_transaction": last.to_bytes().hex(),
        "response": w.DebitResponse.from_last(last).to_bytes().hex(),
        "receipt": receipt.to_bytes().hex(),
    }


def block_mac(i: Fields) -> Fields:
    session, key = _session(i), b(i["k_debit"])
    mac = w.block_mac(key, session)
    assert w.verify_block_mac(key, session, mac)
    blocked = w.blocked_mac(key, session)
    return {
        "session": session.to_bytes().hex(),
        "block_input": (w.LABEL_BLOCK + session.to_bytes()).hex(),
        "block": mac.hex(),
        "blocked_input": (w.LABEL_BLOCKED + session.to_bytes() + b"\x83").hex(),
        "blocked": blocked.hex(),
        "block_order": (mac + blocked).hex(),
    }


def undo_lock(i: Fields) -> Fields:
    """A SAM's undo secret for one debit (under its K_undo) and the lock the card keeps."""
    serial, tc, sc = b(i["serial"]), n(i["tc"]), n(i["sc"])
    secret = w.undo_secret(b(i["k_undo"]), serial, tc, sc)
    lock = w.undo_lock(serial, tc, secret)
    assert w.verify_undo_secret(lock, serial, tc, secret)
    return {
        "secret_input": (w.LABEL_UNDO_SECRET + serial + b(i["tc"]) + b(i["sc"])).hex(),
        "secret": secret.hex(),
        "lock_input": (w.LABEL_UNDO_LOCK + serial + b(i["tc"]) + secret).hex(),
        "lock": lock.hex(),
    }


def wallet_key_data(i: Fields) -> Fields:
    data = w.wallet_key_data(b(i["dek"]), b(i["key"]), n(i["kvn"]))
    assert w.open_wallet_key_data(b(i["dek"]), data) == (n(i["kvn"]), b(i["key"]))
    return {"data": data.hex()}


def sam_keys(i: Fields) -> Fields:
    k_t, serial = b(i["transport_key"]), b(i["sam_serial"])
    return {
        "k_admin": s.sam_admin_key(k_t, serial).hex(),
        "k_batch": s.sam_batch_key(k_t, serial).hex(),
        "k_undo": s.sam_undo_key(k_t, serial).hex(),
    }


def personalisation_mac(i: Fields) -> Fields:
    identity = _identity(i)
    serial, seq = b(i["sam_serial"]), n(i["admin_sequence"])
    mac = s.personalisation_mac(b(i["k_admin"]), serial, seq, identity)
    assert s.SamIdentity.from_bytes(identity.to_bytes()) == identity
    message = s.LABEL_SAM_PERSONALISE + serial + b(i["admin_sequence"]) + identity.to_bytes()
    return {
        "identity": identity.to_bytes().hex(),
        "mac_input": message.hex(),
        "mac": mac.hex(),
        "personalise_data": (identity.to_bytes() + mac).hex(),
    }


def settlement_mac(i: Fields) -> Fields:
    serial, seq, total = b(i["sam_serial"]), n(i["admin_sequence"]), n(i["settled_total"])
    mac = s.settlement_mac(b(i["k_admin"]), serial, seq, total)
    message = s.LABEL_SAM_SETTLE + serial + b(i["admin_sequence"]) + b(i["settled_total"])
    return {
        "mac_input": message.hex(),
        "mac": mac.hex(),
        "settle_data": (b(i["settled_total"]) + mac).hex(),
    }


def sam_authorisation(i: Fields) -> Fields:
    """What a SAM answers AUTHORISE DEBIT with: its input, K_debit, its record, the DEBIT data."""
    init = w.InitResponse.from_bytes(b(i["init_response"]))
    auth = s.AuthoriseInput(b(i["serial"]), b(i["nt"]), n(i["amount"]), n(i["date"]), init)
    assert s.AuthoriseInput.from_bytes(auth.to_bytes()) == auth
    k_debit = w.card_key(b(i["debit_master"]), "debit", auth.serial, init.kvn_debit)
    assert w.verify_card_cryptogram(k_debit, auth.serial, init, auth.nt)
    identity, counter = _identity(i), n(i["sc"])
    lock = w.undo_lock(
        auth.serial, init.tc, w.undo_secret(b(i["k_undo"]), auth.serial, init.tc, counter)
    )
    request = w.sign_debit(
        k_debit,
        auth.session(),
        auth.amount,
        auth.date,
        identity.merchant,
        identity.terminal,
        identity.sam_id,
        counter,
        lock,
    )
    record = s.Authorisation(
        counter,
        w.TransactionType.DEBIT,
        auth.serial,
        init.kvn_debit,
        init.kvn_receipt,
        init.tc,
        init.purse.index,
        auth.amount,
        auth.date,
    )
    assert s.Authorisation.from_bytes(record.to_bytes()) == record
    return {
        "authorise_data": auth.to_bytes().hex(),
        "k_debit": k_debit.hex(),
        "authorisation_record": record.to_bytes().hex(),
        "debit_data": request.to_bytes().hex(),
    }


def batch_file(i: Fields) -> Fields:
    """A batch file: header and receipts, their SHA-256, the SAM's signature over it."""
    identity = s.SamIdentity(n(i["sam_id"]), n(i["merchant"]), n(i["terminal"]), 0)
    info = s.SamInfo(
        s.SAM_VERSION,
        s.SamState.ACTIVE,
        b(i["sam_serial"]),
        n(i["transport_kvn"]),
        identity,
        n(i["sc"]),
        n(i["total_authorised"]),
        0,
        0,
        (),
    )
    receipts = [w.Receipt.from_bytes(b(r)) for r in i["receipts"]]
    created = dt.datetime.fromtimestamp(n(i["created"]), dt.UTC)
    body = batch_body(info, created, receipts)
    digest = hashlib.sha256(body).digest()
    k_batch = b(i["k_batch"])
    signature = s.sign_batch(
        k_batch,
        info.serial,
        identity,
        n(i["batch_sequence"]),
        info.counter,
        info.total_authorised,
        digest,
        undo_count=n(i["undo_count"]),
        undo_total=n(i["undo_total"]),
    )
    assert s.verify_batch_signature(k_batch, info.serial, identity, signature, digest)
    assert read_batch(assemble_batch(body, signature)).signature == signature
    message = (
        s.LABEL_SAM_BATCH
        + info.serial
        + b(i["sam_id"])
        + b(i["merchant"])
        + b(i["terminal"])
        + b(i["batch_sequence"])
        + b(i["sc"])
        + b(i["total_authorised"])
        + b(i["undo_count"])
        + b(i["undo_total"])
        + digest
    )
    return {
        "header": body[:38].hex(),
        "digest": digest.hex(),
        "batch_mac_input": message.hex(),
        "signature": signature.to_bytes().hex(),
        "file": assemble_batch(body, signature).hex(),
    }


def _date(hex_value: str) -> dt.date:
    return dt.datetime.strptime(text(hex_value), "%Y%m%d").date()


def identity_record(i: Fields) -> Fields:
    record = IdentityRecord(
        card_serial=b(i["card_serial"]),
        nik=text(i["nik"]),
        kk=text(i["kk"]),
        name=text(i["name"]),
        date_of_birth=_date(i["date_of_birth"]),
        sex={1: "M", 2: "F"}[n(i["sex"])],
        address=Address(
            street=text(i["street"]),
            rt=n(i["rt"]),
            kelurahan=text(i["kelurahan"]),
            kecamatan=text(i["kecamatan"]),
            rw=n(i["rw"]) if "rw" in i else None,
        ),
        photo_digest=b(i["photo_digest"]) if "photo_digest" in i else None,
        salt=b(i["salt"]),
    )
    assert IdentityRecord.from_der(record.to_der()) == record
    return {"der": record.to_der().hex(), "digest": record.digest().hex()}


def card_record(i: Fields) -> Fields:
    record = CardRecord(
        card_serial=b(i["card_serial"]),
        card_public_point=b(i["card_public_point"]),
        programmes=tuple(
            Programme(n(p["programme_id"]), n(p["purse"]), text(p["name"])) for p in i["programmes"]
        ),
        not_before=_date(i["not_before"]),
        not_after=_date(i["not_after"]),
        issuing_desk=text(i["issuing_desk"]),
        key_versions=KeyVersions(
            *(n(i[k]) for k in ("kvn_card_management", "kvn_debit", "kvn_load", "kvn_receipt"))
        ),
        identity_digest=b(i["identity_digest"]),
    )
    assert CardRecord.from_der(record.to_der()) == record
    return {"der": record.to_der().hex()}


def _utc(hex_value: str) -> dt.datetime:
    return dt.datetime.strptime(text(hex_value), "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)


def hotlist(i: Fields) -> Fields:
    record = Hotlist(
        sequence=n(i["sequence"]),
        issued_at=_utc(i["issued_at"]),
        next_update=_utc(i["next_update"]),
        entries=tuple(
            HotlistEntry(
                b(e["card_serial"]), RevocationReason(n(e["reason"])), _date(e["revoked_on"])
            )
            for e in i["entries"]
        ),
    )
    return {"der": record.to_der().hex()}


COMPUTE: dict[str, Callable[[Fields], Fields]] = {
    f.__name__: f
    for f in (
        card_key,
        purse_record,
        log_entry,
        init_response,
        debit_auth,
        undo_auth,
        load_auth,
        transaction_macs,
        block_mac,
        undo_lock,
        wallet_key_data,
        sam_keys,
        personalisation_mac,
        settlement_mac,
        sam_authorisation,
        batch_file,
        identity_record,
        card_record,
        hotlist,
    )
}

# --- the fixed inputs ------------------------------------------------------------------------

SERIAL = "5353000000000042"
DEBIT_MASTER = bytes(range(0x00, 0x10)).hex()
LOAD_MASTER = bytes(range(0x10, 0x20)).hex()
RECEIPT_MASTER = bytes(range(0x20, 0x30)).hex()
KVN = u(1, 1)
K = {
    f: w.card_key(b(m), f, b(SERIAL), 1).hex()
    for f, m in (("debit", DEBIT_MASTER), ("load", LOAD_MASTER), ("receipt", RECEIPT_MASTER))
}
NT = "a1a2a3a4a5a6a7a8"
NC = "c1c2c3c4c5c6c7c8"
SAM_SERIAL = "53414d0000000001"
TRANSPORT_KEY = bytes(range(0x40, 0x50)).hex()
SAM_KEYS = sam_keys({"transport_key": TRANSPORT_KEY, "sam_serial": SAM_SERIAL})
UNDO = undo_lock({"k_undo": SAM_KEYS["k_undo"], "serial": SERIAL, "tc": u(8), "sc": u(13)})
UNDO_OF_DEBIT_ENTRY = undo_lock(
    {"k_undo": SAM_KEYS["k_undo"], "serial": SERIAL, "tc": u(7), "sc": u(12)}
)
SAM_IDENTITY = {"sam_id": u(0x51), "merchant": u(0x1001), "terminal": u(0x02)}
CEILING = u(10_000_000)
DATE = u(20250319)
PURSE = {
    "index": u(0, 1),
    "programme": u(0x0101, 2),
    "balance": u(250_000),
    "balance_cap": u(1_000_000),
    "payment_cap": u(200_000),
    "expiry": u(20261231),
}


def _vector(kind: str, name: str, description: str, inputs: Fields) -> Fields:
    return {
        "kind": kind,
        "name": name,
        "description": description,
        "inputs": inputs,
        "outputs": COMPUTE[kind](inputs),
    }


def _entry_fields(**values: int) -> Fields:
    widths = {"type": 1, "purse": 1}
    order: tuple[str, ...] = ("type", "tc", "ds", "purse", "amount", "balance", "date")
    order += ("merchant", "terminal", "sam_id", "sc")
    return {k: u(values[k], widths.get(k, 4)) for k in order}


def wallet_vectors() -> list[Fields]:
    purse = COMPUTE["purse_record"](PURSE)["record"]
    empty_last = bytes(w.LastTransaction.LENGTH).hex()
    debit_fields = _entry_fields(
        type=1,
        tc=7,
        ds=3,
        purse=0,
        amount=25_000,
        balance=225_000,
        date=20250319,
        merchant=0x1001,
        terminal=0x02,
        sam_id=0x51,
        sc=12,
    )
    debit_entry = COMPUTE["log_entry"](debit_fields)["entry"]
    debit_macs = {
        "k_receipt": K["receipt"],
        "k_confirm": K["debit"],
        "serial": SERIAL,
        "entry": debit_entry,
        "kvn_debit": KVN,
        "kvn_receipt": KVN,
    }
    debit_last = COMPUTE["transaction_macs"](debit_macs)["last_transaction"]
    session = {"serial": SERIAL, "tc": u(8), "nc": NC, "nt": NT, "purse": u(0, 1)}
    request = {"date": DATE, **SAM_IDENTITY}
    load_entry = COMPUTE["log_entry"](
        _entry_fields(
            type=2,
            tc=9,
            ds=4,
            purse=0,
            amount=500_000,
            balance=725_000,
            date=20250320,
            merchant=0x0007,
            terminal=0x0003,
            sam_id=0,
            sc=42,
        )
    )["entry"]
    vectors = [
        _vector(
            "card_key",
            f"card-key-{f}",
            f"K_{f} = SP 800-108 CMAC KDF(master, label {f!r}, context = len(serial) ‖ serial ‖ "
            "len(AID) ‖ AID ‖ KVN), docs/KEYS.md",
            {
                "master": m,
                "function": f.encode().hex(),
                "serial": SERIAL,
                "aid": SSN_AID.hex(),
                "kvn": KVN,
            },
        )
        for f, m in (("debit", DEBIT_MASTER), ("load", LOAD_MASTER), ("receipt", RECEIPT_MASTER))
    ]
    vectors += [
        _vector(
            "purse_record", "purse-record", "the 19-byte purse record (PROTOCOL.md 7.5)", PURSE
        ),
        _vector("log_entry", "log-entry-debit", "the 38-byte log entry of a debit", debit_fields),
        _vector(
            "init_response",
            "debit-init-first",
            "DEBIT INIT answer of a card with no transaction yet, and its CC under K_debit",
            {
                "k_debit": K["debit"],
                "serial": SERIAL,
                "nt": NT,
                "tc": u(1),
                "nc": NC,
                "kvn_debit": KVN,
                "kvn_load": KVN,
                "kvn_receipt": KVN,
                "purse_record": purse,
                "cumulative": u(0),
                "offline_cap": u(2_000_000),
                "last_transaction": empty_last,
            },
        ),
        _vector(
            "init_response",
            "debit-init-after-debit",
            "DEBIT INIT answer whose last-transaction record is the debit of "
            "transaction-debit (what recovery reads)",
            {
                "k_debit": K["debit"],
                "serial": SERIAL,
                "nt": NT,
                "tc": u(8),
                "nc": NC,
                "kvn_debit": KVN,
                "kvn_load": KVN,
                "kvn_receipt": KVN,
                "purse_record": COMPUTE["purse_record"]({**PURSE, "balance": u(225_000)})["record"],
                "cumulative": u(25_000),
                "offline_cap": u(2_000_000),
                "last_transaction": debit_last,
            },
        ),
        _vector(
            "debit_auth",
            "debit-auth",
            "AUTH of DEBIT under K_debit and the 32-byte DEBIT data of a 1.0 card (no undo lock)",
            {"k_debit": K["debit"], **session, "amount": u(25_000), **request, "sc": u(13)},
        ),
        _vector(
            "debit_auth",
            "debit-auth-1-1",
            "AUTH of DEBIT under K_debit with the SAM's undo lock (undo-lock), and the 40-byte "
            "DEBIT data of a 1.1 card",
            {
                "k_debit": K["debit"],
                **session,
                "amount": u(25_000),
                **request,
                "sc": u(13),
                "lock": UNDO["lock"],
            },
        ),
        _vector(
            "undo_auth",
            "undo-auth",
            "AUTH of UNDO (reversing log-entry-debit in part) and the 32-byte UNDO data (1.0)",
            {
                "k_debit": K["debit"],
                **session,
                "undone_entry": debit_entry,
                "amount": u(10_000),
                **request,
                "sc": u(14),
            },
        ),
        _vector(
            "undo_auth",
            "undo-auth-1-1",
            "AUTH of UNDO revealing the undone debit's undo secret, and the 40-byte UNDO data "
            "of a 1.1 card",
            {
                "k_debit": K["debit"],
                **session,
                "undone_entry": debit_entry,
                "amount": u(10_000),
                **request,
                "sc": u(14),
                "secret": UNDO_OF_DEBIT_ENTRY["secret"],
            },
        ),
        _vector(
            "undo_lock",
            "undo-lock",
            "a SAM's undo secret U = CMAC(K_undo, 'UNDK' ‖ serial ‖ TC ‖ SC)[0:8] for its debit "
            "(TC 8, SC 13) and the lock SHA-256('UNDL' ‖ serial ‖ TC ‖ U)[0:8] the card keeps",
            {"k_undo": SAM_KEYS["k_undo"], "serial": SERIAL, "tc": u(8), "sc": u(13)},
        ),
        _vector(
            "undo_lock",
            "undo-lock-of-log-entry-debit",
            "the undo secret and lock of log-entry-debit (TC 7, SC 12)",
            {"k_undo": SAM_KEYS["k_undo"], "serial": SERIAL, "tc": u(7), "sc": u(12)},
        ),
        _vector(
            "load_auth",
            "load-auth-sync",
            "AUTH of LOAD under K_load with flag 01 (reset the offline cumulative)",
            {
                "k_load": K["load"],
                **session,
                "flags": u(1, 1),
                "amount": u(500_000),
                "date": u(20250320),
                "agency": u(0x0007),
                "desk": u(0x0003),
                "sequence": u(42),
            },
        ),
        _vector(
            "transaction_macs",
            "transaction-debit",
            "RM under K_receipt and CONF under K_debit of a debit; the 54-byte last-transaction "
            "record, the 24-byte DEBIT response and the 64-byte receipt",
            debit_macs,
        ),
        _vector(
            "transaction_macs",
            "transaction-load",
            "RM under K_receipt and CONF under K_load of a load",
            {**debit_macs, "k_confirm": K["load"], "entry": load_entry},
        ),
        _vector(
            "block_mac",
            "block",
            "BLOCK MAC under K_debit, bound to one DEBIT INIT session; the BLOCKED MAC a 1.1 "
            "card answers, and the SAM's 16-byte AUTHORISE BLOCK answer",
            {"k_debit": K["debit"], **session},
        ),
        _vector(
            "wallet_key_data",
            "put-data-wallet-key",
            "PUT DATA 40 data: KVN ‖ AES-CBC(DEK, zero ICV, key) ‖ CMAC(key, 0^16)[0:3]",
            {"dek": bytes(range(0x60, 0x70)).hex(), "key": K["debit"], "kvn": KVN},
        ),
    ]
    return vectors


def sam_vectors() -> list[Fields]:
    keys = COMPUTE["sam_keys"]({"transport_key": TRANSPORT_KEY, "sam_serial": SAM_SERIAL})
    wallet = {v["name"]: v for v in wallet_vectors()}
    init = wallet["debit-init-first"]["outputs"]["response"]
    return [
        _vector(
            "sam_keys",
            "sam-keys",
            "K_admin = KDF(K_t, 'sam-admin', SAM serial), K_batch = KDF(K_t, 'sam-batch', "
            "SAM serial), K_undo = KDF(K_t, 'sam-undo', SAM serial) (SP 800-108 CMAC KDF of "
            "docs/KEYS.md, context = the raw serial)",
            {"transport_key": TRANSPORT_KEY, "sam_serial": SAM_SERIAL},
        ),
        _vector(
            "personalisation_mac",
            "sam-personalise",
            "SAM PERSONALISE data: identity(16) ‖ CMAC(K_admin, 'SPER' ‖ serial ‖ seq ‖ identity)",
            {
                "k_admin": keys["k_admin"],
                "sam_serial": SAM_SERIAL,
                "admin_sequence": u(0),
                **SAM_IDENTITY,
                "ceiling": CEILING,
            },
        ),
        _vector(
            "settlement_mac",
            "sam-settle",
            "SAM SETTLE data: settled total(8) ‖ CMAC(K_admin, 'SETL' ‖ serial ‖ seq ‖ total)",
            {
                "k_admin": keys["k_admin"],
                "sam_serial": SAM_SERIAL,
                "admin_sequence": u(1),
                "settled_total": u(1_234_567, 8),
            },
        ),
        _vector(
            "sam_authorisation",
            "sam-authorise-debit",
            "SAM AUTHORISE DEBIT (P1 01, a 1.1 card): the 128-byte input, the card's K_debit "
            "the SAM derives, its 28-byte authorisation record and the 40-byte DEBIT data it "
            "answers (with its undo lock under K_undo)",
            {
                "debit_master": DEBIT_MASTER,
                "serial": SERIAL,
                "nt": NT,
                "amount": u(25_000),
                "date": DATE,
                "init_response": init,
                **SAM_IDENTITY,
                "ceiling": CEILING,
                "sc": u(1),
                "k_undo": SAM_KEYS["k_undo"],
            },
        ),
    ]


def batch_vectors() -> list[Fields]:
    keys = COMPUTE["sam_keys"]({"transport_key": TRANSPORT_KEY, "sam_serial": SAM_SERIAL})
    wallet = {v["name"]: v for v in wallet_vectors()}
    receipt = wallet["transaction-debit"]["outputs"]["receipt"]
    common = {
        "k_batch": keys["k_batch"],
        "sam_serial": SAM_SERIAL,
        "transport_kvn": u(1, 1),
        **SAM_IDENTITY,
        "created": u(1_742_400_000, 8),
        "batch_sequence": u(1),
        "sc": u(12),
        "total_authorised": u(25_000, 8),
        "undo_count": u(1),
        "undo_total": u(10_000, 8),
    }
    return [
        _vector(
            "batch_file",
            "batch-one-receipt",
            "a version-2 batch file with one receipt, and its SIGN BATCH signature under K_batch "
            "(with the SAM's undo count and total)",
            {**common, "receipts": [receipt]},
        ),
        _vector(
            "batch_file",
            "batch-empty",
            "a version-2 batch file with no receipt",
            {**common, "batch_sequence": u(2), "receipts": []},
        ),
    ]


def records_vectors() -> list[Fields]:
    identity_inputs = {
        "card_serial": SERIAL,
        "nik": b"6472015003850001".hex(),
        "kk": b"6472010101090001".hex(),
        "name": b"Siti Rahmawati".hex(),
        "date_of_birth": b"19850310".hex(),
        "sex": u(2, 1),
        "street": b"Jl. Pahlawan No. 7".hex(),
        "rt": u(12, 2),
        "kelurahan": b"Sidodadi".hex(),
        "kecamatan": b"Samarinda Ulu".hex(),
        "salt": bytes(range(0x80, 0x90)).hex(),
    }
    with_options = {
        **identity_inputs,
        "rw": u(3, 1),
        "photo_digest": hashlib.sha256(b"photo").hexdigest(),
    }
    identity_digest = COMPUTE["identity_record"](identity_inputs)["digest"]
    card_key_pair = ec.derive_private_key(0x5353_4E43_4152_44, ec.SECP256R1())
    return [
        _vector(
            "identity_record",
            "identity-record",
            "IdentityRecord DER (RECORDS.md s2) without the optional rw and photoDigest, "
            "and its SHA-256 (the card record's identityDigest)",
            identity_inputs,
        ),
        _vector(
            "identity_record",
            "identity-record-options",
            "IdentityRecord DER with rw [0] and photoDigest [0] present",
            with_options,
        ),
        _vector(
            "card_record",
            "card-record",
            "CardRecord DER with two programmes; the public key is a P-256 point in an "
            "id-ecPublicKey / secp256r1 SubjectPublicKeyInfo",
            {
                "card_serial": SERIAL,
                "card_public_point": public_point(card_key_pair.public_key()).hex(),
                "programmes": [
                    {"programme_id": u(0x0101, 2), "purse": u(0, 1), "name": b"PKH".hex()},
                    {"programme_id": u(0x0102, 2), "purse": u(1, 1), "name": b"BPNT".hex()},
                ],
                "not_before": b"20250101".hex(),
                "not_after": b"20291231".hex(),
                "issuing_desk": b"desk-01".hex(),
                "kvn_card_management": u(1, 1),
                "kvn_debit": u(1, 1),
                "kvn_load": u(1, 1),
                "kvn_receipt": u(1, 1),
                "identity_digest": identity_digest,
            },
        ),
        _vector(
            "hotlist",
            "hotlist",
            "Hotlist DER with two entries (sorted by card serial)",
            {
                "sequence": u(5, 1),
                "issued_at": b"20250319000000Z".hex(),
                "next_update": b"20250320000000Z".hex(),
                "entries": [
                    {"card_serial": SERIAL, "reason": u(1, 1), "revoked_on": b"20250318".hex()},
                    {
                        "card_serial": "5353000000000099",
                        "reason": u(8, 1),
                        "revoked_on": b"20250319".hex(),
                    },
                ],
            },
        ),
        _vector(
            "hotlist",
            "hotlist-empty",
            "Hotlist DER with no entry",
            {
                "sequence": u(0, 1),
                "issued_at": b"20250319000000Z".hex(),
                "next_update": b"20250320000000Z".hex(),
                "entries": [],
            },
        ),
    ]


FILES: dict[str, tuple[str, Callable[[], list[Fields]]]] = {
    "wallet.json": (
        "The card's wallet (docs/PROTOCOL.md s7): key diversification, layouts, CC, AUTH, "
        "RM, CONF, BLOCK, wallet key personalisation",
        wallet_vectors,
    ),
    "sam.json": (
        "The merchant SAM (docs/WALLET.md): admin and batch keys, PERSONALISE and SETTLE MACs, "
        "AUTHORISE DEBIT",
        sam_vectors,
    ),
    "batch.json": (
        "The settlement batch file, version 1, and its SAM signature (docs/WALLET.md)",
        batch_vectors,
    ),
    "records.json": (
        "The DER bodies of the signed records (docs/RECORDS.md s2); the CMS signature "
        "around them is ECDSA and not deterministic, so it has no vector",
        records_vectors,
    ),
}


def render() -> dict[str, str]:
    """File name -> the exact text this generator writes."""
    out = {}
    for name, (description, build) in FILES.items():
        document = {
            "description": description,
            "generated_by": "scripts/generate_vectors.py",
            "encoding": "every value is lowercase hex: integers big-endian at their wire "
            "width, text as UTF-8",
            "vectors": build(),
        }
        out[name] = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, content in render().items():
        path = VECTOR_DIR / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
