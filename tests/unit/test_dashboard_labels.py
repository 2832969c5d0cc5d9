"""Every code the service can store has human words on the dashboard.

The codes are collected from the source, not from a list kept by hand: the test reads every
module of ``oncall`` and follows the values that reach the columns the dashboard shows
(``add_event(kind=…)``, ``record_attempt(reason=…)``, ``enqueue(purpose=…)``,
``schedule(kind=…)``, the models' constructors) back through helper functions, their
parameters, local variables, conditional expressions and the enums. A new kind written anywhere
without a label in :mod:`oncall.web.dashboard.labels` fails here; so does a value the reader
cannot follow (an f-string, say), with its file and line, because nobody could then say which
words it needs.
"""

from __future__ import annotations

import ast
import enum
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from oncall.domain import enums
from oncall.web.dashboard import labels

PACKAGE = Path(__file__).resolve().parents[2] / "oncall"

# (callable, parameter) -> the label table its values need. A helper that passes one of its
# own parameters on to one of these joins the list while the source is read.
SINKS: dict[tuple[str, str], str] = {
    ("add_event", "kind"): "event",
    ("CaseEvent", "kind"): "event",
    ("record_attempt", "reason"): "attempt",
    ("Attempt", "reason"): "attempt",
    ("enqueue", "purpose"): "purpose",
    ("OutboundMessage", "purpose"): "purpose",
    ("schedule", "kind"): "deadline",
    ("Deadline", "kind"): "deadline",
    ("enqueue", "channel"): "channel",
    ("OutboundMessage", "channel"): "channel",
    ("record_attempt", "channel"): "intake",
    ("Attempt", "channel"): "intake",
    ("NewCase", "channel"): "intake",
}
# ``row.purpose`` passed on is a copy of a value already stored (and so already collected).
COPIED_ATTRIBUTES = {"kind", "reason", "purpose", "channel"}
# Local names that hold a copy of a stored value too: (function, name).
COPIED_NAMES = {
    ("notify_people", "channel"),  # each paged person's channel, read from their pages
    ("_tell_the_others", "channel"),  # the same, for the one notice of an ACK ALL
}
ENUMS = {
    name: value
    for name, value in vars(enums).items()
    if isinstance(value, type) and issubclass(value, enum.Enum)
}
Function = ast.FunctionDef | ast.AsyncFunctionDef


class Unfollowable(Exception):
    """A value reaching a column that this reader cannot reduce to string constants."""


class Source:
    """Every module of the package, parsed, with each node's enclosing function."""

    def __init__(self, root: Path) -> None:
        self.trees: dict[Path, ast.Module] = {}
        self.functions: dict[str, list[Function]] = defaultdict(list)
        self.enclosing: dict[ast.AST, Function] = {}
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            self.trees[path] = tree
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.functions[node.name].append(node)
                    for inner in ast.walk(node):
                        # ast.walk is breadth-first: the innermost function is seen last.
                        self.enclosing[inner] = node

    def calls(self) -> Iterator[tuple[Path, ast.Call]]:
        for path, tree in self.trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    yield path, node

    def argument(self, call: ast.Call, name: str, parameter: str) -> ast.expr | None:
        for keyword in call.keywords:
            if keyword.arg == parameter:
                return keyword.value
        for function in self.functions.get(name, []):
            positional = [a.arg for a in function.args.posonlyargs + function.args.args]
            if parameter in positional:
                index = positional.index(parameter)
                before = call.args[: index + 1]
                if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in before):
                    return call.args[index]
        return None


