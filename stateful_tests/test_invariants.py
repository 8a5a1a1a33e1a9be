"""The invariant catalog judged on hand-built records: each fires where it must, nowhere else.

Records are written the way the adapters emit them (thread by thread, in virtual time) with the
small `Trace` builder below. Every firing case names the event where the violation must be
placed; every quiet case is a close variant of a firing one, or a healthy 1.6.0-shaped run.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invariants import BY_NAME, CATALOG, check_all
from invariants.outcome import CompletionConfig, completion_reason, is_finished
from scheduler.record import Event, Record

DESIGN_NAMES = (
    "no_double_resume",
    "no_suspended_off_heap",
    "no_spurious_suspend",
    "no_resume_after_exit",
    "no_deadlock",
    "no_hang",
    "no_hang_on_refresh_failure",
    "no_thread_crash",
    "no_lost_resume",
    "no_early_resume",
    "no_refresh_under_lock",
    "one_refresh_per_wave",
    "no_submit_after_failed_refresh",
    "outcome_matches_completion",
)
ADDED_NAMES = (
    "heap_mutation_under_lock",
    "no_overdue_resume",
    "no_hang_without_faults",
    "no_stale_status_at_release",
    "suspend_decision_consistent",
    "drain_whole_wave",
    "one_refresh_per_drain",
    "no_submit_without_refresh",
    "no_callback_error",
    "no_unscheduled_timed_suspend",
)

SUSPENDED = frozenset({"SUSPENDED", "SUSPENDED_WITH_TIMEOUT"})
ACTIVE = frozenset({"PENDING", "RUNNING"})
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


class Trace:
    """Builds a `Record` as an adapter would: who did what, when, holding the lock or not."""

    def __init__(self, branches: int = 2, **meta: Any) -> None:
        self.record = Record(branches=branches, meta=dict(meta))
        self.now = 0.0
        self.holder: str | None = None
        self.status: dict[int, str] = dict.fromkeys(range(branches), "PENDING")
        self.attempts: dict[int, int] = dict.fromkeys(range(branches), 0)
        self.heap: dict[int, tuple[int, float]] = {}
        self._entries = itertools.count(1)
        self._calls = itertools.count(1)

    def at(self, now: float) -> Trace:
        self.now = now
        return self

    def add(self, kind: str, thread: str = "main", branch: int | None = None, **data: Any) -> Event:
        held = self.holder == thread
        return self.record.add(
            kind, time=self.now, thread=thread, branch=branch, lock_held=held, **data
        )

    # -- locks, clock, statuses ----------------------------------------------------------------

    def acquire(self, thread: str) -> Event:
        self.holder = thread
        return self.add("lock_acquire", thread, lock="scheduler")

    def release(self, thread: str) -> Event:
        event = self.add("lock_release", thread, lock="scheduler")
        self.holder = None
        return event

    def read_clock(self, value: float | None = None, thread: str = "timer") -> Event:
        return self.add("time_read", thread, value=self.now if value is None else value)

    def set_status(self, branch: int, new: str, thread: str) -> Event:
        event = self.add("status", thread, branch, old=self.status[branch], new=new)
        self.status[branch] = new
        return event

    # -- branches ------------------------------------------------------------------------------

    def start(self) -> None:
        """execute() starts and submits every branch from the main thread."""
        self.add("execute_start")
        for branch in range(self.record.branches):
            self.submit(branch, thread="main")

    def submit(self, branch: int, thread: str = "timer") -> Event:
        self.attempts[branch] += 1
        event = self.add("submit", thread, branch, attempt=self.attempts[branch])
        self.set_status(branch, "RUNNING", thread)
        return event

    def callback(self, branch: int, **end: Any) -> Event:
        self.add("attempt_end", f"worker-{branch}", branch, attempt=self.attempts[branch], **end)
        return self.add("callback", f"worker-{branch}", branch, inline=False)

    def complete(self, branch: int, outcome: str = "COMPLETED") -> Event:
        """The branch's attempt returns (or fails); its done-callback records it."""
        self.callback(branch)
        event = self.set_status(branch, outcome, f"worker-{branch}")
        self.add("callback_end", f"worker-{branch}", branch)
        return event

    def suspend(self, branch: int, until: float) -> int:
        """The attempt raises a timed suspend: SUSPENDED_WITH_TIMEOUT, schedule_resume, check."""
        thread = f"worker-{branch}"
        self.callback(branch, outcome="timed", resume_time=until)
        self.set_status(branch, "SUSPENDED_WITH_TIMEOUT", thread)
        entry = self.push(branch, until, thread)
        self.suspend_check(thread)
        self.add("callback_end", thread, branch)
        return entry

    def push(self, branch: int, until: float, thread: str) -> int:
        entry = next(self._entries)
        self.acquire(thread)
        self.add("heap_push", thread, branch, resume_time=until, entry=entry)
        self.heap[entry] = (branch, until)
        self.release(thread)
        return entry

    def suspend_check(self, thread: str, suspend: bool | None = None, **statuses: str) -> Event:
        """should_execution_suspend: reads every status (overridable) and decides."""
        seen: dict[int, str] = dict(self.status)
        seen.update({int(key.lstrip("b")): value for key, value in statuses.items()})
        if suspend is None:
            values = set(seen.values())
            suspend = not (values & ACTIVE) and bool(values & SUSPENDED)
        self.last_reads = {
            b: self.add("status_read", thread, b, value=value) for b, value in sorted(seen.items())
        }
        return self.add("suspend_check", thread, statuses=seen, suspend=suspend)

    # -- the timer -----------------------------------------------------------------------------

    def peek(self) -> None:
        """One timer turn that finds nothing due: peek under the lock, read the clock."""
        self.acquire("timer")
        self.release("timer")
        self.read_clock()

    def pop(self, entry: int) -> Event:
        branch, until = self.heap.pop(entry)
        return self.add("heap_pop", "timer", branch, resume_time=until, entry=entry)

    def drain(self, *entries: int) -> Event:
        """1.6.0's hold: pop every due entry and reset each to PENDING; returns the release."""
        self.acquire("timer")
        self.release("timer")
        self.read_clock()
        self.acquire("timer")
        for entry in entries:
            branch = self.heap[entry][0]
            self.pop(entry)
            self.read_clock()
            self.set_status(branch, "PENDING", "timer")
        return self.release("timer")

    def resubmit(self, branches: list[int], refresh: str = "ok") -> None:
        """The wave's resubmit callback: one shared refresh, then a submit per branch."""
        self.add("resubmit", "timer", branches=branches)
        call = next(self._calls)
        self.add("refresh_start", "timer", call=call)
        if refresh == "fail":
            self.add("refresh_fail", "timer", call=call, error="RuntimeError", base_exception=False)
            return
        self.add("refresh_end", "timer", call=call)
        for branch in branches:
            self.submit(branch)

    def wave(self, *entries: int, refresh: str = "ok") -> None:
        branches = [self.heap[entry][0] for entry in entries]
        self.drain(*entries)
        self.resubmit(branches, refresh)

    def serial_wave(self, entry: int) -> Event:
        """1.5.0's turn: pop ONE entry and refresh + submit it, all under the lock."""
        branch = self.heap[entry][0]
        self.acquire("timer")
        self.release("timer")
        self.read_clock()
        self.acquire("timer")
        self.pop(entry)
        self.read_clock()
        self.set_status(branch, "PENDING", "timer")
        self.resubmit([branch])
        return self.release("timer")

    # -- the end -------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self.acquire("main")
        self.add("heap_clear", "main", entries=sorted(self.heap))
        self.heap.clear()
        self.release("main")

    def items(self) -> dict[int, str]:
        named = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED"}
        return {b: named.get(status, "STARTED") for b, status in self.status.items()}

    def exit_return(self, reason: str | None = "ALL_COMPLETED", **items: str) -> Event:
        self.shutdown()
        reported = self.items()
        reported.update({int(key.lstrip("b")): value for key, value in items.items()})
        return self.add("execute_return", items=reported, reason=reason)

    def exit_raise(self, error: str = "TimedSuspendExecution", suspend: bool = True) -> Event:
        self.shutdown()
        return self.add("execute_raise", error=error, suspend=suspend)

    def run_end(self, status: str = "ok", main_done: bool = True) -> Event:
        return self.add("run_end", "runtime", status=status, main_done=main_done)


