"""What every ``oncall`` command shares: the config file named by ``--config`` (or
``ONCALL_CONFIG``, or ``./config.yaml``), read once on first use, and the ``--debug`` flag.

Every path a command uses comes from that one file (relative paths in it are relative to its
folder), so ``cd /tmp && oncall --config /srv/oncall/config.yaml ...`` works like it does in
/srv/oncall.
"""

from __future__ import annotations

from pathlib import Path

import click

from oncall.config.loading import load_settings
from oncall.config.settings import Settings
from oncall.config.yamlsource import SourceErrors

DEFAULT_CONFIG = "config.yaml"


class Context:
    def __init__(self, config: str | None, debug: bool = False):
        self.explicit = config is not None  # given with --config or ONCALL_CONFIG
        self.config_path = Path(config or DEFAULT_CONFIG)
        self.debug = debug
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings, or exit 1 naming every problem of the file."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except SourceErrors as exc:
                for error in exc.errors:
                    click.echo(str(error), err=True)
                if not self.config_path.exists():
                    click.echo(
                        "Give the config file with --config PATH or ONCALL_CONFIG.", err=True
                    )
                raise SystemExit(1) from None
        return self._settings

    def has_config(self) -> bool:
        """True when a config file was named, or the default one exists here."""
        return self.explicit or self.config_path.is_file()

    def settings_if_valid(self) -> Settings | None:
        """The settings when the file exists and is valid, else None (nothing printed)."""
        if self._settings is None and self.config_path.is_file():
            try:
                self._settings = load_settings(self.config_path)
            except SourceErrors:
                return None
        return self._settings


def current() -> Context | None:
    """The ``oncall`` command's context; None when a command group runs on its own (tests)."""
    return click.get_current_context().find_object(Context)
