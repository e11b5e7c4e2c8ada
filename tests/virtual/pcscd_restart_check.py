"""Run inside a private mount + network namespace: a pcscd restart under a live bridge.

Started by ``test_pcsc_restart.py`` as
``unshare -mn sh -c 'mount -t tmpfs tmpfs /run/pcscd; ip link set lo up; exec python THIS'``,
so the pcscd it starts and stops is its own, invisible to the machine's pcscd and its
clients. Exits 0 and prints OK when the bridge and the host side survived the restart.
"""

from __future__ import annotations

import subprocess
import sys
import time

from applets.card import VirtualCard
from applets.testapplet import TestApplet
from applets.vpcd import VpcdBridge
from cardkit.errors import TransportError
from cardkit.transport.pcsc import PcscConnection, list_readers

READER = "Virtual PCD 00 00"
SELECT = bytes.fromhex("00A4040007F0636B74657374")
INCREMENT = bytes.fromhex("0003000000")  # data-less: +1
READ = bytes.fromhex("0002000004")


def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def readers_listed() -> bool:
    try:
        return READER in list_readers()
    except TransportError:
        return False


def start_pcscd() -> subprocess.Popen[bytes]:
    daemon = subprocess.Popen(["/usr/sbin/pcscd", "--foreground"], stderr=subprocess.DEVNULL)
    if not wait_until(readers_listed, 10.0):
        raise SystemExit("pcscd did not come up")
    return daemon


def stop_pcscd(daemon: subprocess.Popen[bytes]) -> None:
    daemon.terminate()
    daemon.wait(10)


def check(connection: PcscConnection, expected_counter: int) -> None:
    assert connection.send_and_receive(SELECT)[1] == 0x9000
    data, sw = connection.send_and_receive(READ)
    assert sw == 0x9000 and int.from_bytes(data, "big") == expected_counter, (data, sw)


def main() -> int:
    daemon = start_pcscd()
    card = VirtualCard([TestApplet()])
    with VpcdBridge(card) as bridge:
        assert bridge.wait_connected(5.0), "bridge never reached vpcd"
        connection = PcscConnection(READER, timeout=3.0)
        connection.send_and_receive(SELECT)
        assert connection.send_and_receive(INCREMENT)[1] == 0x9000
        insertions = bridge.insertions

        stop_pcscd(daemon)
        assert wait_until(lambda: not bridge.connected, 5.0), "bridge missed the restart"
        try:
            connection.send_and_receive(SELECT)
            raise AssertionError("a transmit to a dead pcscd succeeded")
        except TransportError as exc:
            print("while pcscd is down:", type(exc).__name__, exc)

        daemon = start_pcscd()
        try:
            assert bridge.wait_connected(5.0), "bridge did not come back"
            assert bridge.insertions > insertions
            connection.reconnect(timeout=3.0)  # stale context and handle, re-established
            check(connection, 1)
            connection.close()
            with PcscConnection(READER, timeout=3.0) as fresh:
                check(fresh, 1)
        finally:
            stop_pcscd(daemon)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
