"""The OpenAPI document of the JSON API: ``openapi.yaml`` beside this module, read once.

The file holds everything but what only the running service knows, which is filled in here:
``info.version`` (the package version) and ``servers`` (the configured public URL).
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import yaml

from oncall import __version__


@functools.cache
def _document() -> dict[str, Any]:
    # Read on the first request, once per process: importing the app reads no files.
    text = files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["info"]["version"] = __version__
    return document


def openapi_document(public_url: str) -> dict[str, Any]:
    """The document as served: its one server is this service's public URL."""
    return {**_document(), "servers": [{"url": public_url}]}
