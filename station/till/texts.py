"""What the till says, in one place: rupiah amounts and one sentence per outcome.

Every sentence is an English source string marked for Qt's translation (context ``Till``);
the Indonesian lives in ``i18n/till_id.ts``. ``%1`` is filled with an amount or a name.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from .service import Problem, SaleResult, Verdict, rupiah_digits

CONTEXT = "Till"

HEADLINES = {
    Verdict.PAID: QT_TRANSLATE_NOOP("Till", "PAID"),
    Verdict.REFUNDED: QT_TRANSLATE_NOOP("Till", "REFUNDED"),
    Verdict.NOT_CHARGED: QT_TRANSLATE_NOOP("Till", "NOT CHARGED"),
    Verdict.TAP_AGAIN: QT_TRANSLATE_NOOP("Till", "TAP THE CARD AGAIN"),
}

PROBLEMS = {
    Problem.NO_READER: QT_TRANSLATE_NOOP("Till", "The card reader is not plugged in."),
    Problem.CARD_PULLED: QT_TRANSLATE_NOOP(
        "Till", "The card was lifted too soon. Nothing was charged: tap the card again."
    ),
    Problem.OTHER_SYSTEM: QT_TRANSLATE_NOOP(
        "Till", "This is not a Samarinda SSN card. Nothing was charged."
    ),
    Problem.BLOCKED: QT_TRANSLATE_NOOP(
        "Till",
        "This card is blocked (reported lost, stolen or revoked). Do not accept it: "
        "the customer should go to the city office.",
    ),
    Problem.HOTLISTED: QT_TRANSLATE_NOOP(
        "Till", "This card is on the blocked-card list. Do not accept it."
    ),
    Problem.NOT_ISSUED: QT_TRANSLATE_NOOP("Till", "This card is not active yet."),
    Problem.NO_PURSE: QT_TRANSLATE_NOOP("Till", "This card holds no programme funds."),
    Problem.WRONG_PURSE: QT_TRANSLATE_NOOP(
        "Till",
        "The card's list of programmes did not match the card itself. Nothing was charged: "
        "tap the card again.",
    ),
    Problem.EXPIRED: QT_TRANSLATE_NOOP("Till", "The %1 funds on this card have expired."),
    Problem.OVER_BALANCE: QT_TRANSLATE_NOOP(
        "Till", "Balance too low. The card can pay at most %1."
    ),
    Problem.OVER_PAYMENT_CAP: QT_TRANSLATE_NOOP(
        "Till", "Above the limit for one payment. At most %1 per payment."
    ),
    Problem.OVER_OFFLINE_CAP: QT_TRANSLATE_NOOP(
        "Till",
        "The card's offline limit is nearly used: at most %1 now. The card must be "
        "synchronised at a city office.",
    ),
    Problem.NO_SAM: QT_TRANSLATE_NOOP(
        "Till", "The SAM (the shop's security card) is missing. Put it in its reader."
    ),
    Problem.SAM_CEILING: QT_TRANSLATE_NOOP(
        "Till", "The SAM's limit is reached: export the settlement batch and settle first."
    ),
    Problem.SAM_REFUSED: QT_TRANSLATE_NOOP("Till", "The SAM refused this payment."),
    Problem.NOT_GENUINE: QT_TRANSLATE_NOOP("Till", "This card is not genuine. Do not accept it."),
    Problem.UNRESOLVED: QT_TRANSLATE_NOOP(
        "Till",
        "An earlier interrupted payment of this card cannot be settled here. "
        "Note the card number and call the back office.",
    ),
    Problem.CLOCK_WRONG: QT_TRANSLATE_NOOP(
        "Till", "The laptop's date and time are wrong. Set the clock before selling."
    ),
    Problem.NOTHING_TO_UNDO: QT_TRANSLATE_NOOP(
        "Till", "This till has no sale of this card to undo."
    ),
    Problem.CANNOT_UNDO: QT_TRANSLATE_NOOP(
        "Till", "Only the card's last payment, made at this till, can be undone."
    ),
    Problem.OTHER: QT_TRANSLATE_NOOP("Till", "The payment did not go through."),
}

TAP_AGAIN = QT_TRANSLATE_NOOP(
    "Till",
    "The card was lifted before the payment finished. Tap the same card again: "
    "the till will tell whether it was paid. It never charges twice.",
)
RECOVERED_PAID = QT_TRANSLATE_NOOP(
    "Till", "The interrupted payment of %1 went through. Do not charge again."
)
RECOVERED_NOT_CHARGED = QT_TRANSLATE_NOOP("Till", "The interrupted payment of %1 was not charged.")
# Neither paid nor not charged: the card transacted elsewhere since, and its record can no
# longer prove either way. Never "not charged": the money may have moved.
RECOVERED_REFERRED = QT_TRANSLATE_NOOP(
    "Till",
    "Referred to the back office: the earlier interrupted payment of %1 will be checked "
    "(it may have gone through).",
)


def tr(source: object) -> str:
    """``source`` (a string marked with QT_TRANSLATE_NOOP) in the current language."""
    return QCoreApplication.translate(CONTEXT, str(source))


def rupiah(value: int) -> str:
    """25000 -> "Rp 25.000", as Indonesians write it (in both languages)."""
    return f"Rp {rupiah_digits(value)}"


#: Refusals for the amount: their sentence says how much is left, when the till knows it.
AMOUNT_PROBLEMS = (Problem.OVER_BALANCE, Problem.OVER_PAYMENT_CAP, Problem.OVER_OFFLINE_CAP)
CANNOT_PAY_AMOUNT = QT_TRANSLATE_NOOP("Till", "The card cannot pay this amount.")


def headline(result: SaleResult) -> str:
    return tr(HEADLINES[result.verdict])


def explanation(result: SaleResult) -> str:
    """The sentence under the headline."""
    from cardkit.wallet import Outcome

    recovered_texts = {
        Outcome.PAID: RECOVERED_PAID,
        Outcome.NOT_CHARGED: RECOVERED_NOT_CHARGED,
        Outcome.REFERRED: RECOVERED_REFERRED,
    }
    lines = []
    for r in result.recovered:
        # an outcome without its own sentence must never read "not charged"
        text = recovered_texts.get(r.outcome, RECOVERED_REFERRED)
        lines.append(tr(text).replace("%1", rupiah(r.amount)))
    if result.verdict is Verdict.TAP_AGAIN:
        lines.append(tr(TAP_AGAIN))
    elif result.verdict is Verdict.NOT_CHARGED:
        text = tr(PROBLEMS.get(result.problem, PROBLEMS[Problem.OTHER]))
        if result.problem is Problem.EXPIRED:
            text = text.replace("%1", result.programme or "")
        elif result.left is None and result.problem in AMOUNT_PROBLEMS:
            text = tr(CANNOT_PAY_AMOUNT)  # how much is left could not be checked
        else:
            text = text.replace("%1", rupiah(result.left or 0))
        lines.append(text)
    return "\n".join(lines)