def healthy(end: bool = True) -> Trace:
    """A 1.6.0-shaped run: a keeper branch, two pollers, two waves, everything completes."""
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=2.0)
    t.at(1.0).peek()
    t.at(2.0).wave(first, second)
    third = t.at(2.5).suspend(1, until=4.0)
    t.at(3.0).complete(2)
    t.at(4.0).wave(third)
    t.at(4.5).complete(1)
    if end:
        t.at(5.0).complete(0)
        t.exit_return()
        t.run_end()
    return t


def one_poller() -> tuple[Trace, int]:
    """Keeper 0 running, poller 1 suspended until 2.0 (entry returned): the common prefix."""
    t = Trace(branches=2)
    t.start()
    entry = t.at(0.5).suspend(1, until=2.0)
    return t, entry


# -- the case tables -------------------------------------------------------------------------

Firing = Callable[[], tuple[Record, int]]
Quiet = Callable[[], Record]
FIRES: list[Any] = []
QUIET: list[Any] = []


def fires(name: str) -> Callable[[Firing], Firing]:
    """Register a record that must violate `name` exactly at the returned seq."""

    def register(build: Firing) -> Firing:
        FIRES.append(pytest.param(name, build, id=f"{name}-{build.__name__}"))
        return build

    return register


def quiet(name: str) -> Callable[[Quiet], Quiet]:
    """Register a record that `name` must accept."""

    def register(build: Quiet) -> Quiet:
        QUIET.append(pytest.param(name, build, id=f"{name}-{build.__name__}"))
        return build

    return register


for _name in (*DESIGN_NAMES, *ADDED_NAMES):
    QUIET.append(pytest.param(_name, lambda: healthy().record, id=f"{_name}-healthy_run"))


# no_double_resume ----------------------------------------------------------------------------


