"""A conversation held to account: the test claims each message it expects as the conversation
goes, allows the ones that may or may not come, and at the end fails on any other message the
service sent (the way GoAlert's behaviour tests end)::

    page = fake.expect_message(to=ALICE, body="Reply ACK")      # waits, claims, returns it
    fake.allow_messages(to=BOB, body=re.compile(r"reminder"))   # any number, or none
    fake.expect_no_other_messages(settle=1.0)   # UnexpectedMessages lists every other message

``body`` is a substring, or a compiled pattern that is searched. Only accepted (201)
``Messages.json`` creates count. ``reset()`` forgets claims and allowances.
"""

from __future__ import annotations

import re
import time

from oncall.fakes.twilio.state import FakeState, Recorded

Body = str | re.Pattern[str]


class UnexpectedMessages(AssertionError):
    """The service sent messages that the test neither expected nor allowed."""


def _matches(message: Recorded, to: str | None, body: Body) -> bool:
    if to is not None and message.to != to:
        return False
    text = message.body or ""
    return bool(body.search(text)) if isinstance(body, re.Pattern) else body in text


def _line(message: Recorded) -> str:
    return f"  To={message.to} Body={message.body!r} ({message.sid})"


class Expectations(FakeState):
    """Claims and allowances over the messages the fake accepted."""

    def _forget(self) -> None:
        super()._forget()
        self._claimed: set[int] = set()  # id() of claimed records; they live in _requests
        self._allowed: list[tuple[str | None, Body]] = []

    def expect_message(
        self, to: str | None = None, body: Body = "", *, timeout: float = 10.0
    ) -> Recorded:
        """Wait for an accepted message to ``to`` (None: anyone) whose body has ``body`` and
        that no earlier expectation claimed; claim the oldest such message and return it.
        ``AssertionError`` listing the messages to ``to`` when none comes in ``timeout``."""

        def claim() -> Recorded | None:
            with self._lock:
                for message in self.messages(to):
                    if id(message) not in self._claimed and _matches(message, to, body):
                        self._claimed.add(id(message))
                        return message
            return None

        try:
            return self.wait_for(claim, timeout=timeout)
        except TimeoutError:
            seen = "\n".join(_line(m) for m in self.messages(to)) or "  (none)"
            raise AssertionError(
                f"no message to {to or 'anyone'} with {body!r} within {timeout}s; "
                f"messages to {to or 'anyone'}:\n{seen}"
            ) from None

    def allow_messages(self, to: str | None = None, body: Body = "") -> None:
        """Messages to ``to`` (None: anyone) with ``body`` may come, any number of times or
        none: :meth:`expect_no_other_messages` lets them pass."""
        with self._lock:
            self._allowed.append((to, body))

    def unexpected_messages(self) -> list[Recorded]:
        """Accepted messages that no expectation claimed and no allowance covers, oldest
        first."""
        with self._lock:
            return [
                message
                for message in self.messages()
                if id(message) not in self._claimed
                and not any(_matches(message, to, body) for to, body in self._allowed)
            ]

    def expect_no_other_messages(self, *, settle: float = 0.0) -> None:
        """Raise :class:`UnexpectedMessages` listing every unexpected message. ``settle``:
        wait that many seconds first, so that a message sent late shows up too."""
        if settle > 0:
            time.sleep(settle)
        unexpected = self.unexpected_messages()
        if unexpected:
            listing = "\n".join(_line(m) for m in unexpected)
            raise UnexpectedMessages(
                f"{len(unexpected)} unexpected message(s) reached the fake Twilio:\n{listing}"
            )
