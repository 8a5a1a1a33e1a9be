"""The parent's suspend decision: what `should_execution_suspend` may see, and what it decides."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from invariants.base import Violation, invariant
from invariants.scheduler_view import (
    SchedulerView,
    branch_map,
    is_exit,
    is_timer_lock,
    walk,
)
from scheduler.record import ACTIVE_STATES, Event, Record

SUSPENDED_WITH_TIMEOUT = "SUSPENDED_WITH_TIMEOUT"


@invariant
def no_suspended_off_heap(record: Record) -> Violation | None:
    """A branch whose timer was popped is never observed still SUSPENDED_WITH_TIMEOUT.

    From the `heap_pop` of an entry of branch b taken while b is SUSPENDED_WITH_TIMEOUT, until
    b's next `status` event or its next `heap_push`, b's status is *stale*: it still describes a
    suspension the heap no longer holds. b is *observed* in that state at:
    - a `status_read` of b returning SUSPENDED_WITH_TIMEOUT (one read of `should_execution_suspend`,
      recorded at the moment it happened), or
    - a `lock_release` of the scheduler lock by the timer thread, the moment a lock-free reader
      (`should_execution_suspend` takes no lock) could next see it.
    Violated at the first such observation while b has no entry on the heap. Judging stops at the
    *exit* (first `execute_return`/`execute_raise`): shutdown clears the heap on purpose.
    """
    return _stale(record, "no_suspended_off_heap", reads=True)


@invariant
def no_stale_status_at_release(record: Record) -> Violation | None:
    """The timer never releases its lock while a branch it popped reads SUSPENDED_WITH_TIMEOUT.

    The lock-release clause of `no_suspended_off_heap` alone: violated at a `lock_release` of the
    scheduler lock by the timer thread while a branch b whose entry the timer popped (while b was
    SUSPENDED_WITH_TIMEOUT) has had no `status` event and no new `heap_push` since, and has no
    entry on the heap. It is the claim "pop and reset-to-PENDING are atomic" judged at the lock:
    the reset must happen inside the hold that popped. Judging stops at the exit.
    """
    return _stale(record, "no_stale_status_at_release", reads=False)


def _stale(record: Record, name: str, *, reads: bool) -> Violation | None:
    """The first observation of a popped branch still SUSPENDED_WITH_TIMEOUT off the heap:
    at a timer lock release, and (`reads`) at a suspend check's read of it."""
    stale: dict[int, Event] = {}
    for event, view in walk(record):
        if is_exit(event):
            return None
        branch = event.branch
        if event.kind == "heap_pop" and branch is not None:
            if view.status_of(branch) == SUSPENDED_WITH_TIMEOUT:
                stale[branch] = event
        elif event.kind in ("heap_push", "status") and branch is not None:
            stale.pop(branch, None)
        elif reads and event.kind == "status_read" and branch in stale:
            if event.get("value") == SUSPENDED_WITH_TIMEOUT and not view.entries_of(branch):
                return _off_heap(name, event, stale[branch], "a suspend check read it")
        elif is_timer_lock(event, "lock_release"):
            for b, pop in sorted(stale.items()):
                if not view.entries_of(b):
                    return _off_heap(name, event, pop, "the timer released the scheduler lock")
    return None


def _off_heap(name: str, event: Event, pop: Event, how: str) -> Violation:
    branch = pop.branch
    return Violation(
        name,
        f"branch {branch} seen SUSPENDED_WITH_TIMEOUT off the heap ({how}) after its entry was "
        f"popped at seq {pop.seq}",
        event.seq,
        f"The timer popped branch {branch}'s entry at seq {pop.seq} but the branch still reads "
        "SUSPENDED_WITH_TIMEOUT with nothing left on the heap. should_execution_suspend reads "
        "statuses without the lock, so it may count the branch as a timed suspension nobody "
        "will resume and suspend the parent spuriously; the pop and the reset to PENDING are "
        "not atomic for that reader.",
    )


@invariant
def no_spurious_suspend(record: Record) -> Violation | None:
    """The parent only decides to suspend when no branch can still make progress.

    A branch's *true status* at an event is the `new` of its latest `status` event before it
    (PENDING for branches 0..branches-1 that have none). Violated at the first `suspend_check`
    with `suspend` True at which some branch's true status is PENDING or RUNNING, whatever the
    check itself read.
    """
    for event, view in _suspend_decisions(record):
        shown = _active(view.status)
        if shown:
            return Violation(
                "no_spurious_suspend",
                f"suspend decided on thread {event.thread} while branch(es) {shown}",
                event.seq,
                "The parent suspends the whole operation only when every branch is done or "
                f"suspended. At this decision branch(es) {shown} could still make "
                "progress in-process, so the invocation would end early and their work "
                "would be redone after the backend reinvokes.",
            )
    return None


def _suspend_decisions(record: Record) -> Iterator[tuple[Event, SchedulerView]]:
    """Each `suspend_check` that decided to suspend, with the view just before it."""
    for event, view in walk(record):
        if event.kind == "suspend_check" and event.get("suspend") is True:
            yield event, view


def _active(statuses: Mapping[int, str]) -> str:
    """`b=STATUS` for each branch that can still progress, or "" when none can."""
    return ", ".join(f"{b}={s}" for b, s in sorted(statuses.items()) if s in ACTIVE_STATES)


@invariant
def suspend_decision_consistent(record: Record) -> Violation | None:
    """A suspend check never decides to suspend against what it read itself.

    Violated at the first `suspend_check` with `suspend` True whose `statuses` (the statuses
    `should_execution_suspend` read, one per branch it looked at) include PENDING or RUNNING.
    Unlike `no_spurious_suspend`, which judges the decision against the branches' true statuses
    (and so also catches a correct check that read a stale status in a race), this judges the
    check's own logic: given what it saw, could it conclude that nothing can progress?
    """
    for event, _view in _suspend_decisions(record):
        shown = _active(branch_map(event.get("statuses")))
        if shown:
            return Violation(
                "suspend_decision_consistent",
                f"suspend decided on thread {event.thread} after reading {shown}",
                event.seq,
                "should_execution_suspend read a branch that can still make progress "
                f"({shown}) and decided to suspend anyway. Whatever the interleaving, a "
                "branch PENDING or RUNNING in the check's own reading vetoes suspension.",
            )
    return None
