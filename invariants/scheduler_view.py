"""The scheduler as the record reveals it: branch statuses, the resume heap, the timer's clock.

Invariants judge recorded events, never the live runtime, so they all need the same replay of
the record into state. This module is that replay, plus the vocabulary the invariants share:

- *resume*: a `status` event of a branch from SUSPENDED or SUSPENDED_WITH_TIMEOUT to PENDING
  (what `reset_to_pending` does when the timer hands a due branch back for a new attempt).
- *exit*: the first `execute_return` or `execute_raise`; from then on `execute()` has decided
  the operation's outcome.
- *timer clock*: the value of the latest `time_read` made by the timer thread, i.e. what the
  scheduler believed the time to be.
- *hold*: the events from a timer `lock_acquire` of the scheduler lock to its next
  `lock_release` of that lock.
- *fault*: a failure the scenario injected, or a thread it killed: a `refresh_fail`, an
  `attempt_end` of a "checkpoint_failure" attempt, or a `thread_crash`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.record import SUSPENDED_STATES, TIMER_THREAD, Event, Record

INITIAL_STATUS = "PENDING"
SCHEDULER_LOCK = "scheduler"
EXIT_KINDS = frozenset({"execute_return", "execute_raise"})


def entry_key(entry: Any) -> Hashable:
    """A heap entry id usable as a dict key, also after a JSON round trip turned tuples to lists."""
    if isinstance(entry, list):
        return tuple(entry_key(part) for part in entry)
    return entry


def branch_map(mapping: Mapping[Any, Any] | None) -> dict[int, Any]:
    """`{branch: value}` with int keys; replay files store dict keys as strings."""
    return {int(key): value for key, value in (mapping or {}).items()}


def branch_list(branches: Iterable[Any] | None) -> list[int]:
    """A list of branch indexes, whatever numeric form the record stored them in."""
    return [int(branch) for branch in (branches or [])]


def is_resume(event: Event) -> bool:
    """A resume: a branch's status goes from a suspended state back to PENDING."""
    return (
        event.kind == "status"
        and event.branch is not None
        and event.get("old") in SUSPENDED_STATES
        and event.get("new") == "PENDING"
    )


def is_exit(event: Event) -> bool:
    """`execute()` returned or raised at this event."""
    return event.kind in EXIT_KINDS


def is_fault(event: Event) -> bool:
    """An injected failure or a dead thread: past it, timing and liveness promises are off."""
    return event.kind in ("refresh_fail", "thread_crash") or (
        event.kind == "attempt_end" and event.get("outcome") == "checkpoint_failure"
    )


def is_timer_lock(event: Event, kind: str) -> bool:
    """The timer thread acquiring (`lock_acquire`) or releasing the scheduler lock."""
    return (
        event.kind == kind and event.thread == TIMER_THREAD and event.get("lock") == SCHEDULER_LOCK
    )


@dataclass(frozen=True)
class HeapEntry:
    """One pending resume on the heap: which branch, due when."""

    entry: Hashable
    branch: int
    resume_time: float


class SchedulerView:
    """What the record says the scheduler looked like just before the current event."""

    def __init__(self, branches: int) -> None:
        self.status: dict[int, str] = dict.fromkeys(range(branches), INITIAL_STATUS)
        self.heap: dict[Hashable, HeapEntry] = {}
        self.timer_clock: float | None = None
        self.exit: Event | None = None

    def status_of(self, branch: int) -> str:
        return self.status.get(branch, INITIAL_STATUS)

    def entries_of(self, branch: int) -> list[HeapEntry]:
        return [entry for entry in self.heap.values() if entry.branch == branch]

    def popped_entry(self, event: Event) -> HeapEntry:
        """The entry a `heap_pop` removes, as pushed (falling back to the pop's own data)."""
        key = entry_key(event.get("entry"))
        known = self.heap.get(key)
        resume_time = event.get("resume_time")
        if resume_time is None:
            resume_time = known.resume_time if known else float("-inf")
        branch = event.branch if event.branch is not None else (known.branch if known else -1)
        return HeapEntry(key, branch, float(resume_time))

    def apply(self, event: Event) -> None:
        """Advance the view past `event`."""
        kind = event.kind
        if kind == "status" and event.branch is not None:
            self.status[event.branch] = str(event.get("new"))
        elif kind == "heap_push" and event.branch is not None:
            key = entry_key(event.get("entry"))
            self.heap[key] = HeapEntry(key, event.branch, float(event.get("resume_time", 0.0)))
        elif kind == "heap_pop":
            self.heap.pop(entry_key(event.get("entry")), None)
        elif kind == "heap_clear":
            dropped = event.get("entries")
            if dropped is None:
                self.heap.clear()
            for entry in dropped or []:
                self.heap.pop(entry_key(entry), None)
        elif kind == "time_read" and event.thread == TIMER_THREAD:
            self.timer_clock = float(event.get("value", event.time))
        elif is_exit(event) and self.exit is None:
            self.exit = event


def walk(record: Record) -> Iterator[tuple[Event, SchedulerView]]:
    """Each event with the view as it stood just BEFORE that event.

    The same view object is advanced in place after each yield, so a check must read what it
    needs during its own iteration. Judging only from the past keeps every check prefix-safe.
    """
    view = SchedulerView(record.branches)
    for event in record:
        yield event, view
        view.apply(event)
