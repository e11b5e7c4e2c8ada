"""Payout runs (interrupted and re-run: nothing paid twice), the bank file, clawbacks after a
fork; the hotlist service (signed by the hotlist key only, versioned, audited, size)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from backoffice_support import NOW, card, make_merchant, settle
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from cardkit.audit import AuditLog, AuditLogError
from cardkit.backoffice import Flag, Ledger, LedgerStatus
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.hotlist import HotlistService, verify_publication
from cardkit.backoffice.payouts import (
    PayoutFileError,
    check_payout_csv,
    run_payouts,
    write_payout_file,
)
from cardkit.pki import (
    ID_KP_CARDKIT_HOTLIST,
    ID_KP_CARDKIT_SIGNING,
    Hotlist,
    KeyUsageError,
    RevocationReason,
    StaleHotlistError,
    TrustStore,
)

# --- payouts ------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def test_interrupted_payout_run_pays_nothing_twice(tmp_path: Path) -> None:
    month = sim.generate(cards=60, merchants=6, receipts=600, fraud=1)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit.jsonl")))
    from cardkit.backoffice import read_batch, settle_batches

    settle_batches(
        [read_batch(b) for b in month.batches],
        {sim.KVN: sim.RECEIPT_MASTER},
        sim.sam_keys,
        seen=ledger,
    )
    owed = ledger.reconcile().accepted_unpaid
    lines: list[tuple[int, int]] = []

    def fail_after_three(merchant: int, programme: int) -> None:
        lines.append((merchant, programme))
        if len(lines) == 3:
            raise Boom("power cut in the middle of the payout run")

    with pytest.raises(Boom):
        run_payouts(ledger, after_line=fail_after_three)
    half = ledger.reconcile()
    assert half.paid_out > 0 and half.accepted_unpaid == owed - half.paid_out
    ledger.close()
    ledger = Ledger(tmp_path / "ledger.sqlite")  # a new process resumes the open run
    run = run_payouts(ledger)
    assert run.total == owed  # the whole run's file: the lines paid before the cut included
    assert len({(x.merchant, x.programme) for x in run.lines}) == len(run.lines)
    assert ledger.reconcile().accepted_unpaid == 0 and ledger.reconcile().unexplained == 0
    assert run_payouts(ledger).lines == ()  # a third run finds nothing to pay
    path = write_payout_file(run, tmp_path / "bank")
    rows = check_payout_csv(path.read_bytes())
    assert sum(int(r["net"]) for r in rows) == owed
    assert all(r["account"].startswith("BANKKALTIM-") for r in rows)
    damaged = path.read_bytes().replace(b",", b";", 1)
    with pytest.raises(PayoutFileError):
        check_payout_csv(damaged)


def test_a_fork_found_after_payout_is_clawed_back(tmp_path: Path) -> None:
    ledger = Ledger()
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    original = card(7, ledger)
    clone = copy.deepcopy(original)
    a.pay(original, 50_000)
    a.pay(original, 1_000)
    settle(a.export(), ledger)
    first = run_payouts(ledger)
    assert first.total == 51_000
    b.pay(clone, 45_000)  # the clone's DS 1, settled after A was paid
    report = settle(b.export(), ledger)
    assert [v.flags for v in report.receipts] == [(Flag.FORKED_COUNTER,)]
    assert [(r.merchant, r.amount, r.paid) for r in report.reopened] == [
        (a.identity.merchant, 50_000, True)
    ]
    assert ledger.reconcile().clawbacks_pending == -50_000
    assert ledger.reconcile().unexplained == 0
    a.pay(original, 60_000)  # DS 3: blocked card, to review; A has nothing new to be paid
    settle(a.export(), ledger)
    assert run_payouts(ledger).total == 0  # the clawback waits for A's next positive payout
    assert ledger.reconcile().unexplained == 0
    assert [e.status for e in ledger.seen(original.serial, 1)] == [LedgerStatus.FLAGGED] * 2


# --- hotlist ------------------------------------------------------------------------------


class MemorySigner:
    """A Signer holding its key in memory (tests)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self.key = key
        self.certificate_der = certificate.public_bytes(_DER)

    def sign_digest(self, digest: bytes) -> bytes:
        return self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

