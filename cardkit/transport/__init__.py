"""How bytes reach a card: the :class:`Connection` interface, an in-process connection to a
virtual card, a counting wrapper, :mod:`cardkit.transport.faults` (a connection that loses
answers, cuts power or plays a hostile relay, for tests and benchmarks), and
:mod:`cardkit.transport.pcsc` (pyscard through pcscd, the only module that imports pyscard;
load it on first use).

May import :mod:`cardkit.errors` only; sessions and protocols are built on top of it.
"""

from __future__ import annotations

from .base import Connection, CountingConnection, InProcessConnection

__all__ = ["Connection", "CountingConnection", "InProcessConnection"]
