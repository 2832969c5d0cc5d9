"""Outbound delivery: the outbox worker that claims pending messages and sends them through a
transport, with retries and backoff, fallback (SMS to voice, next target), reconciliation of
sends whose outcome is unknown, bundling of pages, delivery status from callbacks; and the
transports themselves (``transports/``: console, Twilio, SMTP, and reading a call recording
back from Twilio for the dashboard's player); and whether they can send at all
(``readiness``).

May import ``engine`` (a woken worker applies due deadlines first), ``cases``, ``runtime``,
``db``, ``config`` and ``domain``; never ``services``, ``web`` or ``cli``.
"""
