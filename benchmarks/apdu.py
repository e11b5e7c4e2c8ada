"""APDU round-trip times: cardkit over PC/SC versus raw pyscard, and the in-process path.

Run from the repository root::

    .venv/bin/python -m benchmarks.apdu [--count N] [--port 35963]

Serves a virtual card with the test applet through vpcd (starting pcscd if none runs)
and times one short ECHO command (8 data bytes in, 8 out) per round trip.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

from smartcard import scard  # the raw floor; cardkit itself imports pyscard only in pcsc.py
from smartcard.System import readers as pyscard_readers

from applets.card import VirtualCard
from applets.testapplet import INS_ECHO, TEST_AID, TestApplet
from applets.vpcd import VpcdBridge
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.transport.base import InProcessConnection
from cardkit.transport.pcsc import PcscConnection, list_readers

READERS = {35963: "Virtual PCD 00 00", 35964: "Virtual PCD 00 01"}
ECHO = CommandApdu(0x00, INS_ECHO, data=bytes(range(8)), ne=256)
SELECT = CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID)
FLOOR = "raw pyscard scard.SCardTransmit (floor)"


def measure(fn: Callable[[], object], count: int, warmup: int) -> list[float]:
    """Per-call wall times in microseconds."""
    for _ in range(warmup):
        fn()
    times = []
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        fn()
        times.append((clock() - start) / 1000)
    return times


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def ensure_pcscd(reader: str) -> subprocess.Popen[bytes] | None:
    """Start pcscd if none lists ``reader``; return the process if we started it."""

    def listed() -> bool:
        try:
            return reader in list_readers()
        except TransportError:
            return False

    if listed():
        return None
    daemon = subprocess.Popen(["/usr/sbin/pcscd", "--foreground"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not listed():
        if time.monotonic() > deadline:
            daemon.terminate()
            raise SystemExit("pcscd did not list the vpcd readers")
        time.sleep(0.05)
    return daemon


def interleaved(
    paths: list[tuple[str, Callable[[], object]]], count: int
) -> dict[str, list[float]]:
    """Time every path in alternating blocks, so drift and noise hit them all alike."""
    block = 100
    for _name, fn in paths:
        measure(fn, 0, max(50, count // 10))
    times: dict[str, list[float]] = {name: [] for name, _ in paths}
    for _ in range(max(1, count // block)):
        for name, fn in paths:
            times[name] += measure(fn, block, 5)
    return times


def run(count: int, port: int) -> list[tuple[str, list[float]]]:
    reader = READERS[port]

    # In-process: the cardkit pipeline straight into the card object (no PC/SC at all).
    local = ApduProtocol(InProcessConnection(VirtualCard([TestApplet()])))
    local.send(SELECT)
    in_process = measure(lambda: local.send(ECHO), count, max(50, count // 10))

    daemon = ensure_pcscd(reader)
    try:
        with VpcdBridge(VirtualCard([TestApplet()]), port=port) as bridge:
            if not bridge.wait_connected(5.0):
                raise SystemExit(f"cannot reach vpcd on port {port}")
            # All three clients share the card, so their exchanges can be interleaved.
            connection = PcscConnection(reader, exclusive=False, timeout=3.0)
            protocol = ApduProtocol(connection)
            protocol.send(SELECT)
            raw_echo, echo_bytes = list(ECHO.to_bytes()), ECHO.to_bytes()

            hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            hr, card, _ = scard.SCardConnect(
                context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1
            )
            if hr != scard.SCARD_S_SUCCESS:
                raise SystemExit(f"SCardConnect failed: {scard.SCardGetErrorMessage(hr)}")
            high = next(r for r in pyscard_readers() if str(r) == reader).createConnection()
            high.connect()
            pci = scard.SCARD_PCI_T1
            try:
                times = interleaved(
                    [
                        (FLOOR, lambda: scard.SCardTransmit(card, pci, raw_echo)),
                        ("pyscard CardConnection.transmit", lambda: high.transmit(raw_echo)),
                        (
                            "cardkit PcscConnection.send_and_receive",
                            lambda: connection.send_and_receive(echo_bytes),
                        ),
                        ("cardkit ApduProtocol.send over PC/SC", lambda: protocol.send(ECHO)),
                    ],
                    count,
                )
            finally:
                high.disconnect()
                high.release()  # now, not in __del__ after pcscd may have stopped
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
                scard.SCardReleaseContext(context)
                connection.close()
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(10)
    return [("cardkit ApduProtocol, in-process card", in_process), *times.items()]


def report(results: list[tuple[str, list[float]]]) -> str:
    floor = statistics.median(next(t for name, t in results if name == FLOOR))
    lines = [
        f"{'path':44} {'median us':>10} {'p99 us':>9} {'vs floor':>9} {'overhead us':>12}",
        "-" * 88,
    ]
    for name, times in results:
        ordered = sorted(times)
        median = statistics.median(ordered)
        over = "" if "in-process" in name else f"{median - floor:+.1f}"
        ratio = "" if "in-process" in name else f"{median / floor:.2f}x"
        lines.append(
            f"{name:44} {median:10.1f} {percentile(ordered, 0.99):9.1f} {ratio:>9} {over:>12}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="round trips per path")
    parser.add_argument("--port", type=int, default=35963, choices=sorted(READERS))
    args = parser.parse_args()
    results = run(args.count, args.port)
    print(f"ECHO 8 bytes, {args.count} round trips per path, shared mode, interleaved blocks")
    print("(PC/SC paths: pyscard -> pcscd -> vpcd -> TCP -> bridge thread -> virtual card)")
    print(report(results))


if __name__ == "__main__":
    main()
