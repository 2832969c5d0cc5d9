"""What a view may ask of the app handling the current request: its runtime.

Kept apart from the app factory so that views never import :mod:`oncall.web.app` (which imports
every view to register its blueprint). The app factory attaches the runtime with
:func:`attach`; everything in ``oncall.web`` reads it with :func:`runtime`.
"""

from __future__ import annotations

from flask import Flask, current_app

from oncall.runtime import Runtime

# The key in ``app.extensions``; tests that build a bare Flask app for one blueprint set it too.
_EXTENSION = "oncall"


def attach(app: Flask, rt: Runtime) -> None:
    """Make ``rt`` the runtime of ``app``."""
    app.extensions[_EXTENSION] = rt


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of ``app``, or of the app handling the current request."""
    return (current_app if app is None else app).extensions[_EXTENSION]
