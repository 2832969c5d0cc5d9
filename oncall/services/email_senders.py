"""Whether an inbound mail may speak for a contact: the sender check every email to the critical
address passes before it opens a case, or a reply reaches an engineer.

A mail is a contact's only when SPF or DKIM passes aligned with its ``From`` domain
(:mod:`oncall.domain.mail.authentication`, the DMARC rule). One that claims a contact without
that proof opens no case, pages nobody and can never lead to a fee: it is recorded as an
``unverified`` attempt (under no customer: it proves nothing about one), forwarded to the
regular support queue marked as unverified, and listed on the dashboard's Misuse page. The same
holds for a reply to a case: nothing of it reaches an engineer, and the case's timeline notes
that such a mail came.

A manager may accept a customer whose mail system cannot pass with
``trust_unauthenticated_email: true`` in ``customers.yaml``; its unauthenticated mail is then
taken, the case is marked "sender unverified", and no misuse fee applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.db.models import Case
from oncall.domain.mail.authentication import SenderVerdict, authenticate_sender
from oncall.domain.mail.inbound import InboundEmail
from oncall.runtime import Runtime
from oncall.services.email_refusals import refuse_email
from oncall.sources.customers import Customer


@dataclass(frozen=True)
class SenderCheck:
    """A mail's SPF/DKIM verdict, and the customers that accept it without one."""

    verdict: SenderVerdict

    @property
    def verified(self) -> bool:
        return self.verdict.verified

    def accepted_for(self, customer: Customer | None) -> bool:
        """Whether the mail may act as ``customer``'s: authenticated, or a customer that
        trusts unauthenticated email."""
        if self.verdict.verified:
            return True
        return customer is not None and customer.trust_unauthenticated_email


def check_sender(runtime: Runtime, mail: InboundEmail) -> SenderCheck:
    return SenderCheck(authenticate_sender(mail, runtime.settings.email.authserv_ids))


def customer_of_case(runtime: Runtime, case: Case) -> Customer | None:
    return runtime.directory().customers.get(case.customer_key)


def refuse_unverified(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    sender: SenderCheck,
    claimed: Customer | None,
    *,
    robot: str | None,
    ours: bool,
    case: Case | None = None,
) -> tuple[bool, bool]:
    """Refuse a mail that claims a contact (or answers ``case``) without proof; see the
    module doc. Returns ``(auto_replied, forwarded)``."""
    verdict = sender.verdict
    about = f"a reply to case {case.number}" if case is not None else "a new message"
    why = (
        f"its sender could not be verified ({verdict.describe()}; neither SPF nor DKIM "
        f"passed for {verdict.from_domain or 'the sender'})"
    )
    if case is not None:
        add_event(
            session,
            case,
            now,
            "unverified_reply",
            f"An email claiming to be from {mail.from_address} answered this case but failed "
            f"sender authentication ({verdict.describe()}); it was not relayed and went to "
            f"the support queue",
            message_id=mail.message_id,
        )
    return refuse_email(
        session,
        runtime,
        mail,
        intake_key,
        now,
        "unverified",
        None,  # no customer: an unauthenticated mail proves nothing about one
        robot,
        ours,
        why,
        sender=verdict,
        detail={
            "claimed_customer": claimed.key if claimed is not None else None,
            "claimed_customer_name": claimed.name if claimed is not None else None,
            "case": case.number if case is not None else None,
            "about": about,
            "spf": mail.spf,
            "dkim": mail.dkim,
        },
    )