def _name_of(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _default(function: Function, parameter: str) -> ast.expr | None:
    args = function.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    if parameter in positional:
        index = positional.index(parameter) - (len(positional) - len(args.defaults))
        return args.defaults[index] if index >= 0 else None
    keyword_only = [a.arg for a in args.kwonlyargs]
    return args.kw_defaults[keyword_only.index(parameter)] if parameter in keyword_only else None


def _assigned_to(name: str, target: ast.expr, value: ast.expr) -> list[ast.expr]:
    """What ``target = value`` gives ``name``: ``name = …`` or ``a, name = …, …``."""
    if isinstance(target, ast.Name):
        return [value] if target.id == name else []
    pairs = (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    )
    if not pairs:
        return []
    return [
        found
        for part, part_value in zip(target.elts, value.elts, strict=True)
        for found in _assigned_to(name, part, part_value)
    ]


class Reader:
    """Reduces an expression to the strings it may hold; records parameters it flows from."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.new_sinks: set[tuple[str, str, str]] = set()

    def values(self, expr: ast.expr, function: Function | None, table: str) -> set[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.IfExp):
            return self.values(expr.body, function, table) | self.values(
                expr.orelse, function, table
            )
        if isinstance(expr, ast.BoolOp):
            return set().union(*(self.values(v, function, table) for v in expr.values))
        if isinstance(expr, ast.Attribute):
            owner = expr.value
            if isinstance(owner, ast.Name) and owner.id in ENUMS:
                return {ENUMS[owner.id][expr.attr].value}
            if expr.attr in COPIED_ATTRIBUTES:
                return set()
        if isinstance(expr, ast.Name) and function is not None:
            if (function.name, expr.id) in COPIED_NAMES:
                return set()
            return self._name(expr.id, function, table)
        if isinstance(expr, ast.Call):
            return self._returned(expr, table)
        raise Unfollowable(ast.unparse(expr))

    def _name(self, name: str, function: Function, table: str) -> set[str]:
        args = function.args
        parameters = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if name in parameters:
            # The callers say what it holds: the helper becomes a sink of its own.
            self.new_sinks.add((function.name, name, table))
            default = _default(function, name)
            return set() if default is None else self.values(default, function, table)
        assigned = [
            value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            for target in node.targets
            for value in _assigned_to(name, target, node.value)
        ]
        if not assigned:
            raise Unfollowable(name)
        return set().union(*(self.values(v, function, table) for v in assigned))

    def _returned(self, call: ast.Call, table: str) -> set[str]:
        name = _name_of(call)
        callees = self.source.functions.get(name or "", [])
        if not callees:
            raise Unfollowable(ast.unparse(call))
        out: set[str] = set()
        for callee in callees:
            for node in ast.walk(callee):
                if isinstance(node, ast.Return) and node.value is not None:
                    out |= self.values(node.value, callee, table)
        return out


def collect_codes(root: Path = PACKAGE) -> tuple[dict[str, dict[str, str]], list[str]]:
    """{table: {code: "file:line" of a place that writes it}}, and what could not be followed."""
    source = Source(root)
    reader = Reader(source)
    sinks = {(name, parameter, table) for (name, parameter), table in SINKS.items()}
    found: dict[str, dict[str, str]] = defaultdict(dict)
    problems: list[str] = []
    read: set[tuple[int, str, str]] = set()
    while True:
        for path, call in source.calls():
            for name, parameter, table in sinks:
                if _name_of(call) != name or (id(call), name, parameter) in read:
                    continue
                read.add((id(call), name, parameter))
                value = source.argument(call, name, parameter)
                if value is None:
                    continue
                where = f"{path.relative_to(root.parent)}:{call.lineno}"
                try:
                    codes = reader.values(value, source.enclosing.get(call), table)
                except Unfollowable as exc:
                    problems.append(f"{where}: {name}({parameter}=…) gets {exc}")
                    continue
                for code in codes:
                    found[table].setdefault(code, where)
        if reader.new_sinks <= sinks:
            return found, problems
        sinks |= reader.new_sinks


@pytest.fixture(scope="module")
def collected():
    return collect_codes()


def test_the_reader_follows_every_value_that_reaches_a_shown_column(collected):
    _found, problems = collected
    assert problems == [], "values this test cannot follow to string codes:\n" + "\n".join(problems)


@pytest.mark.parametrize("table", ["event", "attempt", "purpose", "deadline", "channel", "intake"])
def test_every_code_the_service_writes_has_a_label(collected, table):
    found, _problems = collected
    assert found[table], f"found no {table} codes at all: the reader is broken"
    missing = {
        code: where for code, where in found[table].items() if code not in labels.TABLES[table]
    }
    assert missing == {}, f"{table} codes without a label in oncall/web/dashboard/labels.py"


def test_the_reader_finds_codes_written_through_helpers(collected):
    found, _problems = collected
    # Written through add_event's own parameter in a helper (the outbox's _event) ...
    assert {"sent", "delivered", "failed"} <= set(found["event"])
    # ... chosen by a conditional expression (page_member's "paged" or its purpose) ...
    assert {"paged", "reminder"} <= set(found["event"])
    # ... or returned by a function (the IVR's PIN refusal). (The email intake's "no_severity",
    # once assigned to a variable, is gone: issue 16 asks such mail instead of refusing it.)
    assert {"bad_pin", "unknown_caller", "non_critical"} <= set(found["attempt"])
    assert {"triage_warn", "escalate"} <= set(found["deadline"])


def test_the_reader_rejects_a_value_it_cannot_follow(tmp_path):
    package = tmp_path / "oncall"
    package.mkdir()
    (package / "writer.py").write_text(
        "def add_event(session, case, now, kind, text):\n"
        "    pass\n"
        "def note(session, case, now, level):\n"
        "    add_event(session, case, now, f'note_{level}', 'x')\n"
        "    add_event(session, case, now, 'noted', 'x')\n"
    )
    found, problems = collect_codes(package)
    assert found["event"] == {"noted": "oncall/writer.py:5"}
    assert problems == ["oncall/writer.py:4: add_event(kind=…) gets f'note_{level}'"]


def test_enum_values_have_labels():
    for state in enums.CaseState:
        assert state.value in labels.STATE_LABELS
    for state in enums.OutboxState:
        assert state.value in labels.MESSAGE_STATE_LABELS
    for purpose in enums.Purpose:
        assert purpose.value in labels.PURPOSE_LABELS
    for kind in enums.DeadlineKind:
        assert kind.value in labels.DEADLINE_LABELS


def test_labels_are_words_not_codes():
    for table, entries in labels.TABLES.items():
        for code, words in entries.items():
            assert words and "_" not in words, (table, code, words)
    assert labels.label("event", "call_not_answered") == "Call not answered"
    assert labels.label("event", "some_future_kind") == "Some future kind"
    assert labels.label("attempt", None) == ""
