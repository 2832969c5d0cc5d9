"""Who a member key on a case is, by one rule for every part (the engine's pages, the
sender's timeline, engineers' replies, the phone line connecting a caller).

The rule (rotations/README.md, "the snapshot rule"): the escalation policy and the people in
it are frozen on the case when it opens, so a member is taken from the case's snapshot, with
the contact details they had then. Someone the snapshot does not know comes from the live
rota: a member added to the team after the case opened (a live override may put them on
call), else a member of another loaded team (a manager paged as the last resort for a case
that had no rota).
"""

from __future__ import annotations

from oncall.db.models import Case
from oncall.domain.rota.model import Member
from oncall.runtime import Runtime


def member_of(runtime: Runtime, case: Case, key: str | None) -> Member | None:
    """The member ``key`` of ``case``'s team, frozen details first (see the module doc)."""
    if not key:
        return None
    # Straight from the snapshot's JSON: building the whole team just for a name is costly,
    # and this runs for every message the sender records.
    data = ((case.escalation or {}).get("members") or {}).get(key)
    if isinstance(data, dict) and data.get("name"):
        return Member(key, data["name"], data.get("phone"), data.get("email"))
    live = runtime.rotas.team(case.team)
    if live is not None and key in live.members:
        return live.members[key]
    for other in runtime.rotas.teams().values():
        if key in other.members:
            return other.members[key]
    return None
