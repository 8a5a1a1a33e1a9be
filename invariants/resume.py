"""Resumes: a due branch goes back to PENDING once, not early, not after exit, and not lost."""

from __future__ import annotations

from collections.abc import Hashable

from invariants.base import Violation, invariant
from invariants.scheduler_view import (
    HeapEntry,
    entry_key,
    is_exit,
    is_fault,
    is_resume,
    walk,
)
from scheduler.record import SUSPENDED_STATES, Event, Record


@invariant
def no_double_resume(record: Record) -> Violation | None:
    """Each suspension of a branch is resumed at most once and runs at most one attempt.

    A *resume* of branch b is a `status` event of b from SUSPENDED or SUSPENDED_WITH_TIMEOUT to
    PENDING. An attempt of b is *outstanding* from its `submit` until a `callback` event of b
    (the done-callback starting); attempts and callbacks are paired by count, so a callback run
    inline by `add_done_callback` counts whichever of the two was recorded first. Violated at
    the first event where:
    (a) b is resumed while an earlier resume of b has not yet been followed by a `submit` of b;
    (b) b is submitted while an earlier attempt of b is outstanding;
    (c) a heap entry id is popped (`heap_pop`) a second time.
    """
    unsubmitted: dict[int, Event] = {}
    last_submit: dict[int, Event] = {}
    outstanding: dict[int, int] = {}
    popped: dict[Hashable, Event] = {}
    for event in record:
        branch = event.branch
        if is_resume(event) and branch is not None:
            earlier = unsubmitted.get(branch)
            if earlier is not None:
                return Violation(
                    "no_double_resume",
                    f"branch {branch} resumed at seq {earlier.seq} and again at seq "
                    f"{event.seq} with no submit in between",
                    event.seq,
                    f"A resume hands a suspended branch back for exactly one new attempt. Branch "
                    f"{branch} went back to PENDING twice before any attempt was submitted for "
                    "it, so the scheduler handled one suspension twice and the two resumes now "
                    "compete for a single attempt.",
                )
            unsubmitted[branch] = event
        elif event.kind == "submit" and branch is not None:
            earlier = last_submit.get(branch)
            if earlier is not None and outstanding.get(branch, 0) > 0:
                return Violation(
                    "no_double_resume",
                    f"branch {branch} submitted at seq {event.seq} while its attempt submitted "
                    f"at seq {earlier.seq} has not run its done-callback",
                    event.seq,
                    f"Two attempts of branch {branch} are outstanding at once. The earlier "
                    "attempt's done-callback will still move the branch to a new status, "
                    "overwriting what the later attempt reports, and the branch body may run "
                    "twice concurrently.",
                )
            unsubmitted.pop(branch, None)
            last_submit[branch] = event
            outstanding[branch] = outstanding.get(branch, 0) + 1
        elif event.kind == "callback" and branch is not None:
            outstanding[branch] = outstanding.get(branch, 0) - 1
        elif event.kind == "heap_pop":
            key = entry_key(event.get("entry"))
            earlier = popped.get(key)
            if earlier is not None:
                return Violation(
                    "no_double_resume",
                    f"heap entry {key!r} (branch {branch}) popped at seq {earlier.seq} and "
                    f"again at seq {event.seq}",
                    event.seq,
                    "Every scheduled resume is one heap entry, and popping it is what consumes "
                    f"it. Entry {key!r} was popped twice, so one timed suspension was taken off "
                    "the heap twice and may be resumed twice.",
                )
            popped[key] = event
    return None


@invariant
def no_resume_after_exit(record: Record) -> Violation | None:
    """Once `execute()` has exited, the scheduler starts no more work.

    The *exit* is the first `execute_return` or `execute_raise` event. Violated at the first
    *resume* (a `status` event from a suspended state to PENDING), `refresh_start` or `submit`
    after the exit.
    """
    exit_event: Event | None = None
    for event in record:
        if exit_event is None:
            if is_exit(event):
                exit_event = event
            continue
        if is_resume(event):
            what = f"branch {event.branch} resumed"
        elif event.kind == "refresh_start":
            what = f"state refresh {event.get('call')} started"
        elif event.kind == "submit":
            what = f"branch {event.branch} submitted"
        else:
            continue
        return Violation(
            "no_resume_after_exit",
            f"{what} on thread {event.thread} after execute() exited at seq {exit_event.seq}",
            event.seq,
            f"execute() already {_exit_verb(exit_event)}, so the operation's outcome is decided, "
            "the worker pool is shut down and the resume heap cleared. Work started now is "
            "invisible to that outcome: a submit to the shut-down pool raises on the timer "
            "thread, and a refresh is a network call made by an orphaned scheduler.",
        )
    return None


