"""The pure core: rota maths, escalation, SLA arithmetic, eligibility and severity rules, the
SMS grammar and texts, inbound mail parsing and sender authentication, the PIN guard's limits,
and the enums every part agrees on (case states, deadline kinds, outbox purposes).

Plain functions and dataclasses that take ``now`` as an argument. Imports nothing of ours but
itself: no config, no database, no Flask, no Twilio.
"""
