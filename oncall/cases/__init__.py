"""The case record: the writes every part shares inside a transaction it is handed: opening a
case and numbering it, a case that asks its customer for the severity (``asking``), timeline
events, outbox rows, deadline rows, refused attempts, and the notices to the customer; and the
live rota (``live_rota``: the files' teams with the TAKEs from the database), read in the same
session by everything that asks who is on call.

Nothing here commits: the use case (``services``), the engine or the outbox worker that owns the
transaction calls these functions. May import ``runtime``, ``db``, ``sources``, ``config`` and
``domain``.
"""
