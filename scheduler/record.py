"""The event record: what the adapters observe of the SDK, and all that invariants may judge.

Invariants never look at the live runtime; they read a `Record`. Keeping the vocabulary in one
module means an adapter for a new SDK generation only has to emit these kinds, and every
invariant keeps working.

Kinds and their `data` keys (a `branch` is the branch index, or None):

| kind | branch | data |
|---|---|---|
| `lock_acquire` / `lock_release` | None | `lock`: "scheduler" or "counters" |
| `time_read` | None | `value`: the wall-clock value the SDK read |
| `heap_push` | b | `resume_time`, `entry`: unique entry id |
| `heap_pop` | b | `resume_time`, `entry` |
| `heap_clear` | None | `entries`: ids dropped by `shutdown` |
| `status` | b | `old`, `new` (BranchStatus names, e.g. "SUSPENDED_WITH_TIMEOUT") |
| `resubmit` | None | `branches`: the wave handed to the resubmit callback |
| `refresh_start` / `refresh_end` | None | `call`: 1-based refresh number |
| `refresh_fail` | None | `call`, `error`: exception type name, `base_exception`: bool |
| `submit` | b | `attempt`: 1-based attempt number of that branch |
| `attempt_start` / `attempt_end` | b | `attempt`; `attempt_end` adds `outcome` (+ `resume_time`) |
| `callback` | b | `inline`: True when `add_done_callback` ran it on the submitting thread |
| `callback_error` | b | `error`: type name of what the done-callback raised |
| `callback_end` | b | |
| `status_read` | b | `value`: the status `should_execution_suspend` read, when it read it |
| `suspend_check` | None | `statuses`: {branch: status} as read, `suspend`: bool |
| `execute_start` | None | |
| `execute_return` | None | `items`: {branch: "SUCCEEDED"/"FAILED"/"STARTED"}, `reason` |
| `execute_raise` | None | `error`: type name, `suspend`: bool (a SuspendExecution family) |
| `thread_crash` | None | `error`: type name, `message` |
| `clock_step` | None | `delta`: seconds the wall clock jumped (a clock fault) |
| `run_end` | None | `status`: "ok", "deadlock", "hang", "budget"; `main_done`: bool |

Every event also carries the virtual time, the thread name and whether that thread held the
scheduler lock at that moment (`lock_held`).

A "timed" `attempt_end` carries `resume_time`: the wall-clock time (relative, as for the heap)
the attempt asked to be resumed at, recorded even when no heap push follows.

`Record.meta` holds what was fixed before the run: the completion configuration
(`min_successful`, `tolerated_failure_count`, `tolerated_failure_percentage`), the callback
`shape`, and the timing facts `max_refresh_latency` (seconds), `clock_steps` (how many wall-clock
faults are scheduled) and `eager_time` (whether the interleaving may bring timed waits forward).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SUSPENDED_STATES = frozenset({"SUSPENDED", "SUSPENDED_WITH_TIMEOUT"})
ACTIVE_STATES = frozenset({"PENDING", "RUNNING"})
TIMER_THREAD = "timer"


@dataclass(frozen=True)
class Event:
    seq: int
    time: float
    thread: str
    kind: str
    branch: int | None = None
    lock_held: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "t": self.time, "thread": self.thread}
        out["kind"] = self.kind
        if self.branch is not None:
            out["branch"] = self.branch
        if self.lock_held:
            out["lock_held"] = True
        if self.data:
            out["data"] = self.data
        return out


@dataclass
class Record:
    """An append-only list of events, plus the facts fixed before the run started."""

    branches: int = 0
    events: list[Event] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        kind: str,
        *,
        time: float,
        thread: str,
        branch: int | None = None,
        lock_held: bool = False,
        **data: Any,
    ) -> Event:
        event = Event(len(self.events), time, thread, kind, branch, lock_held, data)
        self.events.append(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    def first(self, kind: str) -> Event | None:
        return next((e for e in self.events if e.kind == kind), None)

    def exit_event(self) -> Event | None:
        """The moment `execute()` returned or raised, if it did."""
        return next((e for e in self.events if e.kind in ("execute_return", "execute_raise")), None)

    def run_end(self) -> Event | None:
        return self.first("run_end")
