"""What the case-lifecycle branch adds to a case and a fee, read in one place for the reports:
the time a case waited for the customer and the state of a fee.

``cases.paused_seconds``, ``cases.waiting_since`` and ``misuse_flags.state`` arrive with the
lifecycle branch (issue 11 items 2-4: WAIT / waiting_customer, fees with evidence and DISPUTE).
Until it is merged they are absent and these read their defaults (no wait; a fee is flagged or
waived as ``waived_at`` says), so the reports work on either side of the merge.
"""

from __future__ import annotations

from datetime import datetime

from oncall.db.models import Case, MisuseFlag


def paused_time(case: Case, now: datetime) -> float:
    """Seconds ``case`` waited for the customer, a wait still in progress counted up to ``now``.

    ``cases.paused_seconds`` and ``cases.waiting_since`` arrive with the case-lifecycle branch
    (WAIT / waiting_customer, issue 11 item 2); until it is merged a case never waited, hence
    the defaults. This is the one place that reads them.
    """
    paused = float(getattr(case, "paused_seconds", 0) or 0)
    waiting_since = getattr(case, "waiting_since", None)
    if waiting_since is not None and waiting_since < now:
        paused += (now - waiting_since).total_seconds()
    return paused


def fee_state(flag: MisuseFlag) -> str:
    """``flagged``, ``disputed``, ``confirmed`` or ``waived``.

    ``misuse_flags.state`` arrives with the fees-with-evidence branch (issue 11 item 4); until
    then a fee is waived or flagged, as ``waived_at`` says. The one place that reads it.
    """
    return getattr(flag, "state", None) or ("waived" if flag.waived_at else "flagged")
