"""Indonesian name keys: the same person's name under the spellings a survey produces.

``name_key`` folds Muhammad/Muhamad/Mohammad/M., Nur/Noor, Saipul/Saiful (F/P),
Hairul/Khairul (KH/H), old spellings (oe -> u, dj -> j, tj -> c, j -> y, ch -> kh),
doubled letters, a final -ie, honorifics (H., Hj., Drs., S.Pd., ...) and word order, so that
rapidfuzz and Splink compare what is left: a dropped letter, a missing surname.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

HONORIFICS = frozenset({
    "H", "HJ", "HAJI", "HAJJAH", "HAJAH", "DR", "DRS", "DRA", "IR", "SH", "SE", "SPD", "SAG",
    "SKM", "SSOS", "SKEP", "AMD", "AMK", "MPD", "MM", "MSI", "ST", "SSI", "BPK", "BAPAK", "PAK",
    "IBU", "BU", "NY", "NYONYA", "TN", "TUAN", "SDR", "ALM", "ALMH", "USTADZ", "UST",
})
_TOKEN = {
    "M": "MUHAMAD", "MUH": "MUHAMAD", "MOH": "MUHAMAD", "MHD": "MUHAMAD", "MOHAMAD": "MUHAMAD",
    "MUHAMED": "MUHAMAD", "MOHAMED": "MUHAMAD", "MUHAMMED": "MUHAMAD", "MUHAMAT": "MUHAMAD",
    "MAMAD": "MUHAMAD", "NOR": "NUR", "NOER": "NUR", "NURUL": "NURUL",
}
# Old spelling: oe = u, dj = j, tj = c, j = y (so dj -> j -> y, and modern j -> y as well).
_OLD = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("CH", "KH"), ("J", "Y"))
_NON_LETTER = re.compile(r"[^A-Z ]+")
_DOUBLE = re.compile(r"(.)\1+")


def _token(token: str) -> str:
    for old, new in _OLD:
        token = token.replace(old, new)
    token = _DOUBLE.sub(r"\1", token)
    token = token.replace("KH", "H").replace("F", "P").replace("V", "P")
    if token.endswith("IE") and len(token) > 3:
        token = token[:-2] + "I"
    if token.endswith("Y") and len(token) > 3:
        token = token[:-1] + "I"
    return _TOKEN.get(token, token)


@lru_cache(maxsize=262144)
def name_tokens(name: str) -> tuple[str, ...]:
    """The folded tokens of a name, honorifics dropped, in their original order."""
    upper = _NON_LETTER.sub(" ", name.upper().replace(".", " ").replace("'", ""))
    tokens = [t for t in upper.split() if t not in HONORIFICS]
    return tuple(_token(t) for t in tokens) or ("",)


@lru_cache(maxsize=262144)
def name_key(name: str) -> str:
    """The folded name with its words sorted (word order does not matter)."""
    return " ".join(sorted(name_tokens(name)))


def name_similarity(a: str, b: str) -> float:
    """0-100: how alike two names are after folding (rapidfuzz; a missing surname scores high)."""
    ka, kb = name_key(a), name_key(b)
    if ka == kb:
        return 100.0
    ratio = fuzz.ratio(ka, kb)
    subset = fuzz.token_set_ratio(ka, kb)
    return float(max(ratio, subset - 5))
