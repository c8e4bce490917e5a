"""The ocipy command line.

- app.py: the typer app, the one declaration of the CLI (rich help, version).
- _table.py: a pure-literal table generated from it by gen.py.
- parse.py: the lean parser every CLI call uses; runs on the table and is
  proved equal to typer's own parsing by tests/unit/test_cli_parse.py.

This package is on the hot path: keep this module free of imports.
"""
