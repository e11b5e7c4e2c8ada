"""A second implementation of the vector kinds, written from the byte tables of
docs/PROTOCOL.md s7.5, docs/WALLET.md, docs/KEYS.md and docs/RECORDS.md s2 -- not from cardkit.

It uses only ``cryptography``'s CMAC and AES, ``hashlib`` and a twenty-line DER writer, and
imports nothing from cardkit, so a mistake in cardkit's codecs that the generator copied into
``tests/vectors`` shows up here as a mismatch. This is what tells a Java Card implementer the
vector files say what the documents say.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VECTOR_DIR = Path(__file__).resolve().parents[3] / "tests" / "vectors"
Fields = dict[str, Any]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def cmac_full(key: bytes, message: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def mac8(key: bytes, message: bytes) -> bytes:
    """Every wallet and SAM MAC: AES-CMAC truncated to 8 bytes."""
    return cmac_full(key, message)[:8]


def kdf(master: bytes, label: bytes, context: bytes) -> bytes:
    """KEYS.md: one block ``CMAC(master, 01 ‖ label ‖ 00 ‖ context ‖ L=0080)`` for a 16-byte key."""
    return cmac_full(master, b"\x01" + label + b"\x00" + context + (128).to_bytes(2, "big"))


def session(i: Fields) -> bytes:
    """serial(8) ‖ TC(4) ‖ Nc(8) ‖ Nt(8) ‖ purse(1)."""
    return h(i["serial"]) + h(i["tc"]) + h(i["nc"]) + h(i["nt"]) + h(i["purse"])


def cat(i: Fields, *names: str) -> bytes:
    return b"".join(h(i[name]) for name in names)


REQUEST = ("amount", "date", "merchant", "terminal", "sam_id", "sc")
ENTRY = ("type", "tc", "ds", "purse", "amount", "balance", "date", "merchant", "terminal")


def card_key(i: Fields) -> Fields:
    serial, aid = h(i["serial"]), h(i["aid"])
    context = bytes([len(serial)]) + serial + bytes([len(aid)]) + aid + h(i["kvn"])
    return {"key": kdf(h(i["master"]), h(i["function"]), context).hex()}


def purse_record(i: Fields) -> Fields:
    record = cat(i, "index", "programme", "balance", "balance_cap", "payment_cap", "expiry")
    assert len(record) == 19
    return {"record": record.hex()}


def log_entry(i: Fields) -> Fields:
    entry = cat(i, *ENTRY, "sam_id", "sc")
    assert len(entry) == 38
    return {"entry": entry.hex()}


def init_response(i: Fields) -> Fields:
    body = cat(i, "tc", "nc", "kvn_debit", "kvn_load", "kvn_receipt", "purse_record")
    body += cat(i, "cumulative", "offline_cap", "last_transaction")
    message = b"INIT" + h(i["serial"]) + body + h(i["nt"])
    cc = mac8(h(i["k_debit"]), message)
    assert len(body + cc) == 104
    return {"cc_input": message.hex(), "cc": cc.hex(), "response": (body + cc).hex()}


def debit_auth(i: Fields) -> Fields:
    """s7.5: 1.1 appends the undo lock to the MAC input and puts it before AUTH."""
    lock = h(i.get("lock", ""))
    message = b"DEBIT" + session(i) + cat(i, *REQUEST) + lock
    auth = mac8(h(i["k_debit"]), message)
    return {
        "session": session(i).hex(),
        "auth_input": message.hex(),
        "auth": auth.hex(),
        "debit_data": (cat(i, *REQUEST) + lock + auth).hex(),
    }


def undo_auth(i: Fields) -> Fields:
    undone = h(i["undone_entry"])
    undone_ds, undone_sc = undone[5:9], undone[34:38]
    secret = h(i.get("secret", ""))
    message = b"UNDO" + session(i) + undone_ds + undone_sc + cat(i, *REQUEST) + secret
    auth = mac8(h(i["k_debit"]), message)
    return {
        "session": session(i).hex(),
        "auth_input": message.hex(),
        "auth": auth.hex(),
        "undo_data": (cat(i, *REQUEST) + secret + auth).hex(),
    }


def undo_lock(i: Fields) -> Fields:
    """s7.5: U = CMAC(K_undo, "UNDK" ‖ serial ‖ TC ‖ SC)[0:8];
    lock = SHA-256("UNDL" ‖ serial ‖ TC ‖ U)[0:8]."""
    secret_input = b"UNDK" + cat(i, "serial", "tc", "sc")
    secret = mac8(h(i["k_undo"]), secret_input)
    lock_input = b"UNDL" + cat(i, "serial", "tc") + secret
    return {
        "secret_input": secret_input.hex(),
        "secret": secret.hex(),
        "lock_input": lock_input.hex(),
        "lock": hashlib.sha256(lock_input).digest()[:8].hex(),
    }


def load_auth(i: Fields) -> Fields:
    fields = cat(i, "amount", "date", "agency", "desk", "sequence")
    message = b"LOAD" + session(i) + h(i["flags"]) + fields
    auth = mac8(h(i["k_load"]), message)
    return {
        "session": session(i).hex(),
        "auth_input": message.hex(),
        "auth": auth.hex(),
        "load_data": (fields + auth).hex(),
    }


def transaction_macs(i: Fields) -> Fields:
    serial, entry = h(i["serial"]), h(i["entry"])
    rm_input = b"RCPT" + serial + entry
    rm = mac8(h(i["k_receipt"]), rm_input)
    conf_input = b"CONF" + serial + entry + rm
    conf = mac8(h(i["k_confirm"]), conf_input)
    last = entry + rm + conf
    balance, ds = entry[14:18], entry[5:9]
    return {
        "rm_input": rm_input.hex(),
        "rm": rm.hex(),
        "conf_input": conf_input.hex(),
        "conf": conf.hex(),
        "last_transaction": last.hex(),
        "response": (balance + ds + rm + conf).hex(),
        "receipt": (serial + h(i["kvn_debit"]) + h(i["kvn_receipt"]) + last).hex(),
    }


def block_mac(i: Fields) -> Fields:
    message = b"BLOCK" + session(i)
    blocked_input = b"BLKD" + session(i) + b"\x83"
    block, blocked = mac8(h(i["k_debit"]), message), mac8(h(i["k_debit"]), blocked_input)
    return {
        "session": session(i).hex(),
        "block_input": message.hex(),
        "block": block.hex(),
        "blocked_input": blocked_input.hex(),
        "blocked": blocked.hex(),
        "block_order": (block + blocked).hex(),
    }


def wallet_key_data(i: Fields) -> Fields:
    key = h(i["key"])
    encryptor = Cipher(algorithms.AES(h(i["dek"])), modes.CBC(bytes(16))).encryptor()
    wrapped = encryptor.update(key) + encryptor.finalize()
    return {"data": (h(i["kvn"]) + wrapped + cmac_full(key, bytes(16))[:3]).hex()}


def sam_keys(i: Fields) -> Fields:
    k_t, serial = h(i["transport_key"]), h(i["sam_serial"])
    return {
        "k_admin": kdf(k_t, b"sam-admin", serial).hex(),
        "k_batch": kdf(k_t, b"sam-batch", serial).hex(),
        "k_undo": kdf(k_t, b"sam-undo", serial).hex(),
    }


def personalisation_mac(i: Fields) -> Fields:
    identity = cat(i, "sam_id", "merchant", "terminal", "ceiling")
    message = b"SPER" + h(i["sam_serial"]) + h(i["admin_sequence"]) + identity
    mac = mac8(h(i["k_admin"]), message)
    return {
        "identity": identity.hex(),
        "mac_input": message.hex(),
        "mac": mac.hex(),
        "personalise_data": (identity + mac).hex(),
    }


def settlement_mac(i: Fields) -> Fields:
    message = b"SETL" + cat(i, "sam_serial", "admin_sequence", "settled_total")
    mac = mac8(h(i["k_admin"]), message)
    return {
        "mac_input": message.hex(),
        "mac": mac.hex(),
        "settle_data": (h(i["settled_total"]) + mac).hex(),
    }


def sam_authorisation(i: Fields) -> Fields:
    init = h(i["init_response"])
    tc, nc, kvn_debit, kvn_receipt, purse = init[0:4], init[4:12], init[12], init[14], init[15]
    serial = h(i["serial"])
    ssn_aid = bytes.fromhex("F053534E43415244")  # PROTOCOL.md s1: F0 + "SSNCARD"
    context = bytes([len(serial)]) + serial + bytes([len(ssn_aid)]) + ssn_aid
    k_debit = kdf(h(i["debit_master"]), b"debit", context + bytes([kvn_debit]))
    sess = serial + tc + nc + h(i["nt"]) + bytes([purse])
    fields = cat(i, "amount", "date", "merchant", "terminal", "sam_id", "sc")
    undo = undo_lock({"k_undo": i["k_undo"], "serial": i["serial"], "tc": tc.hex(), "sc": i["sc"]})
    lock = h(undo["lock"])
    auth = mac8(k_debit, b"DEBIT" + sess + fields + lock)
    record = h(i["sc"]) + b"\x01" + serial + bytes([kvn_debit, kvn_receipt]) + tc
    record += bytes([purse]) + cat(i, "amount", "date")
    return {
        "authorise_data": (serial + cat(i, "nt", "amount", "date") + init).hex(),
        "k_debit": k_debit.hex(),
        "authorisation_record": record.hex(),
        "debit_data": (fields + lock + auth).hex(),
    }


def batch_file(i: Fields) -> Fields:
    receipts = [h(r) for r in i["receipts"]]
    header = b"CKSB\x02" + cat(i, "sam_serial", "transport_kvn", "sam_id", "merchant")
    header += cat(i, "terminal", "created") + len(receipts).to_bytes(4, "big")
    body = header + b"".join(receipts)
    digest = hashlib.sha256(body).digest()
    counters = cat(i, "batch_sequence", "sc", "total_authorised", "undo_count", "undo_total")
    message = b"BTCH" + cat(i, "sam_serial", "sam_id", "merchant", "terminal") + counters + digest
    signature = counters + mac8(h(i["k_batch"]), message)
    return {
        "header": header.hex(),
        "digest": digest.hex(),
        "batch_mac_input": message.hex(),
        "signature": signature.hex(),
        "file": (body + digest + signature).hex(),
    }


# --- DER (X.690), just what the records module needs -----------------------------------------


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + value


def der_int(value: int, tag: int = 0x02) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 00 keeps it positive
    while len(raw) > 1 and raw[0] == 0 and raw[1] < 0x80:
        raw = raw[1:]
    return tlv(tag, raw)


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def num(i: Fields, name: str) -> int:
    return int(i[name], 16)


OCTETS, UTF8, NUMERIC, GENERALIZED_TIME, ENUMERATED, CONTEXT_0 = 0x04, 0x0C, 0x12, 0x18, 0x0A, 0x80
EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # 1.2.840.10045.2.1
SECP256R1 = bytes.fromhex("06082a8648ce3d030107")  # 1.2.840.10045.3.1.7


def identity_record(i: Fields) -> Fields:
    address = [tlv(UTF8, h(i["street"])), der_int(num(i, "rt"))]
    if "rw" in i:
        address.append(der_int(num(i, "rw"), CONTEXT_0))
    address += [tlv(UTF8, h(i["kelurahan"])), tlv(UTF8, h(i["kecamatan"]))]
    parts = [
        der_int(1),
        tlv(OCTETS, h(i["card_serial"])),
        tlv(NUMERIC, h(i["nik"])),
        tlv(NUMERIC, h(i["kk"])),
        tlv(UTF8, h(i["name"])),
        tlv(NUMERIC, h(i["date_of_birth"])),
        der_int(num(i, "sex")),
        seq(*address),
        tlv(OCTETS, h(i["salt"])),
    ]
    if "photo_digest" in i:
        parts.append(tlv(CONTEXT_0, h(i["photo_digest"])))
    der = seq(*parts)
    return {"der": der.hex(), "digest": hashlib.sha256(der).hexdigest()}


def card_record(i: Fields) -> Fields:
    spki = seq(seq(EC_PUBLIC_KEY, SECP256R1), tlv(0x03, b"\x00" + h(i["card_public_point"])))
    programmes = seq(
        *(
            seq(der_int(num(p, "programme_id")), der_int(num(p, "purse")), tlv(UTF8, h(p["name"])))
            for p in i["programmes"]
        )
    )
    kvns = ("kvn_card_management", "kvn_debit", "kvn_load", "kvn_receipt")
    der = seq(
        der_int(1),
        tlv(OCTETS, h(i["card_serial"])),
        spki,
        programmes,
        tlv(NUMERIC, h(i["not_before"])),
        tlv(NUMERIC, h(i["not_after"])),
        tlv(UTF8, h(i["issuing_desk"])),
        seq(*(der_int(num(i, k)) for k in kvns)),
        tlv(OCTETS, h(i["identity_digest"])),
    )
    return {"der": der.hex()}


def hotlist(i: Fields) -> Fields:
    entries = sorted(i["entries"], key=lambda e: h(e["card_serial"]))
    der = seq(
        der_int(1),
        der_int(num(i, "sequence")),
        tlv(GENERALIZED_TIME, h(i["issued_at"])),
        tlv(GENERALIZED_TIME, h(i["next_update"])),
        seq(
            *(
                seq(
                    tlv(OCTETS, h(e["card_serial"])),
                    der_int(num(e, "reason"), ENUMERATED),
                    tlv(NUMERIC, h(e["revoked_on"])),
                )
                for e in entries
            )
        ),
    )
    return {"der": der.hex()}


INDEPENDENT: dict[str, Callable[[Fields], Fields]] = {
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


def _vectors() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        for vector in json.loads(path.read_text(encoding="utf-8"))["vectors"]:
            found.append((f"{path.name}:{vector['name']}", vector))
    return found


VECTORS = _vectors()


def test_every_vector_kind_has_an_independent_check() -> None:
    assert VECTORS, "no vector files found"
    assert {vector["kind"] for _, vector in VECTORS} == set(INDEPENDENT)


@pytest.mark.parametrize(("vid", "vector"), VECTORS, ids=[vid for vid, _ in VECTORS])
def test_the_independent_implementation_agrees(vid: str, vector: dict[str, Any]) -> None:
    assert INDEPENDENT[vector["kind"]](vector["inputs"]) == vector["outputs"]


def test_the_independent_cmac_matches_rfc_4493() -> None:
    # RFC 4493 example 2 (16-byte message), so the second implementation rests on a known answer
    key = h("2b7e151628aed2a6abf7158809cf4f3c")
    assert cmac_full(key, h("6bc1bee22e409f96e93d7e117393172a")) == h(
        "070a16b46b4d4144f79bdd9dd04a287c"
    )
