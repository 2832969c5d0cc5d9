"""``oncall user add NAME``: make the ``users:`` line for config.yaml, with a password hash.

The password never goes into the file: only werkzeug's salted hash does. The command needs no
config (it doesn't read or write it), so it works before the service is set up. A running
service reloads config.yaml by itself, so the new user signs in without a restart.
"""

from __future__ import annotations

import re
import sys

import click
from werkzeug.security import generate_password_hash

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10


@click.group("user")
def user() -> None:
    """Dashboard users."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["manager", "engineer"]),
    default="manager",
    show_default=True,
    help="Managers may waive misuse fees and act on any case; engineers act on their team's.",
)
@click.option(
    "--member",
    default=None,
    metavar="KEY",
    help="The rota member this user is (acts on their team's cases from the case page).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
def add(name: str, role: str, member: str | None, password_stdin: bool) -> None:
    """Print the line to paste under ``users:`` in config.yaml for NAME."""
    if not NAME.match(name):
        raise click.BadParameter(
            "use letters, digits, '.', '_' or '-' (at most 64)", param_hint="NAME"
        )
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    if len(password) < MIN_PASSWORD:
        raise click.UsageError(f"the password must be at least {MIN_PASSWORD} characters")
    if member is not None and not NAME.match(member):
        raise click.BadParameter("a rota member key, like alice", param_hint="--member")
    password_hash = generate_password_hash(password)
    as_member = f", member: {member}" if member else ""
    click.echo(f'{name}: {{role: {role}, password_hash: "{password_hash}"{as_member}}}')
    # On stderr, so that scripts can still take the line alone from stdout.
    click.echo(
        "Paste the line under `users:` in config.yaml. A running service picks it up within "
        "engine.reload_poll (or at once: kill -HUP the `oncall serve` process); no restart.",
        err=True,
    )
