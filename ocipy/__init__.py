"""ocipy: an OCI runtime (runtime-spec 1.3) in Python with a runc-compatible CLI.

This module is imported on every CLI call: keep it free of imports.
"""
__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"
