"""The common slips of running ``oncall``, said in a sentence instead of a traceback.

An unreachable service, a database that is missing, unreachable or not migrated, a second
engine on one SQLite file, a busy port: each is one or two sentences on stderr and exit code 1.
Anything else is one line too, naming the error; ``oncall --debug ...`` shows the traceback.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import click
import requests
from sqlalchemy.exc import SQLAlchemyError

from oncall.cli.ports import PortInUse
from oncall.db.preflight import UPGRADE, DatabaseNotReady, connection_problem, missing_tables
from oncall.db.single_engine import EngineAlreadyRunning


class Slip(click.ClickException):
    """A mistake explained in words; click prints ``Error: <sentence>`` and exits 1."""


def _service(error: requests.RequestException) -> str:
    url = error.request.url if error.request is not None and error.request.url else ""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the service"


def _network_reason(error: BaseException) -> str:
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return match.group(1).strip().lower() if match else "no connection"


def explain(error: BaseException) -> str:
    """One or two sentences for ``error``."""
    if isinstance(error, (DatabaseNotReady, EngineAlreadyRunning, PortInUse)):
        return str(error)
    if isinstance(error, requests.Timeout):
        return f"{_service(error)} did not answer in time: is the service overloaded or stuck?"
    if isinstance(error, requests.ConnectionError):
        return (
            f"cannot reach the service at {_service(error)} ({_network_reason(error)}): is it "
            "running (`oncall serve`), and are --url and public_url right?"
        )
    if isinstance(error, SQLAlchemyError):
        if missing_tables(error):
            return f"the database is missing tables ({connection_problem(error)}): {UPGRADE}"
        return f"database error: {connection_problem(error)}"
    text = str(error).splitlines()[0] if str(error) else ""
    return (
        f"unexpected {type(error).__name__}{': ' + text if text else ''} "
        "(run `oncall --debug ...` for the traceback)"
    )


GLOBAL_FLAGS = ("--debug",)
GLOBAL_OPTIONS = ("--config",)  # each takes a value


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``--config PATH`` and ``--debug`` written after the command to the front, so that
    ``oncall rota who --config /srv/oncall/config.yaml`` means what its writer meant. Nothing
    after ``--`` moves."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg in GLOBAL_FLAGS or arg.startswith(tuple(f"{o}=" for o in GLOBAL_OPTIONS)):
            front.append(arg)
        elif arg in GLOBAL_OPTIONS:
            if index + 1 == len(args):
                raise click.BadOptionUsage(arg, f"Option '{arg}' requires an argument.")
            front += args[index : index + 2]
            index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


class OncallGroup(click.Group):
    """The top group: ``--config`` and ``--debug`` anywhere on the line; a subcommand's
    exception becomes a sentence unless ``--debug``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:
            if getattr(ctx.obj, "debug", False):
                raise
            raise Slip(explain(error)) from None