@fires("no_double_resume")
def resumed_twice_without_submit() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.set_status(1, "SUSPENDED_WITH_TIMEOUT", "worker-1")
    bad = t.set_status(1, "PENDING", "timer")
    return t.record, bad.seq


@quiet("no_double_resume")
def resumed_twice_with_submit_between() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry)
    again = t.at(2.5).suspend(1, until=3.0)
    t.at(3.0).wave(again)
    return t.record


@fires("no_double_resume")
def second_attempt_while_first_outstanding() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.submit(0)
    return t.record, bad.seq


@quiet("no_double_resume")
def second_attempt_after_callback() -> Record:
    t, _ = one_poller()
    t.callback(0)
    t.submit(0)
    return t.record


@quiet("no_double_resume")
def inline_callback_recorded_before_its_submit() -> Record:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.add("resubmit", "timer", branches=[1])
    t.add("refresh_start", "timer", call=1)
    t.add("refresh_end", "timer", call=1)
    t.add("callback", "timer", 1, inline=True)  # the attempt finished before add_done_callback
    t.submit(1)
    t.set_status(1, "COMPLETED", "timer")
    return t.record


@fires("no_double_resume")
def entry_popped_twice() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.add("heap_pop", "timer", 1, resume_time=2.0, entry=entry)
    bad = t.add("heap_pop", "timer", 1, resume_time=2.0, entry=entry)
    return t.record, bad.seq


@quiet("no_double_resume")
def distinct_entries_popped() -> Record:
    t, entry = one_poller()
    other = t.push(1, 2.0, "worker-1")
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.pop(other)
    return t.record


# no_suspended_off_heap -----------------------------------------------------------------------


@fires("no_suspended_off_heap")
def reader_sees_popped_branch_before_reset() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.read_clock()  # can_resume reads the clock: a switch point before reset_to_pending
    t.suspend_check("worker-0")
    bad = t.last_reads[1]
    t.set_status(1, "PENDING", "timer")
    t.release("timer")
    return t.record, bad.seq


@quiet("no_stale_status_at_release")
@quiet("no_suspended_off_heap")
def reader_sees_branch_while_still_on_heap() -> Record:
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.suspend_check("worker-0")
    t.acquire("timer")
    t.pop(entry)
    t.set_status(1, "PENDING", "timer")
    t.release("timer")
    return t.record


@fires("no_stale_status_at_release")
@fires("no_suspended_off_heap")
def timer_releases_lock_before_reset() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    bad = t.release("timer")
    t.set_status(1, "PENDING", "timer")
    return t.record, bad.seq


@quiet("no_suspended_off_heap")
def fresh_suspension_seen_before_its_push() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry)
    t.at(2.5).callback(1)
    t.set_status(1, "SUSPENDED_WITH_TIMEOUT", "worker-1")
    t.suspend_check("worker-0")  # legitimately suspended; schedule_resume is about to push
    t.push(1, 3.0, "worker-1")
    return t.record


@quiet("no_suspended_off_heap")
def observed_only_after_exit() -> Record:
    t, entry = one_poller()
    t.at(1.0).exit_raise("RuntimeError", suspend=False)
    t.at(2.0).acquire("timer")
    t.add("heap_pop", "timer", 1, resume_time=2.0, entry=entry)
    t.release("timer")
    return t.record


# no_spurious_suspend -------------------------------------------------------------------------


@fires("no_spurious_suspend")
def suspend_while_keeper_runs() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.suspend_check("worker-1", suspend=True)
    return t.record, bad.seq


@quiet("no_spurious_suspend")
def no_suspend_while_keeper_runs() -> Record:
    t, _ = one_poller()
    t.suspend_check("worker-1", suspend=False)
    return t.record


@fires("no_spurious_suspend")
def suspend_decided_on_stale_read() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    entry = t.suspend(1, until=2.0)
    t.at(2.0).drain(entry)
    bad = t.suspend_check("worker-0", suspend=True, b1="SUSPENDED_WITH_TIMEOUT")
    return t.record, bad.seq


@quiet("no_spurious_suspend")
def suspend_when_nothing_can_progress() -> Record:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    t.suspend(1, until=2.0)  # its own check decides to suspend, rightly
    return t.record


# no_resume_after_exit ------------------------------------------------------------------------


@fires("no_resume_after_exit")
def submit_after_exit() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    entry = t.suspend(1, until=2.0)
    t.at(2.0).drain(entry)
    t.add("resubmit", "timer", branches=[1])
    t.add("refresh_start", "timer", call=1)
    t.exit_raise()
    t.add("refresh_end", "timer", call=1)
    bad = t.submit(1)
    return t.record, bad.seq


@fires("no_resume_after_exit")
def refresh_after_exit() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    entry = t.suspend(1, until=2.0)
    t.at(2.0).drain(entry)
    t.exit_raise()
    t.add("resubmit", "timer", branches=[1])
    bad = t.add("refresh_start", "timer", call=1)
    return t.record, bad.seq


@fires("no_resume_after_exit")
def resume_after_exit() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    t.suspend(1, until=2.0)
    t.exit_raise()
    bad = t.set_status(1, "PENDING", "timer")
    return t.record, bad.seq


