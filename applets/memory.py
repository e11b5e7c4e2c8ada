"""Card memory: persistent key -> bytes namespaces with atomic transactions, and transient memory.

Model (after Java Card's JCSystem):

* Persistent memory is one store per card, split in one namespace per applet. A value is
  ``bytes`` under a ``str`` key. Every write (put or delete) is atomic on its own.
* ``begin()`` .. ``commit()`` groups writes: all take effect, or (``abort()``, power loss)
  none. Reads inside a transaction see its own writes. One transaction at a time per card.
* Each write first asks the :class:`~applets.faults.FaultInjector`; a power cut there
  leaves the committed state untouched.
* Each committed change is handed to ``on_commit`` (the card image writer) *before* it
  becomes visible, so memory and the image file never disagree.
* :class:`TransientMemory` holds values (any Python object, e.g. session keys) that vanish
  on reset or power loss, and optionally on deselect.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from .faults import FaultInjector

#: namespace -> key -> value
MemoryState = dict[str, dict[str, bytes]]

_DELETED = None  # marks a deletion in a transaction's write set


class TransactionError(RuntimeError):
    """Transaction misuse by applet code (nested begin, commit without begin)."""


class PersistentStore:
    """All persistent memory of one card."""

    def __init__(
        self,
        faults: FaultInjector,
        on_commit: Callable[[MemoryState], None] | None = None,
    ) -> None:
        self.faults = faults
        self.on_commit = on_commit
        self._committed: MemoryState = {}
        self._tx: dict[tuple[str, str], bytes | None] | None = None

    # --- state as a whole ------------------------------------------------------------------

    def snapshot(self) -> MemoryState:
        """A copy of the committed state."""
        return {ns: dict(values) for ns, values in self._committed.items()}

    def load(self, state: Mapping[str, Mapping[str, bytes]]) -> None:
        """Replace the committed state (used when a card image is read)."""
        self._tx = None
        self._committed = {ns: dict(values) for ns, values in state.items()}

    def namespace(self, name: str) -> Namespace:
        """The view of one namespace (created on first write)."""
        return Namespace(self, name)

    # --- reads and writes ------------------------------------------------------------------

    def read(self, ns: str, key: str) -> bytes | None:
        """The value under ``key``, as seen by the running transaction if any."""
        if self._tx is not None and (ns, key) in self._tx:
            return self._tx[(ns, key)]
        return self._committed.get(ns, {}).get(key)

    def keys(self, ns: str) -> list[str]:
        """The keys present in ``ns``, as seen by the running transaction if any."""
        present = set(self._committed.get(ns, {}))
        if self._tx is not None:
            for (tx_ns, key), value in self._tx.items():
                if tx_ns == ns:
                    if value is _DELETED:
                        present.discard(key)
                    else:
                        present.add(key)
        return sorted(present)

    def write(self, ns: str, key: str, value: bytes | None) -> None:
        """Store ``value`` (``None`` deletes): buffered in a transaction, else committed now."""
        if not isinstance(key, str) or not key:
            raise TypeError("persistent keys are non-empty strings")
        if value is not None:
            if not isinstance(value, bytes | bytearray | memoryview):
                raise TypeError(f"persistent values are bytes, got {type(value).__name__}")
            value = bytes(value)
        self.faults.before_write()  # may cut the power: nothing below happens then
        if self._tx is not None:
            self._tx[(ns, key)] = value
        else:
            self._publish({(ns, key): value})

    # --- transactions ----------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def begin(self) -> None:
        """Start a transaction (JCSystem.beginTransaction)."""
        if self._tx is not None:
            raise TransactionError("a transaction is already in progress")
        self._tx = {}

    def commit(self) -> None:
        """Make every write of the transaction take effect at once."""
        if self._tx is None:
            raise TransactionError("commit without a transaction")
        writes, self._tx = self._tx, None  # on failure the transaction is gone, like a tear
        if writes:
            self._publish(writes)

    def abort(self) -> None:
        """Drop every write of the running transaction (no-op without one)."""
        self._tx = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``with store.transaction():`` commits on success, aborts on any exception."""
        self.begin()
        try:
            yield
        except BaseException:
            self.abort()
            raise
        self.commit()

    def _publish(self, writes: Mapping[tuple[str, str], bytes | None]) -> None:
        new = dict(self._committed)  # copy only the namespaces that change
        for ns in {ns for ns, _ in writes}:
            new[ns] = dict(self._committed.get(ns, {}))
        for (ns, key), value in writes.items():
            if value is _DELETED:
                new[ns].pop(key, None)
            else:
                new[ns][key] = value
        if self.on_commit is not None:
            self.on_commit(new)  # raises if it cannot be made durable: nothing changes
        self._committed = new


