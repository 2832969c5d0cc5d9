"""Crash points: named places where a test makes the engine "die" mid-work, to prove that what
was half done is rolled back and done once later.

The engine calls :func:`reached` at each point; nothing happens unless a test armed the point
with :func:`armed`, whose action runs there and may raise (the crash). Production never arms
one: a crash point costs a dictionary lookup.

``AFTER_DEADLINE_APPLIED``
    In :func:`oncall.engine.tick.apply_due`, after a deadline was applied (its pages and events
    written) and before its transaction commits. The action gets ``deadline`` and ``case``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

AFTER_DEADLINE_APPLIED = "engine.after_deadline_applied"
POINTS = frozenset({AFTER_DEADLINE_APPLIED})

_armed: dict[str, Callable[..., None]] = {}


@contextmanager
def armed(point: str, action: Callable[..., None]) -> Iterator[None]:
    """Run ``action(**context)`` whenever ``point`` is reached, inside this block only."""
    if point not in POINTS:
        raise ValueError(f"no crash point {point!r}")
    _armed[point] = action
    try:
        yield
    finally:
        _armed.pop(point, None)


def reached(point: str, **context: Any) -> None:
    action = _armed.get(point)
    if action is not None:
        action(**context)
