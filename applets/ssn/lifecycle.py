"""The SSN card's life cycle (PROTOCOL.md s2): states, the issuer's moves, the self-check."""

from __future__ import annotations

from cardkit.codecs.ssn import LifeCycle

#: SET STATUS moves the issuer may make: current state -> states it may set.
#: BLANK -> BLANK is an idempotent wipe, so a host recovering from a torn personalisation
#: can always send SET STATUS 01 without first finding out how far the card got.
ISSUER_MOVES: dict[LifeCycle, frozenset[LifeCycle]] = {
    LifeCycle.BLANK: frozenset({LifeCycle.BLANK, LifeCycle.TERMINATED}),
    LifeCycle.PERSONALISING: frozenset({LifeCycle.BLANK, LifeCycle.ISSUED, LifeCycle.TERMINATED}),
    LifeCycle.ISSUED: frozenset({LifeCycle.BLOCKED, LifeCycle.TERMINATED}),
    LifeCycle.BLOCKED: frozenset({LifeCycle.ISSUED, LifeCycle.TERMINATED}),
    LifeCycle.TERMINATED: frozenset(),
}


def may_move(current: LifeCycle, target: LifeCycle) -> bool:
    """True when SET STATUS may take the card from ``current`` to ``target``."""
    return target in ISSUER_MOVES[current]


def record_is_for_this_card(card_record: bytes, public_point: bytes, serial: bytes) -> bool:
    """The self-check before ISSUED: the card's own point and serial are inside its record.

    A byte search, as a chip without an ASN.1 parser would do it: records made for
    another card (another key pair or serial) cannot pass.
    """
    return (
        bool(public_point)
        and bool(serial)
        and (public_point in card_record and serial in card_record)
    )