@quiet("no_resume_after_exit")
def submit_before_exit() -> Record:
    t = Trace(branches=2)
    t.start()
    t.at(0.5).complete(0)
    entry = t.suspend(1, until=2.0)
    t.at(2.0).wave(entry)
    t.at(2.5).complete(1)
    t.exit_return()
    t.add("callback_end", "worker-1", 1)
    return t.record


# liveness ------------------------------------------------------------------------------------


@fires("no_deadlock")
def deadlock_before_return() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.run_end("deadlock", main_done=False)
    return t.record, bad.seq


@quiet("no_deadlock")
def stuck_daemon_after_return() -> Record:
    t = healthy(end=False)
    t.at(5.0).complete(0)
    t.exit_return()
    t.run_end("deadlock", main_done=True)
    return t.record


@fires("no_hang")
def hang_on_timed_polling() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.at(600.0).run_end("hang", main_done=False)
    return t.record, bad.seq


@fires("no_hang")
def budget_exhausted() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.at(900.0).run_end("budget", main_done=False)
    return t.record, bad.seq


@quiet("no_hang")
def deadlock_is_not_a_hang() -> Record:
    t, _ = one_poller()
    t.run_end("deadlock", main_done=False)
    return t.record


@quiet("no_hang")
def polling_after_return() -> Record:
    t = healthy(end=False)
    t.at(5.0).complete(0)
    t.exit_return()
    t.run_end("hang", main_done=True)
    return t.record


@fires("no_hang_on_refresh_failure")
def refresh_failure_never_surfaces() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).wave(entry, refresh="fail")
    bad = t.at(600.0).run_end("hang", main_done=False)
    return t.record, bad.seq


@quiet("no_hang_on_refresh_failure")
def refresh_failure_reraised() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry, refresh="fail")
    t.exit_raise("RuntimeError", suspend=False)
    t.run_end("ok", main_done=True)
    return t.record


@fires("no_thread_crash")
def timer_thread_dies() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).wave(entry)
    bad = t.add("thread_crash", "timer", error="RuntimeError", message="cannot schedule\nmore")
    return t.record, bad.seq


@quiet("no_thread_crash")
def refresh_failure_caught_on_timer() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry, refresh="fail")
    t.exit_raise("RuntimeError", suspend=False)
    t.run_end()
    return t.record


# no_lost_resume ------------------------------------------------------------------------------


@fires("no_lost_resume")
def popped_but_never_resumed() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    entry = t.at(0.5).suspend(1, until=2.0)
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.read_clock(1.5)  # can_resume reads a clock that went back: False, entry dropped
    t.release("timer")
    t.at(2.5).complete(0)
    t.suspend_check("worker-0")
    bad = t.exit_raise()
    return t.record, bad.seq


@quiet("no_lost_resume")
def popped_then_scheduled_again() -> Record:
    t = Trace(branches=2)
    t.start()
    entry = t.at(0.5).suspend(1, until=2.0)
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.release("timer")
    t.push(1, 3.0, "timer")
    t.at(2.5).complete(0)
    t.exit_raise()
    return t.record


@fires("no_lost_resume")
def resumed_never_submitted_then_hang() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)  # the resubmit callback never runs
    t.at(2.5).complete(0)
    bad = t.at(600.0).run_end("hang", main_done=False)
    return t.record, bad.seq


@fires("no_lost_resume")
def resumed_never_submitted_then_suspend() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.at(2.5).complete(0)
    bad = t.exit_raise()
    return t.record, bad.seq


@quiet("no_lost_resume")
def failed_wave_dropped_and_error_raised() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry, refresh="fail")
    t.exit_raise("RuntimeError", suspend=False)
    t.run_end()
    return t.record


@quiet("no_lost_resume")
def resumed_branch_abandoned_by_early_completion() -> Record:
    t, entry = one_poller()
    t.record.meta["min_successful"] = 1
    t.at(2.0).drain(entry)
    t.at(2.1).complete(0)
    t.exit_return("MIN_SUCCESSFUL_REACHED")
    t.run_end()
    return t.record


# no_early_resume -----------------------------------------------------------------------------


@fires("no_early_resume")
def popped_before_due() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(1.5).read_clock()
    t.acquire("timer")
    bad = t.pop(entry)
    return t.record, bad.seq


@fires("no_early_resume")
def resumed_behind_the_clock() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.read_clock(1.0)  # the wall clock stepped back between the pop and can_resume
    bad = t.set_status(1, "PENDING", "timer")
    return t.record, bad.seq


@quiet("no_early_resume")
def popped_exactly_when_due() -> Record:
    t, entry = one_poller()
    t.at(2.0).wave(entry)
    return t.record


# no_refresh_under_lock and one_refresh_per_wave ----------------------------------------------


@fires("no_refresh_under_lock")
def refresh_inside_the_hold() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).serial_wave(entry)
    bad = next(e for e in t.record if e.kind == "refresh_start")
    return t.record, bad.seq


@quiet("no_refresh_under_lock")
def refresh_right_after_release() -> Record:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.resubmit([1])
    return t.record


