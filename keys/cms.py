"""CMS SignedData (RFC 5652) made by any :class:`cardkit.keystore.Signer`.

Built with asn1crypto so that a signer whose key lives in an HSM signs exactly like one in
memory. ``openssl cms -verify -CAfile root.pem`` accepts the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509

from cardkit.keystore import Signer


def sign_cms(signer: Signer, content: bytes, *, detached: bool = True,
             signing_time: dt.datetime | None = None) -> bytes:
    """DER CMS SignedData over ``content`` by ``signer``, its certificate included."""
    certificate = asn1_x509.Certificate.load(signer.certificate_der)
    when = signing_time or dt.datetime.now(dt.UTC)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": when})]}),
        cms.CMSAttribute({"type": "message_digest",
                          "values": [hashlib.sha256(content).digest()]}),
    ])
    # The signature covers the DER of the attributes as a SET OF (RFC 5652 section 5.4).
    signature = signer.sign_digest(hashlib.sha256(signed_attrs.dump()).digest())
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": certificate.issuer, "serial_number": certificate.serial_number})}),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signature,
    })
    encap: dict[str, object] = {"content_type": "data"}
    if not detached:
        encap["content"] = content
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": encap,
        "certificates": [certificate],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
