"""The engine: the tick that claims due deadline rows and applies each with what it causes
(escalation steps, SLA reminders and breaches, unroutable cases, unanswered severity
questions), and the paging it does.

``tick`` (claim and apply, heartbeat; the lock order), ``handlers`` (what each deadline kind
does), ``escalation`` (paging the first step as a case opens, running the policy frozen on the
case, stopping it, pulling a step forward), ``paging`` (pages, reminders, notices), ``status``
(the status target), ``unroutable`` (the last resort), ``severity_question`` (an email's
severity question left unanswered), ``wording`` (times and names in messages), ``retention``
(old records deleted in batches, recordings at Twilio too), ``shift_notices`` (the team timers:
shift starts and reminders), ``crash_points`` (where tests make the engine die).

May import ``cases``, ``runtime``, ``db``, ``sources``, ``config`` and ``domain``; never
``delivery`` (the outbox worker), ``services``, ``web`` or ``cli``.
"""
