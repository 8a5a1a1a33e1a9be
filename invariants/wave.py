"""Waves: every due timer is drained in one lock hold, and one refresh serves the whole wave."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from invariants.base import Violation, invariant
from invariants.scheduler_view import (
    HeapEntry,
    SchedulerView,
    is_resume,
    is_timer_lock,
    walk,
)
from scheduler.record import TIMER_THREAD, Event, Record


@dataclass
class Hold:
    """One hold of the scheduler lock by the timer, and what was due when it began."""

    acquire: Event
    clock: float | None
    due: dict[Hashable, HeapEntry]
    popped: bool = False


def _begin_hold(event: Event, view: SchedulerView) -> Hold:
    clock = view.timer_clock
    due = {}
    if clock is not None:
        due = {key: entry for key, entry in view.heap.items() if entry.resume_time <= clock}
    return Hold(event, clock, due)


DRAIN, ONE_REFRESH, REFRESHED = "a", "b", "c"


@invariant
def one_refresh_per_wave(record: Record) -> Violation | None:
    """Each wave drains everything due and is served by exactly one shared refresh.

    A *wave* is a maximal run of timer `heap_pop` events not separated by a timer `lock_release`
    of the scheduler lock; normally one lock hold (timer `lock_acquire` .. `lock_release`) in
    which at least one entry is popped. The hold's observation time T is the *timer clock* (the
    latest timer `time_read`) before its `lock_acquire`. Violated at the first event where:
    (a) at the `lock_release` ending a hold that popped, an entry that was on the heap when the
        hold began with `resume_time` <= T is still on the heap (left for another loop turn; not
        judged when the timer had never read the clock);
    (b) a second `refresh_start` occurs after one wave's first pop and before the next wave's;
    (c) a branch *resumed* (`status` from a suspended state to PENDING) is `submit`ted with no
        `refresh_start` since its resume.
    Each clause is also an invariant of its own (`drain_whole_wave`, `one_refresh_per_drain`,
    `no_submit_without_refresh`), so a target that breaks one clause by design can still be
    judged on the others.
    """
    return _waves(record, "one_refresh_per_wave", {DRAIN, ONE_REFRESH, REFRESHED})


@invariant
def drain_whole_wave(record: Record) -> Violation | None:
    """Clause (a) of `one_refresh_per_wave` alone: a hold that pops leaves nothing due behind.

    Violated at the timer `lock_release` ending a hold that popped at least one entry, when an
    entry that was on the heap as the hold began, with `resume_time` <= the timer clock T read
    before the hold, is still on the heap.
    """
    return _waves(record, "drain_whole_wave", {DRAIN})


@invariant
def one_refresh_per_drain(record: Record) -> Violation | None:
    """Clause (b) of `one_refresh_per_wave` alone: one refresh per wave, not one per resume.

    Violated at a second `refresh_start` after one wave's first timer `heap_pop` and before the
    next wave's first.
    """
    return _waves(record, "one_refresh_per_drain", {ONE_REFRESH})


@invariant
def no_submit_without_refresh(record: Record) -> Violation | None:
    """Clause (c) of `one_refresh_per_wave` alone: no resumed branch runs on stale state.

    Violated at the `submit` of a branch *resumed* (`status` from a suspended state to PENDING)
    with no `refresh_start` since that resume.
    """
    return _waves(record, "no_submit_without_refresh", {REFRESHED})


def _waves(record: Record, name: str, clauses: set[str]) -> Violation | None:
    """The first violation of the chosen clauses of the wave discipline, reported as `name`."""
    hold: Hold | None = None
    wave_first_pop: Event | None = None
    in_wave = False
    refreshes: list[Event] = []
    unrefreshed: dict[int, Event] = {}
    for event, view in walk(record):
        if is_timer_lock(event, "lock_acquire"):
            hold = _begin_hold(event, view)
        elif event.kind == "heap_pop" and event.thread == TIMER_THREAD:
            if not in_wave:
                in_wave, wave_first_pop, refreshes = True, event, []
            if hold is not None:
                hold.popped = True
        elif is_timer_lock(event, "lock_release"):
            if DRAIN in clauses and hold is not None and hold.popped:
                left = [entry for key, entry in hold.due.items() if key in view.heap]
                if left:
                    return _left_behind(name, event, hold, left)
            hold, in_wave = None, False
        elif event.kind == "refresh_start":
            unrefreshed.clear()
            if wave_first_pop is not None:
                refreshes.append(event)
                if ONE_REFRESH in clauses and len(refreshes) > 1:
                    return _extra_refresh(name, event, wave_first_pop, refreshes[0])
        elif is_resume(event) and event.branch is not None:
            unrefreshed[event.branch] = event
        elif REFRESHED in clauses and event.kind == "submit" and event.branch in unrefreshed:
            resume = unrefreshed[event.branch]
            return Violation(
                name,
                f"branch {event.branch} resumed at seq {resume.seq} was submitted with no state "
                "refresh since",
                event.seq,
                f"Every resumed branch must read state refreshed after its wave was drained. "
                f"Branch {event.branch}'s new attempt was submitted without any refresh since "
                "its resume, so it replays against checkpoint state that may be stale.",
            )
    return None


def _left_behind(name: str, event: Event, hold: Hold, left: list[HeapEntry]) -> Violation:
    first = min(left, key=lambda entry: entry.resume_time)
    return Violation(
        name,
        f"{len(left)} due entr{'y' if len(left) == 1 else 'ies'} (first: branch {first.branch}, "
        f"due {first.resume_time:g}) left on the heap after a wave at T={hold.clock:g}",
        event.seq,
        f"The timer read T={hold.clock:g} and then popped in the hold starting at seq "
        f"{hold.acquire.seq}, but released the lock with entries due by T still queued. They "
        "wait for another loop turn and another refresh: resumes are served one at a time, "
        "the serial behaviour the issue set out to remove.",
    )


def _extra_refresh(name: str, event: Event, first_pop: Event, first_refresh: Event) -> Violation:
    return Violation(
        name,
        f"refresh {event.get('call')} is the second for the wave that began at seq "
        f"{first_pop.seq} (first refresh at seq {first_refresh.seq})",
        event.seq,
        "One checkpoint fetch returns every operation, so a single refresh serves the whole "
        "wave. A second refresh before the next wave means the wave pays one network round "
        "trip per resume again.",
    )
