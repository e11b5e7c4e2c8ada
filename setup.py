"""Only for the compiled part (cffi): everything else is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["cardkit/crypto/_bulk_build.py:ffibuilder"])
