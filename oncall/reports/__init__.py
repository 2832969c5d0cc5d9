"""Reports read from the database: the SLA and misuse reports, and calendars (iCal) of the
rotas.

May import ``cases``, ``runtime``, ``db``, ``sources``, ``config`` and ``domain``.
"""