class Namespace:
    """One applet's persistent memory, with typed helpers."""

    def __init__(self, store: PersistentStore, name: str) -> None:
        self.store = store
        self.name = name

    def get(self, key: str, default: bytes | None = None) -> bytes | None:
        value = self.store.read(self.name, key)
        return default if value is None else value

    def __getitem__(self, key: str) -> bytes:
        value = self.store.read(self.name, key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.store.read(self.name, key) is not None

    def put(self, key: str, value: bytes) -> None:
        """One persistent write."""
        self.store.write(self.name, key, value)

    def delete(self, key: str) -> None:
        """One persistent write (deleting a missing key still counts)."""
        self.store.write(self.name, key, None)

    def keys(self) -> list[str]:
        return self.store.keys(self.name)

    def get_int(self, key: str, default: int = 0) -> int:
        """An unsigned big-endian integer."""
        value = self.store.read(self.name, key)
        return default if value is None else int.from_bytes(value, "big")

    def put_int(self, key: str, value: int, size: int = 4) -> None:
        """Store ``value`` as ``size`` unsigned big-endian bytes (OverflowError if it won't fit)."""
        self.put(key, value.to_bytes(size, "big"))

    def cyclic(self, name: str, capacity: int) -> CyclicRecords:
        """A cyclic record file (ISO 7816-4 cyclic EF) kept in this namespace."""
        return CyclicRecords(self, name, capacity)

    def transaction(self) -> AbstractContextManager[None]:
        """The card-wide transaction context manager (see :meth:`PersistentStore.transaction`)."""
        return self.store.transaction()


class CyclicRecords:
    """The last ``capacity`` records appended, newest first, like a cyclic EF.

    An append is two writes (the record, then the count): do it inside a transaction
    when it must stay consistent with other data.
    """

    def __init__(self, ns: Namespace, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.ns = ns
        self.name = name
        self.capacity = capacity

    @property
    def total(self) -> int:
        """How many records were ever appended."""
        return self.ns.get_int(f"{self.name}.count")

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    def append(self, record: bytes) -> None:
        total = self.total
        self.ns.put(f"{self.name}.{total % self.capacity}", record)
        self.ns.put_int(f"{self.name}.count", total + 1)

    def records(self) -> list[bytes]:
        """The kept records, newest first."""
        total = self.total
        return [self.ns[f"{self.name}.{(total - 1 - i) % self.capacity}"] for i in range(len(self))]


class Lifetime(enum.Enum):
    """When a transient value is cleared (Java Card's CLEAR_ON_RESET / CLEAR_ON_DESELECT)."""

    CLEAR_ON_RESET = "reset"
    CLEAR_ON_DESELECT = "deselect"


class TransientMemory:
    """One applet's RAM: values lost on reset and power loss, some also on deselect."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[Lifetime, Any]] = {}

    def set(self, key: str, value: Any, lifetime: Lifetime = Lifetime.CLEAR_ON_RESET) -> None:
        self._values[key] = (lifetime, value)

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._values.get(key)
        return default if entry is None else entry[1]

    def pop(self, key: str, default: Any = None) -> Any:
        entry = self._values.pop(key, None)
        return default if entry is None else entry[1]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def clear(self, lifetime: Lifetime | None = None) -> None:
        """Clear everything (reset, power loss) or only values with ``lifetime``."""
        if lifetime is None:
            self._values.clear()
        else:
            self._values = {k: e for k, e in self._values.items() if e[0] is not lifetime}
