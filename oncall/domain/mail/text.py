"""A mail's body as a person reads it: HTML converted to plain text, and a reply without its
quoted history (the new part is what reaches the engineer)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from oncall.domain.mail.decoding import clean, newlines

_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript", "object", "svg"}
_LINE_TAGS = {"div", "li", "tr", "dt", "dd", "address", "center", "form", "caption"}
_PARAGRAPH_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "table",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "fieldset",
    "figure",
}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.pre = 0
        self.quote = 0

    def _prefix(self) -> str:
        return "> " * self.quote

    def _flush(self, force: bool = False) -> None:
        line = "".join(self.current)
        line = line.rstrip() if self.pre else re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if line or force:
            self.lines.append((self._prefix() + line).rstrip())
        self.current = []

    def _blank(self) -> None:
        self._flush()
        blank = self._prefix().rstrip()
        if self.lines and self.lines[-1] != blank:
            self.lines.append(blank)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self._flush(force=True)
        elif tag == "blockquote":
            self._blank()
            self.quote += 1
        elif tag in _PARAGRAPH_TAGS:
            self._blank()
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE_TAGS:
            self._flush()
            if tag == "li":
                self.current.append("- ")
        elif tag in {"td", "th"} and "".join(self.current).strip():
            self.current.append(" | ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:  # <br/>, <hr/>: the start tag alone
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag == "blockquote":
            self._flush()
            self.quote = max(0, self.quote - 1)
            self._blank()
        elif tag in _PARAGRAPH_TAGS:
            if tag == "pre":
                self._flush()
                self.pre = max(0, self.pre - 1)
            self._blank()
        elif tag in _LINE_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = newlines(data).split("\n")
            for part in parts[:-1]:
                self.current.append(part)
                self._flush(force=True)
            self.current.append(parts[-1])
        else:
            self.current.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        self._flush()
        out: list[str] = []
        for line in self.lines:
            if not line.strip(" >") and out and not out[-1].strip(" >"):
                continue  # one blank line at most
            out.append(line)
        while out and not out[-1].strip(" >"):
            out.pop()
        return "\n".join(out).strip("\n")


def html_to_text(markup: str | None) -> str:
    """Readable plain text from an HTML body.

    ``script``/``style``/``head`` are dropped; ``<br>``, ``<div>``, ``<li>`` (as ``- item``)
    end lines; ``<p>``, headings, lists and tables are separated by blank lines; entities are
    decoded; ``<blockquote>`` content is prefixed ``> `` so quoted history reads as quoted.
    """
    if not markup:
        return ""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
        text = parser.text()
    except Exception:  # html.parser on hostile markup; degrade to stripping tags
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = text.replace("\u00a0", " ")
    return clean("\n".join(line.rstrip() for line in text.split("\n")).strip())


_ATTRIBUTION = re.compile(
    r"^\s*(?:on\b.{0,400}\bwrote|le\b.{0,400}\ba\s+écrit|am\b.{0,400}\bschrieb"
    r"|el\b.{0,400}\bescribió|op\b.{0,400}\bschreef)\s*:\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*(?:-{2,}\s*original message\s*-{2,}|_{10,}|-{2,}\s*reply above this line\s*-{2,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?from:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(?:sent|date):\*?\s+\S", re.IGNORECASE)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def strip_quoted_reply(text: str | None) -> str:
    """The new part of a reply, without the quoted history.

    - lines starting with ``>`` are dropped wherever they are (inline answers between quoted
      lines stay);
    - an attribution line (``On Mon, 2 Nov 2026, Wile E. Coyote <…> wrote:``, also wrapped over
      two lines, and its French/German/Spanish/Dutch forms) is dropped; when what follows it is
      not ``>``-quoted (top-posting clients), everything from it on is dropped;
    - Outlook's ``-----Original Message-----``, an underscore rule, or a ``From:`` line followed
      by ``Sent:``/``Date:`` within three lines start the history: dropped from there on.
    """
    if not text:
        return ""
    lines = newlines(text).split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        if _ORIGINAL_MESSAGE.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_SENT.match(nxt) for nxt in lines[i + 1 : i + 4]
        ):
            break
        width = 0
        if _ATTRIBUTION.match(line):
            width = 1
        elif (
            i + 1 < len(lines)
            and re.match(r"^\s*(?:on|le|am|el|op)\b", line, re.IGNORECASE)
            and _ATTRIBUTION.match(f"{line} {lines[i + 1]}")
        ):
            width = 2
        if width:
            following = next((nxt for nxt in lines[i + width :] if nxt.strip()), None)
            if following is not None and not _is_quoted(following):
                break
            i += width
            continue
        kept.append(line.rstrip())
        i += 1
    out: list[str] = []
    for line in kept:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out).strip("\n")
