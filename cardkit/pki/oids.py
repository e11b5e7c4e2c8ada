"""cardkit's own object identifiers: the private arc and what sits under it.

The eContentType of each signed object (card record, identity record, hotlist) and the
extended key usage of a cardkit signer certificate.
"""

from __future__ import annotations

#: cardkit's private OID arc. PLACEHOLDER: 99999 is not an IANA Private Enterprise Number
#: assigned to the city; replace it (in one place, here) once a PEN is registered.
CARDKIT_OID_ARC = "1.3.6.1.4.1.99999"

#: eContentType of each cardkit object
ID_CT_CARD_RECORD = f"{CARDKIT_OID_ARC}.1.1"
ID_CT_IDENTITY_RECORD = f"{CARDKIT_OID_ARC}.1.2"
ID_CT_HOTLIST = f"{CARDKIT_OID_ARC}.1.3"

#: Extended key usage for cardkit object signers. A signer certificate needs no EKU; if it
#: has one, it must list this or anyExtendedKeyUsage. (openssl's default S/MIME purpose
#: then needs ``-purpose any``.)
ID_KP_CARDKIT_SIGNING = f"{CARDKIT_OID_ARC}.3.1"
#: Extended key usage of the back office's hotlist signer (its certificate lists both).
ID_KP_CARDKIT_HOTLIST = f"{CARDKIT_OID_ARC}.3.2"
