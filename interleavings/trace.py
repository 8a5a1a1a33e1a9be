"""The trace of an execution, and its rendering as a table with one column per thread."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(slots=True)
class Step:
    index: int
    tid: int
    thread: str
    op: str
    obj: str
    detail: str
    file: str
    line: int
    time: float
    preempted: bool = False  # the scheduler switched away from this thread right after it

    def describe(self) -> str:
        text = self.op
        if self.obj:
            text += f" {self.obj}"
        if self.detail:
            text += f" {self.detail}"
        return text

    def where(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}" if self.file else ""

    def to_json(self) -> dict[str, object]:
        return {
            "i": self.index,
            "tid": self.tid,
            "thread": self.thread,
            "op": self.op,
            "obj": self.obj,
            "detail": self.detail,
            "where": self.where(),
            "t": round(self.time, 6),
            "preempted": self.preempted,
        }


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)
    clock_advances: int = 0

    def threads(self) -> list[tuple[int, str]]:
        seen: dict[int, str] = {}
        for s in self.steps:
            seen.setdefault(s.tid, s.thread)
        return sorted(seen.items())

    def render(
        self,
        *,
        width: int = 34,
        highlight: int | None = None,
        notes: dict[int, str] | None = None,
        last: int | None = None,
        start: int = 0,
        end: int | None = None,
    ) -> str:
        """One column per thread; `>>` marks a preemption, `!!` the highlighted step.

        Only the steps where the running thread changes, plus `highlight` and annotated steps,
        carry a location, so a reviewer reads the story rather than every lock call.
        """
        notes = notes or {}
        cols = self.threads()
        index = {tid: i for i, (tid, _) in enumerate(cols)}
        header = f"{'step':>5} {'t':>8} | " + " | ".join(f"{n[:width]:<{width}}" for _, n in cols)
        lines = [header, "-" * len(header)]
        window = self.steps[start:end]
        steps = window if last is None else window[-last:]
        hidden = len(self.steps) - len(steps) - (len(self.steps) - len(self.steps[:end]))
        if hidden > 0:
            lines.append(f"  ... {hidden} earlier steps not shown")
        for s in steps:
            cells = [" " * width] * len(cols)
            text = s.describe()
            where = s.where()
            if where:
                text = f"{text} @{where}"
            cells[index[s.tid]] = f"{text[:width]:<{width}}"
            mark = "!!" if s.index == highlight else (">>" if s.preempted else "  ")
            row = f"{s.index:>5} {s.time:>8.3f} | " + " | ".join(cells) + f" {mark}"
            if s.index in notes:
                row += f"  <- {notes[s.index]}"
            lines.append(row.rstrip())
        return "\n".join(lines)

    def fingerprint(self) -> str:
        """A digest of the full trace: equal digests mean byte-identical runs."""
        import hashlib

        h = hashlib.sha256()
        for s in self.steps:
            h.update(repr(s.to_json()).encode())
        return h.hexdigest()[:16]
