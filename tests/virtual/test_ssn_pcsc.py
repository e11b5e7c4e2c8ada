"""The SSN card through the real stack: pyscard -> pcscd -> vpcd -> virtual SSN card.

The session's vpcd bridge on "Virtual PCD 00 00" normally serves the test applet card; these
tests put an SSN card in its place and give the old card back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pcsc_support import VIRTUAL_READERS, connect_to

from applets.card import VirtualCard
from applets.ssn import make_blank_ssn_card
from applets.vpcd import VpcdBridge
from cardkit.cli.main import cli
from cardkit.pki import TrustStore
from cardkit.ssn import (
    DeskCertificateCache,
    LifeCycle,
    PersonalisationPlan,
    SsnSession,
    Verdict,
    card_scp03_keys,
    personalise,
    read_identity,
    verify_card,
)
from cardkit.ssn.beneficiary import find_beneficiary
from cardkit.transport.base import CountingConnection
from cardkit.transport.pcsc import PcscConnection
from keys.dev import DevelopmentKeyStore

pytestmark = pytest.mark.pcsc

READER = VIRTUAL_READERS[0]
SERIAL = bytes.fromhex("6472AABBCCDD0001")
SAMPLE_ROW = "4"


def _swap(bridge: VpcdBridge, card: object) -> None:
    bridge.remove()
    bridge.wait_disconnected(5.0)
    bridge.card = card  # type: ignore[assignment]


@pytest.fixture(scope="module")
def ssn_bridge(vpcd_bridge: VpcdBridge, keystore: DevelopmentKeyStore) -> Iterator[VpcdBridge]:
    """The shared bridge, serving a blank SSN card for this module."""
    previous = vpcd_bridge.card
    card: VirtualCard = make_blank_ssn_card(SERIAL, card_scp03_keys(keystore, SERIAL, 1), 1)
    _swap(vpcd_bridge, card)
    try:
        yield vpcd_bridge
    finally:
        _swap(vpcd_bridge, previous)
        vpcd_bridge.insert()


@pytest.fixture
def connection(ssn_bridge: VpcdBridge) -> Iterator[CountingConnection]:
    pcsc: PcscConnection = connect_to(ssn_bridge, READER)
    counting = CountingConnection(pcsc)
    try:
        yield counting
    finally:
        counting.close()


@pytest.fixture(scope="module")
def trust(keystore: DevelopmentKeyStore) -> TrustStore:
    return TrustStore([keystore.signer("root").certificate_der])


def test_issue_verify_read_identity_through_pcscd(connection, keystore, trust, request):
    sample = request.config.rootpath / "tests" / "data" / "beneficiaries.csv"
    household = find_beneficiary(sample, SAMPLE_ROW)
    plan = PersonalisationPlan.prepare(
        household, signer=keystore.signer("desk-01"), desk_id="desk-01", pin="4321", can="314159"
    )
    session = SsnSession(connection)
    assert session.state is LifeCycle.BLANK
    result = personalise(session, plan, keystore)
    assert result.state is LifeCycle.ISSUED
    assert result.round_trips is not None and result.round_trips <= 25

    cache = DeskCertificateCache()
    first = verify_card(connection, trust, desk_cert_cache=cache)
    assert first.verdict is Verdict.GENUINE, first.reasons
    second = verify_card(connection, trust, desk_cert_cache=cache)
    assert second.verdict is Verdict.GENUINE
    assert second.round_trips <= 4

    reading = read_identity(connection, trust, pin="4321", desk_cert_cache=cache)
    assert reading.identity.nik == household.nik
    assert reading.identity.name == household.name
    assert reading.round_trips <= 9


def test_cli_verify_and_info_through_pcscd(ssn_bridge, keystore, request, monkeypatch):
    link = connect_to(ssn_bridge, READER)
    try:
        session = SsnSession(link)
        if session.state is LifeCycle.BLANK:  # run alone: issue it first
            sample = request.config.rootpath / "tests" / "data" / "beneficiaries.csv"
            plan = PersonalisationPlan.prepare(
                find_beneficiary(sample, SAMPLE_ROW),
                signer=keystore.signer("desk-01"),
                desk_id="desk-01",
                pin="4321",
                can="314159",
            )
            personalise(session, plan, keystore)
    finally:
        link.close()
    # the CLI opens the reader itself
    monkeypatch.setenv("CARDKIT_ALLOW_DEV_KEYS", "1")
    runner = CliRunner()
    info = runner.invoke(cli, ["card", "info", "--reader", READER])
    assert info.exit_code == 0, info.output
    assert SERIAL.hex().upper() in info.output and "ISSUED" in info.output
    verified = runner.invoke(cli, ["card", "verify", "--reader", READER])
    assert verified.exit_code == 0, verified.output
    assert "GENUINE" in verified.output
    identity = runner.invoke(cli, ["card", "read-identity", "--reader", READER, "--can", "314159"])
    assert identity.exit_code == 0, identity.output
    assert "FAHMI WAHYU NOOR" in identity.output
