"""M-of-N backup of a master key as SLIP-39 word shares (``shamir-mnemonic``).

Each custodian copies one share (20 words for a 16-byte key) by hand. Any M shares give
the key back; fewer reveal nothing. Checks before combining give a precise error for the
usual mistakes: too few shares, the same share twice, a share of another backup.
"""

from __future__ import annotations

import shamir_mnemonic
from shamir_mnemonic.share import Share

from .errors import (
    DuplicateShareError,
    InvalidShareError,
    MismatchedShareError,
    ShareError,
    TooFewSharesError,
)

DEFAULT_THRESHOLD = 3
DEFAULT_SHARES = 5


def split_secret(
    secret: bytes,
    threshold: int = DEFAULT_THRESHOLD,
    shares: int = DEFAULT_SHARES,
    iteration_exponent: int = 1,
) -> list[str]:
    """``shares`` SLIP-39 mnemonics, any ``threshold`` of which recover ``secret``."""
    if not 2 <= threshold <= shares <= 16:
        raise ShareError(f"need 2 <= threshold <= shares <= 16, got {threshold} of {shares}")
    groups = shamir_mnemonic.generate_mnemonics(
        group_threshold=1,
        groups=[(threshold, shares)],
        master_secret=secret,
        iteration_exponent=iteration_exponent,
    )
    return groups[0]


def _normalise(mnemonic: str) -> str:
    return " ".join(mnemonic.lower().split())


def recover_secret(mnemonics: list[str]) -> bytes:
    """The secret from at least ``threshold`` distinct shares of one backup set."""
    decoded: list[Share] = []
    for number, text in enumerate(mnemonics, start=1):
        try:
            decoded.append(Share.from_mnemonic(_normalise(text)))
        except (shamir_mnemonic.MnemonicError, ValueError, KeyError) as exc:
            raise InvalidShareError(f"share {number} is not a valid share: {exc}") from None
    if not decoded:
        raise TooFewSharesError("no shares given")
    first = decoded[0]
    for number, share in enumerate(decoded[1:], start=2):
        if (
            share.common_parameters() != first.common_parameters()
            or share.group_parameters() != first.group_parameters()
        ):
            raise MismatchedShareError(
                f"share {number} belongs to another backup (its first words differ)"
            )
    seen: dict[int, int] = {}
    for number, share in enumerate(decoded, start=1):
        if share.index in seen:
            raise DuplicateShareError(
                f"share {number} is the same member share as share {seen[share.index]}"
            )
        seen[share.index] = number
    threshold = first.member_threshold
    if len(decoded) < threshold:
        raise TooFewSharesError(f"{len(decoded)} share(s) given, {threshold} needed")
    try:
        return shamir_mnemonic.combine_mnemonics([s.mnemonic() for s in decoded[:threshold]])
    except shamir_mnemonic.MnemonicError as exc:
        # The digest inside SLIP-39 fails when shares of different secrets are mixed.
        raise MismatchedShareError(f"the shares do not belong together ({exc})") from None