@fires("drain_whole_wave")
@fires("one_refresh_per_wave")
def due_entry_left_for_next_turn() -> tuple[Record, int]:
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=2.0)
    bad = t.at(2.0).serial_wave(first)
    t.serial_wave(second)
    return t.record, bad.seq


@quiet("drain_whole_wave")
@quiet("one_refresh_per_wave")
def undue_entry_left_for_next_turn() -> Record:
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=3.0)
    t.at(2.0).wave(first)
    t.at(3.0).wave(second)
    return t.record


@fires("one_refresh_per_drain")
@fires("one_refresh_per_wave")
def refresh_per_branch() -> tuple[Record, int]:
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=2.0)
    t.at(2.0).drain(first, second)
    t.resubmit([1])
    t.resubmit([2])
    bad = [e for e in t.record if e.kind == "refresh_start"][-1]
    return t.record, bad.seq


@fires("no_submit_without_refresh")
@fires("one_refresh_per_wave")
def submitted_without_refresh() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.add("resubmit", "timer", branches=[1])
    bad = t.submit(1)
    return t.record, bad.seq


@quiet("one_refresh_per_drain")
@quiet("no_submit_without_refresh")
@quiet("one_refresh_per_wave")
def refresh_before_next_wave_only() -> Record:
    t, entry = one_poller()
    t.add("refresh_start", "main", call=0)  # before any wave: not this invariant's business
    t.add("refresh_end", "main", call=0)
    t.at(2.0).wave(entry)
    again = t.at(2.5).suspend(1, until=3.0)
    t.at(3.0).wave(again)
    return t.record


# the wave clauses, one by one ----------------------------------------------------------------


@quiet("one_refresh_per_drain")
@quiet("no_submit_without_refresh")
def serial_waves_each_refreshed() -> Record:
    """1.5.0's shape breaks clause (a) only: each serial turn refreshes once and then submits."""
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=2.0)
    t.at(2.0).serial_wave(first)
    t.serial_wave(second)
    return t.record


@quiet("drain_whole_wave")
@quiet("one_refresh_per_drain")
def whole_wave_submitted_unrefreshed() -> Record:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.add("resubmit", "timer", branches=[1])
    t.submit(1)
    return t.record


# no_stale_status_at_release ------------------------------------------------------------------


@quiet("no_stale_status_at_release")
def reader_races_inside_the_hold() -> Record:
    """F5's shape: a reader sees the stale status inside the hold; the reset precedes release."""
    t, entry = one_poller()
    t.at(2.0).read_clock()
    t.acquire("timer")
    t.pop(entry)
    t.read_clock()
    t.suspend_check("worker-0")
    t.set_status(1, "PENDING", "timer")
    t.release("timer")
    return t.record


# suspend_decision_consistent -----------------------------------------------------------------


@fires("suspend_decision_consistent")
def suspend_after_reading_a_pending_branch() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.at(2.1).complete(0)
    bad = t.suspend_check("worker-0", suspend=True)
    return t.record, bad.seq


@quiet("suspend_decision_consistent")
def suspend_after_a_stale_read() -> Record:
    """The race of F5: the check read SUSPENDED_WITH_TIMEOUT although the branch is PENDING by
    now. Its decision is consistent with what it saw (`no_spurious_suspend` judges the race)."""
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.at(2.1).complete(0)
    t.suspend_check("worker-0", b1="SUSPENDED_WITH_TIMEOUT")
    return t.record


# no_overdue_resume ---------------------------------------------------------------------------


def poller_never_resumed(**meta: Any) -> tuple[Trace, Event]:
    """Keeper 0 runs until 3.0 while poller 1, due at 2.0, is never popped."""
    t = Trace(branches=2, **meta)
    t.start()
    t.at(0.5).suspend(1, until=2.0)
    t.at(1.0).peek()
    first_late = t.at(3.0).add("attempt_end", "worker-0", 0, attempt=1)
    return t, first_late


@fires("no_overdue_resume")
def due_timer_never_popped() -> tuple[Record, int]:
    t, late = poller_never_resumed()
    return t.record, late.seq


@quiet("no_overdue_resume")
def due_timer_never_popped_under_eager_time() -> Record:
    return poller_never_resumed(eager_time=True)[0].record


@fires("no_overdue_resume")
def resume_later_than_one_refresh() -> tuple[Record, int]:
    t, entry = one_poller()
    t.record.meta["max_refresh_latency"] = 0.5
    late = t.at(2.7).read_clock()
    t.drain(entry)
    return t.record, late.seq


@quiet("no_overdue_resume")
def resume_within_one_refresh() -> Record:
    t, entry = one_poller()
    t.record.meta["max_refresh_latency"] = 0.5
    t.at(2.6).wave(entry)
    t.at(3.0).complete(1)
    t.complete(0)
    t.exit_return()
    t.run_end()
    return t.record


@quiet("no_overdue_resume")
def late_after_a_refresh_failure() -> Record:
    t, _ = one_poller()
    t.at(1.0).add("refresh_fail", "timer", call=1, error="BackgroundThreadError")
    t.at(5.0).run_end("hang", main_done=False)
    return t.record


