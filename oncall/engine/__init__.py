"""The engine: the tick that claims due deadline rows and applies each with what it causes
(escalation steps, SLA reminders and breaches, unroutable cases), and the paging it does.

May import ``cases``, ``runtime``, ``db``, ``sources``, ``config`` and ``domain``; never
``delivery`` (the outbox worker), ``services``, ``web`` or ``cli``.
"""
