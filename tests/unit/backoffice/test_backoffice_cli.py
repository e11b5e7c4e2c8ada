"""``cardkit backoffice`` through click's CliRunner: settle a dev-key batch file, the ledger,
payouts, block-card, revoke-desk and hotlist publication, with the audit log."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from backoffice_support import DATE, NOW, WalletCard
from click.testing import CliRunner

from cardkit.audit import AuditLog
from cardkit.backoffice import Ledger
from cardkit.cli.backoffice import backoffice_group
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.codecs.batch import assemble_batch, batch_body
from cardkit.keystore import KeyFunction
from cardkit.wallet.sam import SoftwareSam
from keys.ceremony import sam_transport_key
from keys.dev import development_keystore


def test_settle_ledger_payouts_block_revoke_hotlist(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    audit = tmp_path / "audit.jsonl"
    store = development_keystore(allow=True)
    serial = bytes.fromhex("53414d00000000aa")
    identity = sam_codec.SamIdentity(0x77, 0x2077, 1, 1_000_000)
    sam = SoftwareSam(
        {1: store.master_secret(KeyFunction.DEBIT, 1)},
        serial=serial,
        identity=identity,
        transport_kvn=1,
        transport_key=sam_transport_key(store, serial, sam_codec.SAM_AID, 1),
    )
    c = WalletCard(serial=bytes.fromhex("53530000000000bb"))
    c.k_debit = w.card_key(store.master_secret(KeyFunction.DEBIT, 1), "debit", c.serial, 1)
    c.k_receipt = w.card_key(store.master_secret(KeyFunction.RECEIPT, 1), "receipt", c.serial, 1)
    receipts = []
    for amount in (3_000, 4_500):
        nt = os.urandom(8)
        init = c.init(nt)
        request = sam.authorise_debit(init, c.serial, nt, amount, DATE)
        receipts.append(sam.confirm(request, c.debit(request)))
    body = batch_body(sam.info(), NOW, receipts)
    batch = tmp_path / "batch.cksb"
    batch.write_bytes(assemble_batch(body, sam.sign_batch(hashlib.sha256(body).digest())))
    broken = tmp_path / "broken.cksb"
    broken.write_bytes(batch.read_bytes()[:-5])
    with Ledger(db) as ledger:
        ledger.register_sam(serial, identity)
        ledger.book_load(c.serial, 0, 500_000, agency=1, desk=1, sequence=1)
    runner = CliRunner()
    common = ["--db", str(db)]
    out = runner.invoke(
        backoffice_group,
        ["settle", str(batch), str(broken), *common, "--allow-dev-keys", "--workers", "1"],
    )
    assert out.exit_code == 0, out.output
    assert "receipts checked" in out.output and "accepted" in out.output
    assert "rejected" in out.output and "truncated" in out.output
    out = runner.invoke(backoffice_group, ["ledger", *common])
    assert out.exit_code == 0 and "unexplained" in out.output
    assert "492,500" in out.output  # the card's shadow balance
    out = runner.invoke(backoffice_group, ["ledger", *common, "--card", c.serial.hex()])
    assert "492500" in out.output
    out = runner.invoke(backoffice_group, ["payouts", *common, "--out", str(tmp_path / "bank")])
    assert out.exit_code == 0, out.output
    assert "7,500" in out.output and "sha256" in out.output
    (csv_file,) = (tmp_path / "bank").iterdir()
    assert b"\nTOTAL,1,2,7500\n" in csv_file.read_bytes()
    out = runner.invoke(
        backoffice_group,
        [
            "block-card",
            c.serial.hex(),
            "--reason",
            "stolen",
            "--actor",
            "clerk-1",
            *common,
            "--audit",
            str(audit),
        ],
    )
    assert out.exit_code == 0 and "blocked" in out.output
    desk = tmp_path / "desk.der"
    desk.write_bytes(store.signer("desk-01").certificate_der)
    out = runner.invoke(
        backoffice_group,
        ["revoke-desk", str(desk), "--actor", "ciso", *common, "--audit", str(audit)],
    )
    assert out.exit_code == 0 and "revoked" in out.output
    published = tmp_path / "hotlist.der"
    out = runner.invoke(
        backoffice_group,
        [
            "hotlist",
            *common,
            "--audit",
            str(audit),
            "--publish",
            str(published),
            "--actor",
            "ops",
            "--allow-dev-keys",
            "--signer",
            "hotlist",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "blocked cards" in out.output and "#1" in out.output
    assert published.stat().st_size > 0
    events = [e["event"] for e in AuditLog(audit).entries()]
    assert events == ["block-card", "revoke-desk", "publish-hotlist"]
    out = runner.invoke(backoffice_group, ["ledger"], env={"CARDKIT_LEDGER": ""})
    assert out.exit_code != 0 and "--db" in out.output
