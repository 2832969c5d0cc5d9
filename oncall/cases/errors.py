"""What a use case raises when it refuses to act on a case."""

from __future__ import annotations


class CaseError(Exception):
    """A use case refused to act; the message is safe to show the person who asked."""
