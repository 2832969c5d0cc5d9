"""The dashboard for managers and engineers: Now, Cases, Case, Rotas, Misuse, Reports (sign-in is
:mod:`oncall.web.auth`). :mod:`~oncall.web.dashboard.blueprint` maps the URLs to the pages in
``cases``, ``rotas`` and ``reports``, and the case page's actions in ``case_actions``.
"""
