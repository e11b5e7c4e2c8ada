"""The merchant SAM applet (AID ``F0 53 53 4E 53 41 4D``): debit authorisation for the wallet."""

from __future__ import annotations

from .applet import SamApplet

__all__ = ["SamApplet"]
