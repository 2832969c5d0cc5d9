"""Test doubles shared by the tests and the benchmarks: a fake Twilio on loopback
(``twilio/``), the launcher that runs the real service as processes against it
(``service``), and throw-away PostgreSQL databases (``scratch_db``).

Never imported by the running service: the top layer beside ``cli`` (import-linter checks that
no part imports it, and that it and ``cli`` never import each other). May import any part;
outside ``oncall`` it uses runtime dependencies only (requests, twilio, yaml, SQLAlchemy),
never pytest, so ``benchmarks/`` can use it too.
"""
