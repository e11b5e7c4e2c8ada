"""Coverage-guided fuzz target (atheris) for the host's parsing of what it is handed.

A relay, a cloned card or a damaged file can hand the host any bytes. Each input is
``kind(1) ‖ payload``; ``kind % 8`` picks the parser:

0. the DEBIT INIT answer (``InitResponse``), 1. READ PURSES (``WalletStatus``),
2. READ LOG (``WalletCard.log``'s parsing, through a scripted card), 3. the SELECT answer
(``CardInfo``, the FCI), 4. a signed CMS record (``cardkit.pki.verify_record``, the
development root trusted), 5. a card / identity record or hotlist as DER, 6. a batch file
(``cardkit.codecs.batch.read_batch``), 7. a DEBIT / LOAD answer, a receipt, a last record.

Every parser must either return or raise one of the library's declared errors
(:class:`~cardkit.errors.CardkitError`, or ``ValueError`` for the codecs' format errors):
anything else (IndexError, struct.error, TypeError, ...) is a bug the fuzzer reports.

Run (docs/WALLET.md "Fuzzing the host's parsers")::

    /work/main/.venv/bin/python fuzz/host_parsers.py fuzz/corpus/host_parsers -runs=200000

``--write-seeds`` regenerates the seed corpus from a real flow (a card issued, loaded and
paid through a recording connection; a signed record; a batch file). ``run_corpus(n)`` is
the smoke run of the default tests (tests/unit/test_fuzz_host_parsers.py).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE.parent / "tests" / "support")]

from cardkit.codecs import wallet as w  # noqa: E402
from cardkit.codecs.batch import read_batch  # noqa: E402
from cardkit.errors import CardkitError  # noqa: E402
from cardkit.pki import TrustStore, verify_record  # noqa: E402
from cardkit.pki.hotlist import Hotlist  # noqa: E402
from cardkit.pki.records import CardRecord, IdentityRecord  # noqa: E402
from cardkit.ssn.fci import CardInfo  # noqa: E402
from cardkit.transport.base import Connection  # noqa: E402
from cardkit.wallet.card import WalletCard  # noqa: E402

CORPUS = _HERE / "corpus" / "host_parsers"
AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

_TRUST: TrustStore | None = None
_SELECT: tuple[bytes, int] | None = None


def _trust() -> TrustStore:
    global _TRUST
    if _TRUST is None:
        from keys.dev import DevelopmentKeyStore

        _TRUST = TrustStore([DevelopmentKeyStore().signer("root").certificate_der])
    return _TRUST


class _Scripted(Connection):
    """Answers SELECT with a genuine FCI, then every command with ``payload``."""

    def __init__(self, select: tuple[bytes, int], payload: bytes) -> None:
        self.select, self.payload = select, payload

    @property
    def atr(self) -> bytes:
        return b""

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        if apdu[1:2] == b"\xa4":
            return self.select
        return self.payload, 0x9000


def _read_log(payload: bytes) -> None:
    if _SELECT is None:
        return  # only with a seed corpus that carries a SELECT answer (see _load_select)
    WalletCard(_Scripted(_SELECT, payload)).log()


def _each(*parsers: Callable[[bytes], object]) -> Callable[[bytes], None]:
    """Run every parser on the payload, each allowed its declared errors."""

    def parse(payload: bytes) -> None:
        for one in parsers:
            try:
                one(payload)
            except (CardkitError, ValueError):
                pass

    return parse


_PARSERS: tuple[Callable[[bytes], object], ...] = (
    w.InitResponse.from_bytes,
    w.WalletStatus.from_bytes,
    _read_log,
    CardInfo.from_bytes,
    lambda payload: verify_record(payload, _trust(), at=AT),
    _each(CardRecord.from_der, IdentityRecord.from_der, Hotlist.from_der),
    read_batch,
    _each(w.DebitResponse.from_bytes, w.Receipt.from_bytes, w.LastTransaction.from_bytes),
)


def one_input(data: bytes) -> None:
    """Parse ``data[1:]`` with the parser ``data[0]`` names; declared errors only."""
    if not data:
        return
    try:
        _PARSERS[data[0] % len(_PARSERS)](data[1:])
    except (CardkitError, ValueError):
        pass


def _load_select() -> None:
    """The genuine SELECT answer kept in the corpus (``select-fci``: kind 3)."""
    global _SELECT
    path = CORPUS / "select-fci"
    if _SELECT is None and path.exists():
        _SELECT = (path.read_bytes()[1:], 0x9000)


def seeds() -> dict[str, bytes]:
    """Real answers and files, each prefixed by the kind that parses it."""
    from ssn_host_support import NOW, TODAY
    from wallet_terminal_support import card_sam, journal, load, software_sam, wallet_card

    from cardkit.transport.base import InProcessConnection
    from cardkit.wallet import PaymentTerminal
    from keys.dev import DevelopmentKeyStore

    keystore = DevelopmentKeyStore()
    card = wallet_card(keystore)
    load(keystore, card, 100_000)
    answers: dict[int, bytes] = {}

    class Recording(InProcessConnection):
        def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
            data, sw = super().send_and_receive(apdu)
            answers.setdefault(apdu[1], data)
            return data, sw

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        book = journal(Path(tmp))
        sam = software_sam(keystore)
        till = PaymentTerminal(Recording(card), sam, book, clock=lambda: TODAY)
        till.pay(0, 1_000)
        till.balance()
        till.history()
        batch = Path(tmp) / "batch.cksb"
        book.export_batch(sam, batch)
        batch_bytes = batch.read_bytes()
        book.close()
    del card_sam, NOW
    from ssn_host_support import session

    record = session(card).card_record()
    ins = w.WalletIns
    return {
        "debit-init": bytes([0]) + answers[ins.DEBIT_INIT],
        "read-purses": bytes([1]) + answers[ins.READ_PURSES],
        "read-log": bytes([2]) + answers[ins.READ_LOG],
        "select-fci": bytes([3]) + answers[0xA4],
        "signed-record": bytes([4]) + record,
        "record-der": bytes([5]) + record,
        "batch": bytes([6]) + batch_bytes,
        "debit-answer": bytes([7]) + answers[ins.DEBIT],
    }


def run_corpus(iterations: int, seed: int = 9) -> int:
    """Smoke run without atheris: the committed corpus, then random mutations of it."""
    _load_select()
    rng = random.Random(seed)
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())]
    for data in corpus:
        one_input(data)
    for _ in range(iterations):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 8)):
            roll = rng.random()
            if len(data) > 1 and roll < 0.5:
                data[rng.randrange(1, len(data))] = rng.randrange(256)
            elif roll < 0.75:
                data.insert(rng.randrange(1, len(data) + 1), rng.randrange(256))
            elif len(data) > 1:
                cut = rng.randrange(1, len(data))
                del data[cut : cut + rng.randint(1, 16)]
        one_input(bytes(data))
    return len(corpus) + iterations


def main() -> None:
    import atheris

    _load_select()
    atheris.instrument_all()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:
        CORPUS.mkdir(parents=True, exist_ok=True)
        for name, value in seeds().items():
            (CORPUS / name).write_bytes(value)
    else:
        main()
