"""Use cases, each owning its transaction: the phone line (with its PIN guard) and the email
intake (with its sender check), engineers' actions (SMS commands), misuse fees, dashboard
sign-in, retiring a team whose rota file is gone, and whether the line can page right now
(``paging_readiness``, for ``/healthz`` and the dashboard). A webhook or a CLI command calls
one function here.

May import everything below the web: ``delivery``, ``engine``, ``cases``, ``runtime``,
``sources``, ``db``, ``config``, ``domain``.
"""
