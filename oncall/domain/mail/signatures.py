"""The parts of a mail's new text that are not the message: the sign-off and signature below
it, the phone's "Sent from my …" line, the confidentiality footer; and the greeting above it."""

from __future__ import annotations

import re

from oncall.domain.mail.decoding import newlines

_DELIMITER = re.compile(r"^(?:-- ?|--|__+|\u2014+)$")  # RFC 3676's "-- " and its cousins
_VALEDICTION = re.compile(
    r"^(?:best(?: regards| wishes)?|kind regards|regards|warm regards|many thanks|"
    r"thanks(?: a lot| again| in advance)?|thank you(?: very much| in advance)?|cheers|"
    r"sincerely|yours(?: sincerely| truly)?|br|thx|rgds|mit freundlichen gr(?:ü|ue)(?:ß|ss)en|"
    r"mfg|viele gr(?:ü|ue)(?:ß|ss)e|beste gr(?:ü|ue)(?:ß|ss)e|gr(?:ü|ue)(?:ß|ss)e|cordialement|"
    r"bien (?:à|a) vous|merci|saludos|atentamente|un saludo|cordiali saluti|saluti|"
    r"met vriendelijke groet|groeten|よろしくお願いします|よろしくお願いいたします)"
    r"[\s,.!]*$",
    re.IGNORECASE,
)
_MOBILE = re.compile(
    r"^(?:sent from my |get outlook for |envoy[ée] de mon |von meinem .{1,40} gesendet|"
    r"enviado desde mi )",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"^(?:confidential(?:ity)?(?: notice)?\b|disclaimer\b|"
    r"this (?:e-?mail|message|communication)(?: and any attachments?)? "
    r"(?:is|are|may|contains?|and)\b|the information (?:contained )?in this|"
    r"if you are not the intended recipient|diese e-?mail|ce (?:message|courriel)|"
    r"este (?:mensaje|correo))",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening|night)|greetings|hallo|"
    r"guten (?:tag|morgen|abend)|liebe[rs]?|bonjour|bonsoir|salut|hola|buen(?:os|as) "
    r"(?:d[ií]as|tardes|noches)|buenas|ciao|buongiorno|goedemorgen|hoi|"
    r"to whom it may concern|team|all|folks|support(?: team)?|"
    r"(?:いつも)?お世話になっております)"
    r"(?:\s+[\w.'\-]+){0,3}\s*[,!:.。]?$",
    re.IGNORECASE,
)


def strip_signature(text: str) -> str:
    """``text`` without what follows its sign-off: the first line (after one line of message at
    least) that is a signature delimiter, a sign-off alone ("Thanks,", "Best regards"), a
    "Sent from my phone" line or the start of a confidentiality footer."""
    lines = newlines(text).split("\n")
    seen_message = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if seen_message and (
            _DELIMITER.match(line.rstrip())
            or _VALEDICTION.match(stripped)
            or _MOBILE.match(stripped)
            or _FOOTER.match(stripped)
        ):
            return "\n".join(lines[:index]).rstrip()
        seen_message = seen_message or bool(stripped)
    return "\n".join(lines)


def is_greeting(line: str) -> bool:
    """A line that only greets: "Hi team,", "Dear Support,", "Guten Tag,"."""
    return bool(_GREETING.match(line.strip()))


def opening_line(text: str) -> tuple[int, int] | None:
    """Where the message's first line is in ``text`` (``(start, end)``): the first line with
    something on it that is not a greeting. None when there is none."""
    position = 0
    for line in newlines(text).split("\n"):
        if line.strip() and not is_greeting(line):
            return position, position + len(line)
        position += len(line) + 1
    return None