@quiet("no_overdue_resume")
def parent_suspended_before_due() -> Record:
    t, _ = one_poller()
    t.at(1.0).complete(0)
    t.exit_raise()
    t.at(9.0).run_end()
    return t.record


# no_hang_without_faults ----------------------------------------------------------------------


@fires("no_hang_without_faults")
def hang_in_a_fault_free_run() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.at(20.0).run_end("hang", main_done=False)
    return t.record, bad.seq


@quiet("no_hang_without_faults")
def hang_after_a_crashed_thread() -> Record:
    t, _ = one_poller()
    t.at(1.0).add("thread_crash", "timer", error="BackgroundThreadError", message="x")
    t.at(20.0).run_end("hang", main_done=False)
    return t.record


@quiet("no_hang_without_faults")
def hang_after_a_branch_checkpoint_failure() -> Record:
    t, _ = one_poller()
    t.at(1.0).add("attempt_end", "worker-0", 0, attempt=1, outcome="checkpoint_failure")
    t.at(20.0).run_end("hang", main_done=False)
    return t.record


# no_callback_error ---------------------------------------------------------------------------


@fires("no_callback_error")
def callback_raises() -> tuple[Record, int]:
    t, _ = one_poller()
    t.at(1.0).callback(0)
    bad = t.add("callback_error", "worker-0", 0, error="TypeError")
    t.add("callback_end", "worker-0", 0)
    return t.record, bad.seq


@quiet("no_callback_error")
def callback_records_a_failed_branch() -> Record:
    t, _ = one_poller()
    t.at(1.0).complete(0, "FAILED")
    return t.record


# no_unscheduled_timed_suspend ----------------------------------------------------------------


@fires("no_unscheduled_timed_suspend")
def timed_suspension_never_pushed() -> tuple[Record, int]:
    t, _ = one_poller()
    t.at(1.0).callback(0, outcome="timed", resume_time=2.0)
    t.set_status(0, "SUSPENDED_WITH_TIMEOUT", "worker-0")
    t.suspend_check("worker-0")
    bad = t.add("callback_end", "worker-0", 0)
    return t.record, bad.seq


@quiet("no_unscheduled_timed_suspend")
def indefinite_suspension_needs_no_push() -> Record:
    t, _ = one_poller()
    t.at(1.0).callback(0, outcome="suspend")
    t.set_status(0, "SUSPENDED", "worker-0")
    t.add("callback_end", "worker-0", 0)
    return t.record


@quiet("no_unscheduled_timed_suspend")
def callback_blocked_before_its_push() -> Record:
    """1.5.0's self-deadlock: the inline callback blocks on the lock; it is never judged."""
    t, _ = one_poller()
    t.at(1.0).callback(0, outcome="timed", resume_time=2.0)
    t.set_status(0, "SUSPENDED_WITH_TIMEOUT", "worker-0")
    t.at(20.0).run_end("deadlock", main_done=False)
    return t.record


# no_submit_after_failed_refresh --------------------------------------------------------------


@fires("no_submit_after_failed_refresh")
def failed_wave_submitted_anyway() -> tuple[Record, int]:
    t, entry = one_poller()
    t.at(2.0).drain(entry)
    t.resubmit([1], refresh="fail")
    bad = t.submit(1)
    return t.record, bad.seq


@quiet("no_submit_after_failed_refresh")
def later_wave_submitted_after_failure() -> Record:
    t = Trace(branches=3)
    t.start()
    first = t.at(0.5).suspend(1, until=2.0)
    second = t.at(0.6).suspend(2, until=3.0)
    t.at(2.0).wave(first, refresh="fail")
    t.at(3.0).wave(second)
    return t.record


# outcome_matches_completion ------------------------------------------------------------------


@fires("outcome_matches_completion")
def item_misreports_a_running_branch() -> tuple[Record, int]:
    t = healthy(end=False)
    bad = t.exit_return(b0="SUCCEEDED")
    return t.record, bad.seq


@fires("outcome_matches_completion")
def returned_before_criteria_met() -> tuple[Record, int]:
    t, _ = one_poller()
    t.at(1.0).complete(0)
    bad = t.exit_return("ALL_COMPLETED")
    return t.record, bad.seq


@quiet("outcome_matches_completion")
def returned_when_min_successful_reached() -> Record:
    t, _ = one_poller()
    t.record.meta["min_successful"] = 1
    t.at(1.0).complete(0)
    t.exit_return("MIN_SUCCESSFUL_REACHED")
    return t.record


@fires("outcome_matches_completion")
def wrong_completion_reason() -> tuple[Record, int]:
    t, _ = one_poller()
    t.record.meta["min_successful"] = 1
    t.at(1.0).complete(0)
    bad = t.exit_return("CompletionReason.ALL_COMPLETED")
    return t.record, bad.seq


@fires("outcome_matches_completion")
def suspend_raised_while_branch_runs() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.exit_raise()
    return t.record, bad.seq


@fires("outcome_matches_completion")
def suspend_raised_with_nothing_suspended() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.complete(0)
    t.complete(1)
    bad = t.exit_raise()
    return t.record, bad.seq


@quiet("outcome_matches_completion")
def suspend_raised_when_all_waiting() -> Record:
    t, _ = one_poller()
    t.at(1.0).complete(0)
    t.exit_raise()
    return t.record


