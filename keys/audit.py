"""The key ceremony's audit log: :class:`cardkit.audit.AuditLog`, raising
:class:`keys.errors.AuditLogError` when the chain is broken (see :mod:`cardkit.audit`)."""

from __future__ import annotations

from cardkit.audit import GENESIS, AuditHead
from cardkit.audit import AuditLog as _SharedAuditLog

from .errors import AuditLogError

__all__ = ["GENESIS", "AuditHead", "AuditLog"]


class AuditLog(_SharedAuditLog):
    """The hash-chained audit log of key events (file at ``path``, mode 0600)."""

    error = AuditLogError
