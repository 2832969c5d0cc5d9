"""The ``oncall`` command line, one module per command group; :mod:`oncall.cli.main` is the
entry point, :mod:`oncall.cli.context` the config every command shares, and
:mod:`oncall.cli.errors` the sentences for the common slips. Nothing imports this package.
"""
