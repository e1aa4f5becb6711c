"""The usage ledger: one record per image request, in SQLite or PostgreSQL, and reports over it.

Importing this package (and ``record``/``ledger``) does not import SQLAlchemy: the database
modules are imported by the writer thread, the report endpoint and the CLI when first used,
so the gateway's start and import time stay as they were.
"""
