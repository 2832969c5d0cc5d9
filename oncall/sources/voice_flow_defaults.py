"""The words a voice flow file may leave out: prompts and messages added to the flow after
flow files were written. A file without one says these (``voice_flows/README.md`` lists every
key); :mod:`oncall.sources.voice_flows` validates the file and fills the gaps from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Prompts added after flow files were written: a file without one says these words.
DEFAULT_PROMPTS: Mapping[str, str] = MappingProxyType(
    {
        "pin_locked": (
            "Too many wrong PINs have been entered from this number. For the next hour, "
            "please email the critical support line instead, at {email}. Goodbye."
        ),
        # Said instead of "paged" when nobody could be paged, so no caller hears a promise
        # that did not happen.
        "managers_alerted": (
            "Your case number is {case_digits}. Your case is open and our support managers "
            "have been alerted. They will contact you as soon as possible. Goodbye."
        ),
        "nobody_alerted": (
            "Your case number is {case_digits}. Your case is open, but we could not reach an "
            "engineer or a manager just now. It has been passed to our support team by email. "
            "Please also contact us through the regular support channels: {regular_channels}. "
            "Goodbye."
        ),
        # The returning caller's briefing and menu (flow files written before it say these).
        "returning_working": "{engineer} is working on it.",
        "returning_paged": "An engineer has been paged and will take charge of it.",
        "returning_managers": "Our support managers have been alerted and will take charge of it.",
        "returning_status": "The latest update from {engineer}, at {status_time}: {status}.",
        "returning_eta": "The estimated time to resolution is {eta}.",
        "returning_no_status": "There is no status update yet.",
        "returning_next_update": "The next update is due by {next_update}.",
        "returning_menu": (
            "To record a note for the engineer, press 1. To be connected to the engineer "
            "working on your case, press 2. To escalate your case to the duty manager, press 9. "
            "Otherwise, you may hang up."
        ),
        "returning_goodbye": "Thank you for calling. Your case number is {case_digits}. Goodbye.",
        "note_record": (
            "After the tone, please record your note for the engineer, then press the pound key."
        ),
        "note_relayed": "Thank you. Your note has been passed to {engineer}. Goodbye.",
        "note_missing": ("We did not receive a note. Your case number is {case_digits}. Goodbye."),
        "escalated": (
            "Your case has been escalated. {manager}, the duty manager, has been alerted and "
            "will contact you. Goodbye."
        ),
        "escalated_already": (
            "Your case was already escalated to the duty manager, {manager}, at {escalated_at}. "
            "We have noted that you called again. Goodbye."
        ),
    }
)

# Messages added after flow files were written: a file without one sends these words.
# They are what a caller reads when nobody could be paged for their case (the managers were
# alerted instead, or not even a manager could be), so the service never falls back on "the
# on-call engineer has been paged" when that is not true.
DEFAULT_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "case_opened_managers_sms": (
            "{company}: your critical case {case_number} is open and our support managers have "
            "been alerted. Quote case {case_number} when you contact us."
        ),
        "case_opened_managers_email": (
            "Your phone call to the {company} critical support line opened case "
            "{case_number} (severity {severity}).\n\n"
            "Your case is open and our support managers have been alerted; they will take "
            "charge of it.\n\n"
            "To add information, reply to this email and keep [Case {case_number}] in the "
            "subject."
        ),
        "case_opened_unreached_sms": (
            "{company}: your critical case {case_number} is open, but we could not reach an "
            "engineer or a manager just now. It has been passed to our support team; please "
            "also use the regular support channels. Quote case {case_number}."
        ),
        "case_opened_unreached_email": (
            "Your phone call to the {company} critical support line opened case "
            "{case_number} (severity {severity}).\n\n"
            "We could not reach an engineer or a manager just now. Your case has been passed "
            "to our support team by email; please also contact us through the regular support "
            "channels: {regular_channels}.\n\n"
            "To add information, reply to this email and keep [Case {case_number}] in the "
            "subject."
        ),
    }
)
