"""``config.yaml`` while the service runs: reloaded on SIGHUP and by the poller, like the rotas.

A good edit takes effect at once for everything read per request or per tick (users, API
tokens, SLA targets, business hours, penalties, email addresses and phrases, the company name,
the time zone). A broken edit never takes effect: the last good settings stay live and
``errors()`` names the file and line, so ``/healthz`` answers 503 until it is fixed.

Some keys are wired into long-lived parts when the process starts (the database engine, the
transports, the session signing key and cookie, the file locations, the tick). An edit of one
of those is logged as a warning and waits for a restart: until then the running value stays in
the live settings, so what the service says it uses is what it uses.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from oncall.config.loading import load_settings
from oncall.config.reloading import ReloadingFile
from oncall.config.settings import Settings

log = logging.getLogger("oncall.reload")


def restart_only_values(settings: Settings) -> dict[str, Any]:
    """The keys that take effect at the next restart only, by their name in config.yaml."""
    return {
        "database_url": settings.database_url,
        "secret_key": settings.secret_key,
        "public_url": settings.public_url,
        "phone_region": settings.phone_region,
        "paths": settings.paths,
        "engine": settings.engine,
        "transport": settings.transport,
        "twilio": settings.twilio,
        "email.transport": settings.email.transport,
        "email.smtp": settings.email.smtp,
        "logging": (settings.log_format, settings.log_level),
        "web": (settings.max_request_bytes, settings.trusted_proxies),
    }


def keep_restart_only(new: Settings, running: Settings) -> tuple[Settings, list[str]]:
    """``new`` with the restart-only keys of ``running``; and the names of those that differ."""
    before, after = restart_only_values(running), restart_only_values(new)
    changed = [key for key in after if after[key] != before[key]]
    kept = replace(
        new,
        database_url=running.database_url,
        secret_key=running.secret_key,
        public_url=running.public_url,
        phone_region=running.phone_region,
        paths=running.paths,
        engine=running.engine,
        transport=running.transport,
        twilio=running.twilio,
        email=replace(new.email, transport=running.email.transport, smtp=running.email.smtp),
        log_format=running.log_format,
        log_level=running.log_level,
        max_request_bytes=running.max_request_bytes,
        trusted_proxies=running.trusted_proxies,
    )
    return kept, changed


def live_config(settings: Settings) -> ReloadingFile[Settings]:
    """``config.yaml`` as a reloading file whose value starts as ``settings``."""

    def reread(file: Path) -> Settings:
        # Restart-only keys never change in a running process: compare with the start-up ones.
        fresh, changed = keep_restart_only(load_settings(file, environ=settings.environ), settings)
        for key in changed:
            log.warning(
                "%s: %s changed; it takes effect when the service restarts "
                "(the running value stays until then)",
                file,
                key,
            )
        return fresh

    return ReloadingFile(Path(settings.source), reread, "config", initial=settings)
