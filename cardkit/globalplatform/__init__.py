"""GlobalPlatform on the host: the SCP03 secure channel session (INITIALIZE UPDATE, EXTERNAL
AUTHENTICATE, C-MAC/C-ENC/R-MAC as a pipeline processor).

Builds on :mod:`cardkit.iso7816` and the primitives in :mod:`cardkit.crypto.scp03`; knows
nothing of any one applet.
"""