@quiet("outcome_matches_completion")
def fail_fast_return() -> Record:
    t, _ = one_poller()
    t.at(1.0).complete(0, outcome="FAILED")
    t.exit_return("FAILURE_TOLERANCE_EXCEEDED")
    return t.record


# heap_mutation_under_lock --------------------------------------------------------------------


@fires("heap_mutation_under_lock")
def push_without_lock() -> tuple[Record, int]:
    t = Trace(branches=2)
    t.start()
    t.callback(1)
    t.set_status(1, "SUSPENDED_WITH_TIMEOUT", "worker-1")
    bad = t.add("heap_push", "worker-1", 1, resume_time=2.0, entry=1)
    return t.record, bad.seq


@quiet("heap_mutation_under_lock")
def push_and_clear_with_lock() -> Record:
    t, _ = one_poller()
    t.exit_raise("RuntimeError", suspend=False)
    return t.record


@fires("heap_mutation_under_lock")
def clear_without_lock() -> tuple[Record, int]:
    t, _ = one_poller()
    bad = t.add("heap_clear", "main", entries=[1])
    return t.record, bad.seq


# -- the tests ---------------------------------------------------------------------------------


def test_catalog_lists_the_design_names_in_order() -> None:
    assert tuple(inv.name for inv in CATALOG) == DESIGN_NAMES + ADDED_NAMES
    assert list(BY_NAME) == [inv.name for inv in CATALOG]


def test_every_invariant_is_documented_and_has_cases() -> None:
    fired = {case.values[0] for case in FIRES}
    quieted = {case.values[0] for case in QUIET if not case.id.endswith("healthy_run")}
    for inv in CATALOG:
        assert inv.doc and inv.doc.split()[0], inv.name
        assert inv.name in fired, f"{inv.name} has no firing case"
        assert inv.name in quieted, f"{inv.name} has no close quiet case"


@pytest.mark.parametrize(("name", "build"), FIRES)
def test_fires(name: str, build: Firing) -> None:
    record, seq = build()
    violation = BY_NAME[name].check(record)
    assert violation is not None, f"{name} did not fire"
    assert violation.invariant == name
    assert violation.seq == seq, violation
    assert violation.summary and "\n" not in violation.summary
    assert 2 <= len(SENTENCE_END.findall(violation.explanation)) <= 4, violation.explanation
    assert violation in check_all(record)


@pytest.mark.parametrize(("name", "build"), QUIET)
def test_quiet(name: str, build: Quiet) -> None:
    assert BY_NAME[name].check(build()) is None


@pytest.mark.parametrize(("name", "build"), FIRES)
def test_violation_is_placed_where_the_prefix_first_breaks(name: str, build: Firing) -> None:
    record, seq = build()
    full = BY_NAME[name].check(record)
    assert full is not None
    for cut in range(len(record) + 1):
        found = BY_NAME[name].check(_prefix(record, cut))
        assert found == (full if cut > seq else None), cut


def test_healthy_run_is_clean_at_every_step() -> None:
    record = healthy().record
    for cut in range(len(record) + 1):
        assert check_all(_prefix(record, cut)) == [], cut


def test_check_all_gives_each_invariants_earliest_violation() -> None:
    record, _ = submit_after_exit()
    found = check_all(record)
    names = [v.invariant for v in found]
    assert names == [inv.name for inv in CATALOG if inv.name in names]
    assert len(set(names)) == len(names)
    assert {"no_resume_after_exit", "outcome_matches_completion"} <= set(names)
    for violation in found:
        assert BY_NAME[violation.invariant].check(record) == violation


def test_verdicts_survive_a_json_round_trip() -> None:
    """Replay files store dict keys as strings and tuples as lists; verdicts must not change."""
    cases = [build() for build in (reader_sees_popped_branch_before_reset, wrong_completion_reason)]
    for record, _ in cases:
        loaded = Record(branches=record.branches, meta=dict(record.meta))
        for event in record:
            raw = json.loads(json.dumps(event.to_json()))
            loaded.add(
                raw["kind"],
                time=raw["t"],
                thread=raw["thread"],
                branch=raw.get("branch"),
                lock_held=raw.get("lock_held", False),
                **raw.get("data", {}),
            )
        assert check_all(loaded) == check_all(record)


@pytest.mark.parametrize(
    ("succeeded", "failed", "total", "meta", "finished", "reason"),
    [
        (3, 0, 3, {}, True, "ALL_COMPLETED"),
        (1, 0, 3, {}, False, "ALL_COMPLETED"),
        (1, 1, 3, {}, True, "FAILURE_TOLERANCE_EXCEEDED"),
        (2, 0, 3, {"min_successful": 2}, True, "MIN_SUCCESSFUL_REACHED"),
        (0, 0, 3, {"min_successful": 0}, False, "MIN_SUCCESSFUL_REACHED"),
        (1, 1, 3, {"min_successful": 2}, True, "ALL_COMPLETED"),
        (1, 1, 4, {"tolerated_failure_count": 1}, False, "ALL_COMPLETED"),
        (1, 2, 4, {"tolerated_failure_count": 1}, True, "FAILURE_TOLERANCE_EXCEEDED"),
        (1, 1, 4, {"tolerated_failure_percentage": 25}, False, "ALL_COMPLETED"),
        (0, 2, 4, {"tolerated_failure_percentage": 25}, True, "FAILURE_TOLERANCE_EXCEEDED"),
        (0, 0, 0, {}, True, "ALL_COMPLETED"),
    ],
)
def test_completion_rules(
    succeeded: int, failed: int, total: int, meta: dict[str, Any], finished: bool, reason: str
) -> None:
    config = CompletionConfig.from_meta(meta)
    assert is_finished(succeeded, failed, total, config) is finished
    assert completion_reason(succeeded, failed, total, config) == reason


