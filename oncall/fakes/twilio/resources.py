"""Messages and Calls as Twilio shows them: the JSON of a new outbound message, an inbound
message and a call, and the pages of ``GET Messages.json`` / ``GET Calls.json``
(:class:`ListQuery`: filters, newest first, real paging with ``next_page_uri``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from oncall.fakes.twilio.protocol import API_VERSION, formatted, rfc2822
from oncall.fakes.twilio.state import Recorded, Resource

_CALL_SUBRESOURCES = ("notifications", "recordings", "payments", "events", "siprec")


def message_json(
    account_sid: str,
    sid: str,
    *,
    to: str,
    from_: str,
    service: str,
    body: str,
    num_media: int,
    segments: str,
    now: datetime,
) -> dict[str, Any]:
    """A new outbound message, as the create request's answer shows it."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": rfc2822(now),
        "date_sent": None,
        "date_updated": rfc2822(now),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_ or None,
        "messaging_service_sid": service or None,
        "num_media": str(num_media),
        "num_segments": segments,
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued" if from_ else "accepted",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": to,
        "uri": uri,
    }


def inbound_message_json(
    account_sid: str,
    sid: str,
    *,
    to: str,
    from_: str,
    service: str | None,
    body: str,
    num_media: int,
    segments: str,
    now: datetime,
) -> dict[str, Any]:
    """A message a phone sent to the service."""
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": rfc2822(now),
        "date_sent": rfc2822(now),
        "date_updated": rfc2822(now),
        "direction": "inbound",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": service,
        "num_media": str(num_media),
        "num_segments": segments,
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "received",
        "to": to,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
    }


def call_json(account_sid: str, sid: str, *, to: str, from_: str, now: datetime) -> dict[str, Any]:
    """A new outbound call, queued."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}.json"
    base = uri[: -len(".json")]
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(now),
        "date_updated": rfc2822(now),
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": formatted(from_),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {
            name: f"{base}/{name.title().replace('_', '')}.json" for name in _CALL_SUBRESOURCES
        },
        "to": to,
        "to_formatted": formatted(to),
        "trunk_sid": None,
        "uri": uri,
    }


def copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of resource JSON, so nobody holds the fake's own dictionaries."""
    return json.loads(json.dumps(data))


# -- list pages ------------------------------------------------------------------------------
def _parse_when(value: str) -> date:
    value = value.strip()
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when_matches(sent: datetime, bound: date, op: str) -> bool:
    """``DateSent`` is a day filter (the SDK sends a date as midnight ``…T00:00:00Z``);
    ``DateSent>``/``DateSent<`` are inclusive and use the time when one is given."""
    if op == "=" or not isinstance(bound, datetime):
        day = bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound
        left: date = sent.astimezone(UTC).date()
        bound = day
    else:
        left = sent.replace(microsecond=0)
    if op == "=":
        return left == bound
    if op == ">":
        return left >= bound
    return left <= bound


@dataclass
class ListQuery:
    """A ``GET Messages.json`` (``To``, ``From``, ``DateSent``, ``DateSent<``, ``DateSent>``:
    what ``client.messages.list(to=, from_=, date_sent=, date_sent_before=,
    date_sent_after=)`` sends) or ``GET Calls.json`` (``To``, ``From``, ``Status``), with
    ``PageSize`` and ``Page``."""

    resource: str  # messages | calls
    account: str
    page: int
    page_size: int
    bounds: list[tuple[str, date]]
    wanted: dict[str, str]
    filters: list[tuple[str, str]]
    page_token: str | None

    @classmethod
    def parse(cls, resource: str, account: str, rec: Recorded) -> ListQuery:
        """The query of a list request; ``ValueError`` for a bad number or date."""
        params = rec.params
        page_size = max(1, min(int(rec.get("PageSize") or 50), 1000))
        page = max(0, int(rec.get("Page") or 0))
        bounds = [
            (op, _parse_when(value))
            for name, op in (("DateSent", "="), ("DateSent>", ">"), ("DateSent<", "<"))
            for value in params.get(name, [])
        ]
        filter_names = (
            ("To", "From", "DateSent", "DateSent>", "DateSent<")
            if resource == "messages"
            else ("To", "From", "Status")
        )
        wanted = {name: rec.get(name) or "" for name in ("To", "From", "Status") if rec.get(name)}
        filters = [(name, value) for name in filter_names for value in params.get(name, [])]
        return cls(
            resource, account, page, page_size, bounds, wanted, filters, rec.get("PageToken")
        )

    def matches(self, res: Resource) -> bool:
        return (
            res.kind == self.resource
            and all(res.data.get(name.lower()) == value for name, value in self.wanted.items())
            and all(_when_matches(res.sent or res.created, b, op) for op, b in self.bounds)
        )

    def _page_uri(self, number: int, token: str | None = None) -> str:
        base = f"/{API_VERSION}/Accounts/{self.account}/{self.resource.title()}.json"
        pairs = [*self.filters, ("PageSize", str(self.page_size)), ("Page", str(number))]
        if token:
            pairs.append(("PageToken", token))
        return f"{base}?{urlencode(pairs)}"

    def page_of(self, matching: list[Resource]) -> dict[str, Any]:
        """The page this query asks for, out of every ``matching`` resource, newest first."""
        page, size = self.page, self.page_size
        items = sorted(matching, key=lambda r: (r.created, r.seq), reverse=True)
        chunk = items[page * size : (page + 1) * size]
        records = [copy(r.data) for r in chunk]
        has_next = len(items) > (page + 1) * size
        return {
            self.resource: records,
            "end": page * size + max(len(records) - 1, 0),
            "first_page_uri": self._page_uri(0),
            "next_page_uri": self._page_uri(page + 1, "PA" + chunk[-1].sid) if has_next else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": (
                self._page_uri(page - 1, "PB" + chunk[0].sid) if page > 0 and chunk else None
            ),
            "start": page * size,
            "uri": self._page_uri(page, self.page_token),
        }
