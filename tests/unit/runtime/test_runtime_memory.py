"""Persistent store, transactions, cyclic records, transient memory, write counting."""

from __future__ import annotations

import pytest

from applets.faults import FaultInjector, PowerLoss
from applets.memory import Lifetime, PersistentStore, TransactionError, TransientMemory


def make_store() -> tuple[PersistentStore, list[dict[str, dict[str, bytes]]]]:
    published: list[dict[str, dict[str, bytes]]] = []
    store = PersistentStore(FaultInjector(), on_commit=lambda s: published.append(s))
    return store, published


def test_write_outside_transaction_commits_at_once() -> None:
    store, published = make_store()
    ns = store.namespace("A")
    ns.put("k", b"\x01")
    assert ns["k"] == b"\x01"
    assert published[-1] == {"A": {"k": b"\x01"}}
    ns.delete("k")
    assert "k" not in ns and ns.get("k") is None
    assert len(published) == 2


def test_transaction_commit_is_one_publication() -> None:
    store, published = make_store()
    ns = store.namespace("A")
    with ns.transaction():
        ns.put_int("a", 7)
        ns.put("b", b"xy")
        assert ns.get_int("a") == 7  # reads see the transaction's writes
        assert store.snapshot() == {}  # ...others see nothing yet
    assert store.snapshot() == {"A": {"a": b"\x00\x00\x00\x07", "b": b"xy"}}
    assert len(published) == 1


def test_abort_drops_writes_and_deletes() -> None:
    store, _ = make_store()
    ns = store.namespace("A")
    ns.put("keep", b"1")
    store.begin()
    ns.put("keep", b"2")
    ns.delete("keep")
    ns.put("new", b"3")
    assert ns.keys() == ["new"]
    store.abort()
    assert ns.keys() == ["keep"] and ns["keep"] == b"1"


def test_exception_in_transaction_block_aborts() -> None:
    store, _ = make_store()
    ns = store.namespace("A")
    with pytest.raises(ZeroDivisionError), ns.transaction():
        ns.put("x", b"1")
        _ = 1 / 0
    assert "x" not in ns and not store.in_transaction


def test_nested_begin_and_stray_commit_are_errors() -> None:
    store, _ = make_store()
    store.begin()
    with pytest.raises(TransactionError):
        store.begin()
    store.abort()
    with pytest.raises(TransactionError):
        store.commit()


def test_failed_publication_leaves_state_unchanged() -> None:
    def refuse(_: object) -> None:
        raise OSError("disk full")

    store = PersistentStore(FaultInjector(), on_commit=refuse)
    ns = store.namespace("A")
    with pytest.raises(OSError):
        ns.put("k", b"1")
    assert store.snapshot() == {}


def test_values_and_keys_are_checked() -> None:
    store, _ = make_store()
    ns = store.namespace("A")
    with pytest.raises(TypeError):
        ns.put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ns.put("", b"1")
    with pytest.raises(OverflowError):
        ns.put_int("n", 256, size=1)


def test_cyclic_records_keep_the_newest() -> None:
    store, _ = make_store()
    log = store.namespace("A").cyclic("log", 3)
    assert log.records() == [] and len(log) == 0
    for i in range(5):
        log.append(bytes([i]))
    assert log.total == 5 and len(log) == 3
    assert log.records() == [b"\x04", b"\x03", b"\x02"]


def test_fault_injector_cuts_the_nth_write_only() -> None:
    faults = FaultInjector()
    store = PersistentStore(faults)
    ns = store.namespace("A")
    faults.cut_at_write(2)
    ns.put("a", b"1")
    with pytest.raises(PowerLoss):
        ns.put("b", b"2")
    assert store.snapshot() == {"A": {"a": b"1"}}
    assert not faults.armed and faults.cuts == 1
    ns.put("b", b"2")  # one-shot: the next write goes through
    assert faults.writes == 2
    with pytest.raises(ValueError):
        faults.cut_at_write(0)


def test_power_loss_is_not_swallowed_by_except_exception() -> None:
    faults = FaultInjector()
    ns = PersistentStore(faults).namespace("A")
    faults.cut_at_write(1)
    with pytest.raises(PowerLoss):
        try:
            ns.put("a", b"1")
        except Exception:  # applet code that tries to hide errors
            pytest.fail("a power cut must not be catchable as an Exception")


def test_transient_lifetimes() -> None:
    ram = TransientMemory()
    ram.set("session", b"k")
    ram.set("challenge", b"c", Lifetime.CLEAR_ON_DESELECT)
    ram.clear(Lifetime.CLEAR_ON_DESELECT)
    assert "challenge" not in ram and ram.get("session") == b"k"
    ram.clear()
    assert ram.get("session") is None
    ram.set("x", 1)
    assert ram.pop("x") == 1 and ram.pop("x", 2) == 2
