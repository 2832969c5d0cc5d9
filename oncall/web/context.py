"""What a view may ask of the app handling the current request: its runtime.

Kept apart from the app factory so that views never import :mod:`oncall.web.app` (which imports
every view to register its blueprint).
"""

from __future__ import annotations

from flask import current_app

from oncall.runtime import Runtime


def runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    return current_app.extensions["oncall"]
