"""Symmetric primitives shared by host and card: AES-CMAC, SP 800-108 KDF, key check values,
the SAM key-load package (and SCP03 in :mod:`cardkit.crypto.scp03`)."""

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
