"""Power-cut injection: tear the card at the N-th persistent write.

Every persistent write on the card (inside a transaction or not) passes through
:meth:`FaultInjector.before_write`. When the armed count is reached, that write does not
happen: :class:`PowerLoss` is raised instead, and the card throws away everything not
yet committed and powers off, as a card pulled out of the field would.
"""

from __future__ import annotations


class PowerLoss(BaseException):  # noqa: N818 - an event, not an error
    """The card lost power in the middle of a command.

    A ``BaseException`` on purpose: applet code that catches ``Exception`` must not be
    able to swallow a power cut, just as card code cannot on a real chip.
    """


class FaultInjector:
    """Counts persistent writes and cuts the power at an armed one.

    ``cut_at_write(n)`` arms a one-shot cut at the n-th write from now (n >= 1);
    ``clear()`` disarms. ``writes`` counts every write since the card was made,
    ``command_writes`` the writes of the last (or current) command.
    """

    def __init__(self) -> None:
        self.writes = 0
        self.command_writes = 0
        self.cuts = 0
        self._remaining: int | None = None

    @property
    def armed(self) -> bool:
        """True while a cut is pending."""
        return self._remaining is not None

    def cut_at_write(self, n: int) -> None:
        """Cut the power when the n-th persistent write from now is attempted."""
        if n < 1:
            raise ValueError("n counts writes from 1")
        self._remaining = n

    def clear(self) -> None:
        """Disarm any pending cut."""
        self._remaining = None

    def start_command(self) -> None:
        """Called by the card at the start of each command."""
        self.command_writes = 0

    def before_write(self) -> None:
        """Called before every persistent write; raises :class:`PowerLoss` at the armed one."""
        if self._remaining is not None:
            self._remaining -= 1
            if self._remaining == 0:
                self._remaining = None
                self.cuts += 1
                raise PowerLoss(f"power cut at persistent write {self.writes + 1}")
        self.writes += 1
        self.command_writes += 1
