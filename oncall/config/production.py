"""Production refuses the development secrets.

The shipped ``config.yaml`` falls back to published values (``dev-only-secret-change-me``,
``dev-auth-token``, ``dev-inbound-password``) so ``make run`` works on a fresh checkout with no
secret set. On the open internet those values would let anyone sign Twilio webhooks, post
emails and compute every calendar feed token, so wherever the service is in production (its
``public_url`` is https, or ``ONCALL_ENV=production``) ``oncall check``, ``serve``, ``clock``
and the gunicorn app refuse to start while any of them is empty or one of those values, and
name the environment variable to set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from oncall.config.loading import DEV_SECRET_KEY
from oncall.config.settings import Settings
from oncall.config.yamlsource import SourceError

# Every value of a secret that ships in the repository (config.yaml's ${VAR:-default}s and the
# loader's fallback); tests/unit/test_config.py checks that config.yaml adds none.
PUBLISHED_SECRETS = frozenset({DEV_SECRET_KEY, "dev-auth-token", "dev-inbound-password"})
# Shorter secret keys can be found offline from one feed token; `oncall check` warns.
SECRET_KEY_MIN_LENGTH = 16
HOW_TO_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Secret:
    key: str  # where config.yaml has it
    variable: str  # the environment variable that overrides it
    value: str


def secrets_of(settings: Settings) -> tuple[Secret, ...]:
    return (
        Secret("secret_key", "ONCALL_SECRET_KEY", settings.secret_key),
        Secret("twilio.auth_token", "TWILIO_AUTH_TOKEN", settings.twilio.auth_token),
        Secret(
            "email.inbound.password", "ONCALL_INBOUND_PASSWORD", settings.email.inbound.password
        ),
    )


def production_reason(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """Why the service counts as in production, or None when it does not."""
    env = os.environ if environ is None else environ
    if env.get("ONCALL_ENV", "").strip().lower() == "production":
        return "ONCALL_ENV=production"
    if settings.public_url.lower().startswith("https://"):
        return f"public_url is {settings.public_url}"
    return None


def secret_problems(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[SourceError]:
    """What stops this configuration from starting (errors) or deserves a look (warnings).

    Empty when not in production: on a developer's machine the published values are fine.
    """
    reason = production_reason(settings, environ)
    if reason is None:
        return []
    problems = []
    for secret in secrets_of(settings):
        if not secret.value or secret.value in PUBLISHED_SECRETS:
            state = (
                "is empty" if not secret.value else "is a development value published in the repo"
            )
            problems.append(
                SourceError(
                    settings.source,
                    0,
                    secret.key,
                    f"{state}, and this is production ({reason}): set {secret.variable}",
                )
            )
    key = settings.secret_key
    if key and key not in PUBLISHED_SECRETS and len(key) < SECRET_KEY_MIN_LENGTH:
        problems.append(
            SourceError(
                settings.source,
                0,
                "secret_key",
                f"is shorter than {SECRET_KEY_MIN_LENGTH} characters: set ONCALL_SECRET_KEY "
                f"to a long random value ({HOW_TO_MAKE_ONE})",
                severity="warning",
            )
        )
    return problems


class DevelopmentSecretsInProduction(RuntimeError):
    """Raised instead of starting; the message names every variable to set."""

    def __init__(self, problems: list[SourceError], variables: list[str]):
        self.problems = problems
        self.variables = variables
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"refusing to start in production with empty or development secrets: set "
            f"{', '.join(variables)}\n{lines}"
        )


def missing_variables(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """The environment variables production needs set before it may start (empty: none)."""
    if production_reason(settings, environ) is None:
        return []
    return [s.variable for s in secrets_of(settings) if not s.value or s.value in PUBLISHED_SECRETS]


def refuse_development_secrets(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> None:
    """Raise :class:`DevelopmentSecretsInProduction` when production would run on them."""
    errors = [p for p in secret_problems(settings, environ) if p.severity == "error"]
    if errors:
        raise DevelopmentSecretsInProduction(errors, missing_variables(settings, environ))