@invariant
def no_lost_resume(record: Record) -> Violation | None:
    """A due timed branch is resumed, and a resumed branch is submitted, before `execute()` exits.

    Judged once, at the *exit* (the first `execute_return`/`execute_raise`), or at `run_end` if
    `execute()` never exited. Violated there if either:
    (1) a `heap_pop` took an entry of branch b while b was suspended, and since that pop b was
        neither *resumed* (`status` from a suspended state to PENDING) nor pushed again: b is
        stranded, nothing in-process can ever resume it;
    (2) b was resumed and never `submit`ted since, unless the exit abandons it by design: an
        `execute_return` (the completion criteria abandon every unfinished branch; b reports
        STARTED exactly as if it had stayed suspended) or an `execute_raise` after a
        `refresh_fail` (the failed wave is dropped on purpose and the error re-raised).
    """
    popped_suspended: dict[int, Event] = {}
    unsubmitted: dict[int, Event] = {}
    refresh_failed = False
    for event, view in walk(record):
        branch = event.branch
        if event.kind == "heap_pop" and branch is not None:
            if view.status_of(branch) in SUSPENDED_STATES:
                popped_suspended.setdefault(branch, event)
        elif event.kind == "heap_push" and branch is not None:
            popped_suspended.pop(branch, None)
        elif is_resume(event) and branch is not None:
            popped_suspended.pop(branch, None)
            unsubmitted[branch] = event
        elif event.kind == "submit" and branch is not None:
            unsubmitted.pop(branch, None)
        elif event.kind == "refresh_fail":
            refresh_failed = True
        elif is_exit(event) or event.kind == "run_end":
            return _judge_lost(event, popped_suspended, unsubmitted, refresh_failed)
    return None


def _judge_lost(
    event: Event,
    popped_suspended: dict[int, Event],
    unsubmitted: dict[int, Event],
    refresh_failed: bool,
) -> Violation | None:
    """The verdict of `no_lost_resume` at the exit (or at run_end when there was no exit)."""
    moment = "execute() exited" if is_exit(event) else "the run ended without execute() exiting"
    if popped_suspended:
        pop = min(popped_suspended.values(), key=lambda e: e.seq)
        return Violation(
            "no_lost_resume",
            f"branch {pop.branch} popped from the heap at seq {pop.seq} was never resumed "
            f"before {moment}",
            event.seq,
            f"The timer took branch {pop.branch}'s entry off the heap while the branch was "
            "suspended, but did not move it back to PENDING and did not schedule it again. "
            "No other code path resumes a timed branch, so its timer is lost and the branch "
            "is stranded in-process.",
        )
    abandoned_by_design = event.kind == "execute_return" or (
        event.kind == "execute_raise" and refresh_failed
    )
    if unsubmitted and not abandoned_by_design:
        resume = min(unsubmitted.values(), key=lambda e: e.seq)
        return Violation(
            "no_lost_resume",
            f"branch {resume.branch} resumed at seq {resume.seq} was never submitted before "
            f"{moment}",
            event.seq,
            f"Branch {resume.branch} was reset to PENDING for a new attempt, but no attempt was "
            "ever submitted. A PENDING branch blocks the parent from suspending and never "
            "completes, so unless a failed refresh deliberately dropped the wave, the resume "
            "was lost.",
        )
    return None


@invariant
def no_early_resume(record: Record) -> Violation | None:
    """No timed branch is popped or resumed before its resume time, by the scheduler's clock.

    The scheduler's clock at an event is the *timer clock*: the value of the latest `time_read`
    by the timer thread before it (the event's own virtual time if the timer never read the
    clock). Violated at the first `heap_pop` whose `resume_time` is later than that clock, or
    the first *resume* of b (`status` from a suspended state to PENDING) at which that clock
    is earlier than the `resume_time` of b's latest popped entry.
    """
    popped: dict[int, HeapEntry] = {}
    for event, view in walk(record):
        clock = view.timer_clock if view.timer_clock is not None else event.time
        if event.kind == "heap_pop":
            entry = view.popped_entry(event)
            if entry.resume_time > clock:
                return Violation(
                    "no_early_resume",
                    f"entry {entry.entry!r} of branch {entry.branch} due at "
                    f"{entry.resume_time:g} popped when the timer clock read {clock:g}",
                    event.seq,
                    "The timer may only pop entries that are due by the time it last read. "
                    f"This entry was due {entry.resume_time - clock:g}s later, so its branch "
                    "would wake before the wait it asked for had elapsed.",
                )
            popped[entry.branch] = entry
        elif is_resume(event) and event.branch is not None:
            entry = popped.pop(event.branch, None)
            if entry is not None and clock < entry.resume_time:
                return Violation(
                    "no_early_resume",
                    f"branch {event.branch} resumed when the timer clock read {clock:g}, "
                    f"before its resume time {entry.resume_time:g}",
                    event.seq,
                    f"Branch {event.branch} asked to sleep until {entry.resume_time:g}, but "
                    f"was moved back to PENDING while the scheduler's clock read {clock:g}. "
                    "Its next attempt would find its wait not yet elapsed.",
                )
    return None


