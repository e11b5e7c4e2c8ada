"""Cryptographic primitives shared by host and card, with no protocol in them: AES-CMAC,
the SP 800-108 KDF, key check values, key diversification, the SCP03 cryptography
(:mod:`.scp03`), chip authentication (:mod:`.chipauth`) and the SAM key-load package.

May import :mod:`cardkit.errors` only.
"""

from __future__ import annotations

from .cmac import aes_cmac, aes_cmac_verify
from .kcv import gp_aes_kcv, kcv, kcv_matches
from .kdf import derive_key, derive_with_prf, fixed_input, kdf_counter

__all__ = [
    "aes_cmac",
    "aes_cmac_verify",
    "derive_key",
    "derive_with_prf",
    "fixed_input",
    "gp_aes_kcv",
    "kcv",
    "kcv_matches",
    "kdf_counter",
]