# -- prefix safety on arbitrary records --------------------------------------------------------

THREADS = st.sampled_from(["main", "timer", "worker-0", "worker-1", "runtime"])
BRANCH = st.integers(0, 2)
STATUS = st.sampled_from(
    ["PENDING", "RUNNING", "COMPLETED", "FAILED", "SUSPENDED", "SUSPENDED_WITH_TIMEOUT"]
)
ENTRY = st.integers(1, 4)
CLOCK = st.floats(0, 5, allow_nan=False)
EVENTS: dict[str, tuple[Any, st.SearchStrategy[dict[str, Any]]]] = {
    "lock_acquire": (st.none(), st.fixed_dictionaries({"lock": st.just("scheduler")})),
    "lock_release": (st.none(), st.fixed_dictionaries({"lock": st.just("scheduler")})),
    "time_read": (st.none(), st.fixed_dictionaries({"value": CLOCK})),
    "heap_push": (BRANCH, st.fixed_dictionaries({"resume_time": CLOCK, "entry": ENTRY})),
    "heap_pop": (BRANCH, st.fixed_dictionaries({"resume_time": CLOCK, "entry": ENTRY})),
    "heap_clear": (st.none(), st.fixed_dictionaries({"entries": st.lists(ENTRY, max_size=3)})),
    "status": (BRANCH, st.fixed_dictionaries({"old": STATUS, "new": STATUS})),
    "resubmit": (st.none(), st.fixed_dictionaries({"branches": st.lists(BRANCH, max_size=3)})),
    "refresh_start": (st.none(), st.fixed_dictionaries({"call": st.integers(1, 3)})),
    "refresh_fail": (
        st.none(),
        st.fixed_dictionaries({"call": st.integers(1, 3), "error": st.just("RuntimeError")}),
    ),
    "submit": (BRANCH, st.fixed_dictionaries({"attempt": st.integers(1, 3)})),
    "callback": (BRANCH, st.fixed_dictionaries({"inline": st.booleans()})),
    "suspend_check": (
        st.none(),
        st.fixed_dictionaries(
            {"statuses": st.dictionaries(BRANCH, STATUS, max_size=3), "suspend": st.booleans()}
        ),
    ),
    "execute_return": (
        st.none(),
        st.fixed_dictionaries(
            {
                "items": st.dictionaries(
                    BRANCH, st.sampled_from(["SUCCEEDED", "FAILED", "STARTED"]), max_size=3
                ),
                "reason": st.sampled_from(["ALL_COMPLETED", "MIN_SUCCESSFUL_REACHED", None]),
            }
        ),
    ),
    "execute_raise": (
        st.none(),
        st.fixed_dictionaries({"error": st.just("SuspendExecution"), "suspend": st.booleans()}),
    ),
    "thread_crash": (st.none(), st.fixed_dictionaries({"error": st.just("RuntimeError")})),
    "run_end": (
        st.none(),
        st.fixed_dictionaries(
            {
                "status": st.sampled_from(["ok", "deadlock", "hang", "budget"]),
                "main_done": st.booleans(),
            }
        ),
    ),
}


@st.composite
def records(draw: st.DrawFn) -> Record:
    record = Record(branches=draw(st.integers(0, 3)), meta={})
    now = 0.0
    for _ in range(draw(st.integers(0, 24))):
        kind = draw(st.sampled_from(sorted(EVENTS)))
        branch_strategy, data_strategy = EVENTS[kind]
        now += draw(st.sampled_from([0.0, 0.5, 1.0]))
        record.add(
            kind,
            time=now,
            thread=draw(THREADS),
            branch=draw(branch_strategy),
            lock_held=draw(st.booleans()),
            **draw(data_strategy),
        )
    return record


@settings(max_examples=150, deadline=None)
@given(records())
def test_every_check_is_prefix_safe_on_arbitrary_records(record: Record) -> None:
    for inv in CATALOG:
        full = inv.check(record)
        if full is not None:
            assert full.invariant == inv.name
            assert 0 <= full.seq < len(record)
        for cut in range(len(record) + 1):
            expected = full if full is not None and full.seq < cut else None
            assert inv.check(_prefix(record, cut)) == expected, (inv.name, cut)


def _prefix(record: Record, cut: int) -> Record:
    """The record as the harness would have seen it after `cut` events."""
    return Record(branches=record.branches, events=record.events[:cut], meta=record.meta)