_DER = Encoding.DER


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None,
    *,
    ca: bool = False,
    eku: list[str] | None = None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signing_key, issuer_name = issuer or (key, subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture
def pki() -> tuple[TrustStore, MemorySigner, MemorySigner]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Samarinda SSN Root CA", root_key, None, ca=True)
    hot_key, desk_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    hot = _certificate(
        "SSN back-office hotlist",
        hot_key,
        (root_key, root.subject),
        eku=[ID_KP_CARDKIT_SIGNING, ID_KP_CARDKIT_HOTLIST],
    )
    desk = _certificate("desk-01", desk_key, (root_key, root.subject))
    return TrustStore([root]), MemorySigner(hot_key, hot), MemorySigner(desk_key, desk)


def test_block_revoke_publish_and_verify(tmp_path: Path, pki) -> None:  # type: ignore[no-untyped-def]
    trust, hot, desk = pki
    ledger = Ledger()
    audit = AuditLog(tmp_path / "audit.jsonl")
    service = HotlistService(ledger, audit, hot, max_age=dt.timedelta(hours=12))
    lost = bytes.fromhex("5353000000000001")
    assert service.block_card(lost, RevocationReason.LOST, actor="clerk-3", at=NOW)
    assert not service.block_card(lost, RevocationReason.STOLEN, actor="clerk-3", at=NOW)
    assert service.revoke_desk(
        desk.certificate_der, RevocationReason.SUSPECTED_FRAUD, actor="ciso", at=NOW
    )
    first = service.publish(actor="ops", at=NOW)
    verified = verify_publication(first.der, trust, at=NOW).hotlist
    assert verified.sequence == 1 and verified.contains(lost)
    assert verified.entry(lost).revoked_on == NOW.date()  # type: ignore[union-attr]
    fingerprint = hashlib.sha256(desk.certificate_der).digest()
    assert verified.revoked_desk(fingerprint).revoked_at == NOW  # type: ignore[union-attr]
    assert verified.next_update - verified.issued_at == dt.timedelta(hours=12)
    assert not verified.is_current(NOW + dt.timedelta(hours=13))  # maximum age
    assert Hotlist.from_der(verified.to_der()) == verified
    second = service.publish(actor="ops", at=NOW + dt.timedelta(hours=1))
    newer = verify_publication(second.der, trust, at=NOW, current=verified).hotlist
    assert newer.sequence == 2 and service.latest() == second
    with pytest.raises(StaleHotlistError):
        verify_publication(first.der, trust, at=NOW, current=newer)
    # a desk key may sign records, never a hotlist
    from cardkit.pki import sign_hotlist

    forged = sign_hotlist(service.hotlist(at=NOW), desk, signing_time=NOW)
    with pytest.raises(KeyUsageError):
        verify_publication(forged, trust, at=NOW)
    events = [e["event"] for e in audit.entries()]
    assert events == ["block-card", "revoke-desk", "publish-hotlist", "publish-hotlist"]
    assert audit.entries()[0]["actor"] == "clerk-3"
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    (tmp_path / "audit.jsonl").write_bytes(b"\n".join(lines[:1] + lines[2:]) + b"\n")
    with pytest.raises(AuditLogError):
        audit.verify()


def test_the_back_office_refuses_to_publish_with_a_desk_key(tmp_path: Path, pki) -> None:  # type: ignore[no-untyped-def]
    trust, hot, desk = pki
    ledger = Ledger()
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(KeyUsageError):
        HotlistService(ledger, audit, desk).publish(actor="ops", at=NOW)
    assert HotlistService(ledger, audit).latest() is None  # nothing recorded
    assert [e["event"] for e in audit.entries()] == []
    published = HotlistService(ledger, audit, hot).publish(actor="ops", at=NOW)
    assert verify_publication(published.der, trust, at=NOW).hotlist.sequence == 1


def test_hotlist_is_not_retroactive(tmp_path: Path) -> None:
    ledger = Ledger()
    service = HotlistService(ledger, AuditLog(tmp_path / "audit.jsonl"))
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    m.pay(c, 1_000)  # dated 2025-03-19 (the support's DATE)
    service.block_card(
        c.serial, RevocationReason.LOST, actor="clerk", revoked_on=dt.date(2025, 3, 20)
    )
    report = settle(m.export(), ledger)
    assert [v.flags for v in report.receipts] == [()]  # spent before it was reported lost
    stolen = card(2, ledger)
    service.block_card(stolen.serial, RevocationReason.STOLEN, actor="clerk", revoked_on=NOW.date())
    m.pay(stolen, 2_000)  # on the day it was reported: flagged
    report = settle(m.export(), ledger)
    assert [v.flags for v in report.receipts] == [(Flag.HOTLISTED,)]
    assert report.receipts[0].reasons == ("card hotlisted (stolen, revoked 2025-03-19)",)


def test_hotlist_size_for_ten_thousand_cards(tmp_path: Path, pki) -> None:  # type: ignore[no-untyped-def]
    _, hot, _ = pki
    ledger = Ledger()
    service = HotlistService(ledger, AuditLog(tmp_path / "audit.jsonl"), hot)
    serials = [b"SS" + i.to_bytes(6, "big") for i in range(10_000)]
    assert service.block_cards(serials, RevocationReason.LOST, actor="bulk", at=NOW) == 10_000
    publication = service.publish(actor="ops", at=NOW)
    assert publication.cards == 10_000
    assert 25 * 10_000 < len(publication.der) < 25 * 10_000 + 2_000  # 25 bytes a card + envelope
