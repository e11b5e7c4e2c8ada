"""PySide6 desktop apps on top of cardkit: ``station.till`` (the merchant till) and
``station.desk`` (the issuance desk). They hold no business logic: each keeps its card I/O
in one adapter module over the library, and runs it on a worker thread."""
