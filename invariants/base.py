"""The two shapes every invariant shares: the named predicate and the violation it reports."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.record import Record


@dataclass(frozen=True)
class Violation:
    """One broken invariant, placed at the event where it first became broken.

    `seq` is the seq of the event at which the record first violates the invariant: every
    prefix of the record that stops before it is clean, every prefix that includes it is not.
    """

    invariant: str
    summary: str
    seq: int
    explanation: str


@dataclass(frozen=True)
class Invariant:
    """A named predicate over a `Record`.

    `check` returns the earliest violation, or None. It must be prefix-safe: its verdict at an
    event may depend only on that event and the ones before it, so that a harness may call it
    after every step or once at the end and get the same first violation.
    """

    name: str
    doc: str
    check: Callable[[Record], Violation | None]


def invariant(check: Callable[[Record], Violation | None]) -> Invariant:
    """Turn a check function into an `Invariant` named after it and documented by its docstring.

    Keeping name, definition and code in one place means the catalog cannot drift from the code.
    """
    return Invariant(name=check.__name__, doc=inspect.cleandoc(check.__doc__ or ""), check=check)
