"""What a card or a SAM refuses, written once and called by every side: the SSN card applet,
the SAM applet, the software SAM and the terminal (which asks before spending a SAM counter).

Each ``*_refusal`` function returns the reason as a sentence, or None when the rule lets the
message through; MACs are checked elsewhere (:mod:`cardkit.codecs.wallet`,
:mod:`cardkit.codecs.sam`). The card is the authority on its own rules; a SAM runs the card's
debit rules first so that a doomed debit spends neither its counter nor its ceiling.
"""

from __future__ import annotations

from .sam import Authorisation, AuthoriseInput, SamIdentity
from .wallet import (
    LOAD_FLAG_RESET_CUMULATIVE,
    DebitRequest,
    InitResponse,
    LogEntry,
    PurseRecord,
    TransactionType,
    is_valid_date,
)


def debit_refusal(init: InitResponse, amount: int, date: int) -> str | None:
    """Why the card would refuse this debit (None if it would accept, MACs aside).

    The card is the authority; the SAM runs the same checks first so that a doomed debit
    spends neither its counter nor its ceiling.
    """
    return purse_debit_refusal(
        init.purse, init.cumulative, init.offline_cap, amount, date, init.last.entry.date
    )


def date_refusal(date: int, latest: int) -> str | None:
    """Why a debit or undo dated ``date`` is refused on a card whose last transaction is
    dated ``latest`` (None if it may pass): dates never go back on a 1.1 card, so a till
    whose clock is set back cannot spend an expired purse."""
    if date < latest:
        return (
            f"the date {date} is before the card's last transaction ({latest}): "
            "check this terminal's clock"
        )
    return None


def purse_debit_refusal(
    purse: PurseRecord,
    cumulative: int,
    offline_cap: int,
    amount: int,
    date: int,
    latest: int = 0,
) -> str | None:
    """The debit rules on one purse (the card's checks; :func:`debit_refusal` for a SAM).
    ``latest`` is the date of the card's last transaction (0: no date rule, applet 1.0)."""
    if amount < 1:
        return "amount must be at least 1 rupiah"
    if not is_valid_date(date):
        return "date is not a YYYYMMDD date"
    reason = date_refusal(date, latest)
    if reason is not None:
        return reason
    if date > purse.expiry:
        return "purse expired"
    if amount > purse.payment_cap:
        return "amount above the per-payment cap"
    if amount > purse.balance:
        return "balance too low"
    if cumulative + amount > offline_cap:
        return "offline cap reached"
    return None


def load_refusal(purse: PurseRecord, flags: int, amount: int, date: int) -> str | None:
    """Why the card would refuse this LOAD (None if it would accept, MACs aside).

    A load of 0 is allowed only as a sync (flag ``01``: reset the offline cumulative).
    """
    if flags & ~LOAD_FLAG_RESET_CUMULATIVE:
        return "unknown load flags"
    if amount == 0 and not flags & LOAD_FLAG_RESET_CUMULATIVE:
        return "amount must be at least 1 rupiah (0 only for a sync)"
    if not is_valid_date(date):
        return "date is not a YYYYMMDD date"
    if amount and date > purse.expiry:
        return "purse expired"
    if purse.balance + amount > purse.balance_cap:
        return "balance cap reached"
    return None


def card_undo_refusal(
    last: LogEntry, purse: int, request: DebitRequest, *, dates_rise: bool = True
) -> str | None:
    """Why the card would refuse this UNDO (None if it would accept, MACs aside): only the
    last transaction, a debit, on the same purse, by the same SAM, for 1..its amount, not
    dated before it (``dates_rise`` False: a 1.0 card, no date rule). The undo lock is
    checked by the card itself (:func:`cardkit.codecs.wallet.verify_undo_secret`)."""
    if last.type is not TransactionType.DEBIT:
        return "the last transaction is not a debit"
    if purse != last.purse:
        return "undo must go to the purse that was debited"
    if (request.sam_id, request.merchant, request.terminal) != (
        last.sam_id,
        last.merchant,
        last.terminal,
    ):
        return "the last debit was authorised by another SAM"
    if not 1 <= request.amount <= last.amount:
        return "undo amount must be 1..the debited amount"
    if not is_valid_date(request.date):
        return "date is not a YYYYMMDD date"
    if dates_rise:
        return date_refusal(request.date, last.date)
    return None


def undo_refusal(
    auth: AuthoriseInput, identity: SamIdentity, own: Authorisation | None
) -> str | None:
    """Why a SAM must not authorise this undo (None if it may). ``own`` is the SAM's record
    of the authorisation with the counter named in the card's last transaction, if any."""
    last = auth.init.last.entry
    if last.type is not TransactionType.DEBIT:
        return "the card's last transaction is not a debit"
    if (last.sam_id, last.merchant, last.terminal) != (
        identity.sam_id,
        identity.merchant,
        identity.terminal,
    ):
        return "the last debit was authorised by another SAM"
    if own is None or own.type is not TransactionType.DEBIT:
        return "this SAM has no record of the last debit"
    if (own.serial, own.tc, own.purse, own.amount) != (
        auth.serial,
        last.tc,
        last.purse,
        last.amount,
    ):
        return "the last debit does not match this SAM's record"
    if auth.init.purse.index != last.purse:
        return "undo must go to the purse that was debited"
    if not 1 <= auth.amount <= last.amount:
        return "undo amount must be 1..the debited amount"
    if not is_valid_date(auth.date):
        return "date is not a YYYYMMDD date"
    return date_refusal(auth.date, last.date)


def ceiling_refusal(
    total_authorised: int, settled_total: int, ceiling: int, amount: int
) -> str | None:
    """Why a SAM must not authorise a debit of ``amount`` (None if it may): the value it has
    authorised since its last settlement, this debit included, may not exceed its ceiling."""
    if total_authorised + amount - settled_total > ceiling:
        return "SAM ceiling reached"
    return None
