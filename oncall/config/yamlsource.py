"""YAML loading that remembers where every key came from.

Every file a manager edits (config, customers, rotas, voice flows) goes through here, so that
each validation error can name the file, the line and the key path:
``config.yaml:14: sla.triage: "15 minutes" is not a duration like 15m``.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both carry the line of
the node itself and of each key or item. :class:`Node` walks that tree while building a key
path, and collects :class:`SourceError`s instead of stopping at the first one, so ``oncall
check`` can list every mistake in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from oncall.domain.timetext import parse_duration


class LineDict(dict):
    """A mapping from YAML with the 1-based line of itself (``line``) and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence from YAML with the 1-based line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers; duplicate keys are an error, not a silent win."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp_as_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    # YAML would turn 2026-11-02T09:00 into a naive datetime or a date. Every date in our files
    # is local time in a named zone, so keep the text and let the schema interpret it.
    return loader.construct_scalar(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


@dataclass(frozen=True)
class SourceError:
    """One problem in a user-edited file, located as precisely as we can."""

    file: str
    line: int
    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"{self.path}: {self.message}" if self.path else self.message
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{what}"


class SourceErrors(Exception):
    """Raised when a file has one or more errors; ``errors`` lists all of them."""

    def __init__(self, errors: list[SourceError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def load_yaml(path: Path | str, text: str | None = None, display_name: str | None = None) -> Any:
    """Parse a YAML file (or ``text`` as if it came from ``path``) keeping line numbers.

    Syntax errors become a :class:`SourceErrors` naming the file and line.
    """
    name = display_name or str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceErrors([SourceError(name, 0, "", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceErrors([SourceError(name, 0, "", f"cannot read: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise SourceErrors([SourceError(name, line, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SourceErrors([SourceError(name, 0, "", f"invalid YAML: {exc}")]) from None


class Node:
    """A cursor over loaded YAML that knows its file, line and key path.

    Validation code reads values through it and reports problems with :meth:`error`; problems
    are collected in a shared list so that a whole file is checked in one pass.
    """

    def __init__(
        self,
        value: Any,
        file: str,
        path: str = "",
        line: int = 0,
        errors: list[SourceError] | None = None,
    ):
        self.value = value
        self.file = file
        self.path = path
        self.line = line or getattr(value, "line", 0)
        self.errors: list[SourceError] = errors if errors is not None else []

    # -- reporting -------------------------------------------------------------------------
    def error(self, message: str, severity: str = "error") -> None:
        self.errors.append(SourceError(self.file, self.line, self.path, message, severity))

    def warning(self, message: str) -> None:
        self.error(message, severity="warning")

    def raise_if_errors(self) -> None:
        errors = [e for e in self.errors if e.severity == "error"]
        if errors:
            raise SourceErrors(errors)

    # -- navigation ------------------------------------------------------------------------
    def _child_path(self, key: Any) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    def child(self, key: Any) -> Node:
        """The node at ``key`` (missing keys give a node whose value is None)."""
        if isinstance(self.value, LineList) and isinstance(key, int):
            line = self.value.item_lines[key] if key < len(self.value.item_lines) else self.line
            value = self.value[key] if key < len(self.value) else None
        elif isinstance(self.value, dict):
            line = getattr(self.value, "key_lines", {}).get(key, self.line)
            value = self.value.get(key)
        else:
            line, value = self.line, None
        node = Node(value, self.file, self._child_path(key), line, self.errors)
        # A mapping or list value starts on its own line; prefer the key's line for messages.
        node.line = line
        return node

    def is_mapping(self, what: str = "a mapping") -> bool:
        if not isinstance(self.value, dict):
            self.error(f"expected {what}, got {_describe(self.value)}")
            return False
        return True

    def is_list(self, what: str = "a list") -> bool:
        if not isinstance(self.value, list):
            self.error(f"expected {what}, got {_describe(self.value)}")
            return False
        return True

    def items(self) -> Iterator[tuple[Any, Node]]:
        if isinstance(self.value, dict):
            for key in self.value:
                yield key, self.child(key)

    def elements(self) -> Iterator[Node]:
        if isinstance(self.value, list):
            for index in range(len(self.value)):
                yield self.child(index)

    def check_keys(self, allowed: set[str] | dict[str, Any], required: set[str] = frozenset()):
        """Report unknown keys (with a did-you-mean) and missing required ones."""
        if not isinstance(self.value, dict):
            return
        for key in self.value:
            if key not in allowed:
                hint = _closest(str(key), list(allowed))
                suggestion = f" (did you mean {hint!r}?)" if hint else ""
                self.child(key).error(f"unknown key{suggestion}")
        for key in sorted(required):
            if key not in self.value:
                self.error(f"missing required key {key!r}")

    # -- typed readers (return a default and record an error when the value is wrong) ------
    def present(self) -> bool:
        return self.value is not None

    def string(self, default: str | None = None, required: bool = False) -> str | None:
        if self.value is None:
            if required:
                self.error("is required")
            return default
        if isinstance(self.value, (dict, list, bool)):
            self.error(f"expected text, got {_describe(self.value)}")
            return default
        return str(self.value)

    def boolean(self, default: bool = False) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            self.error(f"expected true or false, got {_describe(self.value)}")
            return default
        return self.value

    def integer(self, default: int = 0, minimum: int | None = None) -> int:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.error(f"expected a whole number, got {_describe(self.value)}")
            return default
        if minimum is not None and self.value < minimum:
            self.error(f"must be at least {minimum}, got {self.value}")
            return default
        return self.value

    def number(self, default: float = 0.0, minimum: float | None = None) -> float:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.error(f"expected a number, got {_describe(self.value)}")
            return default
        if minimum is not None and self.value < minimum:
            self.error(f"must be at least {minimum}, got {self.value}")
            return default
        return float(self.value)

    def duration(
        self, default: timedelta | None = None, positive: bool = False
    ) -> timedelta | None:
        if self.value is None:
            return default
        try:
            value = parse_duration(self.value)
        except ValueError as exc:
            self.error(str(exc))
            return default
        if positive and value <= timedelta(0):
            self.error(f'"{self.value}" must be longer than zero')
            return default
        return value

    def choice(self, options: list[str], default: str | None = None) -> str | None:
        value = self.string(default)
        if self.value is not None and value not in options:
            self.error(f"{value!r} is not one of: {', '.join(options)}")
            return default
        return value

    def string_list(self) -> list[str]:
        if self.value is None:
            return []
        if not self.is_list("a list of names"):
            return []
        out = []
        for element in self.elements():
            text = element.string()
            if text is not None:
                out.append(text)
        return out

    def validate(self, check: Callable[[Any], Any], default: Any = None) -> Any:
        """Run ``check(value)``; a ValueError becomes an error on this node."""
        if self.value is None:
            return default
        try:
            return check(self.value)
        except ValueError as exc:
            self.error(str(exc))
            return default


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else f"{value!r}"


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None