def _exit_verb(exit_event: Event) -> str:
    """How `execute()` exited, for explanations."""
    if exit_event.kind == "execute_return":
        return f"returned at seq {exit_event.seq}"
    return f"raised {exit_event.get('error')} at seq {exit_event.seq}"


TIMER_POLL = 0.1  # the longest the SDK's timer sleeps between looks at the heap (1.x)
SLACK = 0.05  # for the virtual time the resume path itself may take


@invariant
def no_overdue_resume(record: Record) -> Violation | None:
    """A due timed suspension is resumed in-process promptly, while `execute()` still runs.

    A branch *waits* from its `status` event to SUSPENDED_WITH_TIMEOUT until its next `status`
    event. Its resume time r is the `resume_time` of its latest "timed" `attempt_end` (wall
    clock, relative to the virtual epoch, so equal to virtual time while the wall clock has not
    been stepped). It is *overdue* at virtual time max(r, start of the wait) + G, with grace
    G = TIMER_POLL (the timer's longest sleep) + `meta["max_refresh_latency"]` (a wave's refresh
    it may queue behind) + SLACK. Violated at the first event whose virtual time is past a
    waiting branch's overdue time. Not judged when `meta["eager_time"]` is set, and judging
    stops at the exit, at the first `clock_step` and at the first *fault* (`refresh_fail`,
    "checkpoint_failure" `attempt_end`, `thread_crash`): there, timing promises are off.
    """
    if record.meta.get("eager_time"):
        return None
    grace = TIMER_POLL + float(record.meta.get("max_refresh_latency") or 0.0) + SLACK
    resume_at: dict[int, float] = {}
    waiting: dict[int, tuple[float, Event]] = {}  # branch -> (overdue time, its suspension)
    for event in record:
        for branch, (overdue, since) in sorted(waiting.items()):
            if event.time > overdue + 1e-9:
                return _overdue(event, branch, overdue, since, grace)
        if is_exit(event) or is_fault(event) or event.kind == "clock_step":
            return None
        branch = event.branch
        if branch is None:
            continue
        if event.kind == "attempt_end" and event.get("resume_time") is not None:
            resume_at[branch] = float(event.get("resume_time"))
        elif event.kind == "status":
            waiting.pop(branch, None)
            if event.get("new") == "SUSPENDED_WITH_TIMEOUT":
                due = max(resume_at.get(branch, event.time), event.time)
                waiting[branch] = (due + grace, event)
    return None


def _overdue(event: Event, branch: int, overdue: float, since: Event, grace: float) -> Violation:
    return Violation(
        "no_overdue_resume",
        f"branch {branch}, SUSPENDED_WITH_TIMEOUT since seq {since.seq}, not resumed by "
        f"t={overdue:g} (due + {grace:g}s grace); now t={event.time:g}",
        event.seq,
        f"Branch {branch}'s timed suspension came due while execute() was still running, but "
        "the scheduler did not hand it back for a new attempt within the timer's poll and one "
        "refresh round trip. In-process resumes are what keeps a map from timing out and "
        "re-invoking; a late or missing resume is the throughput loss the issue is about.",
    )


@invariant
def no_unscheduled_timed_suspend(record: Record) -> Violation | None:
    """A done-callback that records a timed suspension also schedules its resume.

    Within one done-callback of branch b (from b's `callback` to the next `callback_end` of b on
    the same thread), a `status` event setting b to SUSPENDED_WITH_TIMEOUT must be followed by a
    `heap_push` of b before that `callback_end`. Violated at the `callback_end`. A callback that
    never ends (blocked, or its thread killed) is not judged here: `no_deadlock`, `no_hang` and
    `no_thread_crash` see those.
    """
    open_callbacks: dict[tuple[int, str], Event | None] = {}  # -> the suspension awaiting a push
    for event in record:
        branch = event.branch
        if branch is None:
            continue
        key = (branch, event.thread)
        if event.kind == "callback":
            open_callbacks[key] = None
        elif key not in open_callbacks:
            continue
        elif event.kind == "status" and event.get("new") == "SUSPENDED_WITH_TIMEOUT":
            open_callbacks[key] = event
        elif event.kind == "heap_push":
            open_callbacks[key] = None
        elif event.kind == "callback_end":
            suspended = open_callbacks.pop(key)
            if suspended is not None:
                return Violation(
                    "no_unscheduled_timed_suspend",
                    f"branch {branch}'s done-callback set it SUSPENDED_WITH_TIMEOUT at seq "
                    f"{suspended.seq} and ended without scheduling its resume",
                    event.seq,
                    f"Branch {branch}'s attempt asked to be resumed at a time, and its "
                    "done-callback recorded the suspension but pushed nothing onto the resume "
                    "heap. No timer will hand it back in-process: it waits for a re-invocation "
                    "even while the rest of the map keeps running.",
                )
    return None
