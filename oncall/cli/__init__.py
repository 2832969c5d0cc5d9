"""The ``oncall`` command line, one module per command group; :mod:`oncall.cli.main` is the
entry point. Nothing imports this package.
"""
