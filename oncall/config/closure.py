"""``closure`` in ``config.yaml``: how long a resolved case may be reopened by its customer.

Kept apart from :mod:`oncall.config.sections` (the older sections) so the case lifecycle's
keys are read in one place.
"""

from __future__ import annotations

from datetime import timedelta

from oncall.config.settings import ClosureSettings
from oncall.config.yamlsource import Node

# A window shorter than this leaves a customer no real chance to answer the resolution
# (and the reminder at half time would come within minutes of it).
SHORTEST_REOPEN_WINDOW = timedelta(minutes=1)


def read_closure(node: Node) -> ClosureSettings:
    """``closure: {reopen_within: 7d}``; what is missing keeps its default."""
    defaults = ClosureSettings()
    if not node.present() or not node.is_mapping("a mapping with reopen_within"):
        return defaults
    node.check_keys({"reopen_within"})
    child = node.child("reopen_within")
    window = child.duration(defaults.reopen_within, positive=True) or defaults.reopen_within
    if window < SHORTEST_REOPEN_WINDOW:
        child.error(f'"{child.value}" is too short: give the customer 1m or more')
        window = defaults.reopen_within
    return ClosureSettings(reopen_within=window)
