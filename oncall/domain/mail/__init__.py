"""Inbound email, pure: SendGrid Inbound Parse posts and MIME messages in, one shape out.

Nothing here touches Flask, the database or the network. The web layer hands over the form (and
files) SendGrid posted to :func:`~oncall.domain.mail.sendgrid.parse_sendgrid`; it gets back an
:class:`~oncall.domain.mail.inbound.InboundEmail` or an ``EmailParseError`` (a ``ValueError``,
answered with ``400``), and the intake asks the modules here the questions it needs answered:

- :mod:`~oncall.domain.mail.loops`: may we auto-reply at all (mail-loop guards)?
- :mod:`~oncall.domain.mail.threads`: is this a reply to an existing case (its Message-IDs,
  the ``[Case N]`` of its subject)? And the Message-IDs of the mail we send.
- :mod:`~oncall.domain.mail.text`: the new part of a reply, to relay to the engineer; HTML as
  text.
- :mod:`~oncall.domain.mail.addresses`: the sender, normalised for matching contacts.
- :mod:`~oncall.domain.mail.authentication`: is it really from that sender (SPF or DKIM passing
  aligned with the From domain, from SendGrid's verdicts or the receiving MTA's
  Authentication-Results)?

The severity a mail claims is :mod:`oncall.domain.severity`'s question. Decoding
(:mod:`~oncall.domain.mail.decoding`) never raises on odd input: unknown charsets fall back to
UTF-8, then windows-1252, with replacement characters; results never hold NUL characters or
lone surrogates (so they store in PostgreSQL text columns as they are). Imports nothing of ours
outside :mod:`oncall.domain`; of others, ``authres`` and ``publicsuffixlist`` (pure parsers).
"""
