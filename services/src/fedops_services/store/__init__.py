"""Persistence of each aggregate, as functions over a SQLAlchemy ``Session``.

The service layer owns transactions (``with session.begin()``) and composes these
functions; nothing here knows about HTTP or authorisation. The same contract tests run
against SQLite and Postgres.
"""
