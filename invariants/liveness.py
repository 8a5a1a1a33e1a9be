"""Liveness: `execute()` returns or raises, and no controlled thread dies on the way."""

from __future__ import annotations

from invariants.base import Violation, invariant
from invariants.scheduler_view import is_exit, is_fault
from scheduler.record import Event, Record


@invariant
def no_deadlock(record: Record) -> Violation | None:
    """`execute()` is never stuck with every thread blocked.

    Violated at the `run_end` event when its `status` is "deadlock" (no thread could run and
    none was waiting on a timeout) and `main_done` is False (`execute()` never exited).
    """
    for event in record:
        if event.kind == "run_end":
            if event.get("status") == "deadlock" and not event.get("main_done"):
                return Violation(
                    "no_deadlock",
                    "deadlock: every thread blocked and execute() never returned",
                    event.seq,
                    "The run ended with every controlled thread blocked on a lock, event or "
                    "future that no runnable thread could release, while execute() was still "
                    "waiting. In production the invocation would sit idle until the function "
                    "timeout.",
                )
            return None
    return None


@invariant
def no_hang(record: Record) -> Violation | None:
    """`execute()` returns or raises in bounded virtual time.

    Violated at the `run_end` event when its `status` is "hang" (only timed polling remained,
    so virtual time could advance forever without progress) or "budget" (past the exploration's
    horizon) and `main_done` is False (`execute()` never exited).
    """
    for event in record:
        if event.kind == "run_end":
            status = event.get("status")
            if status in ("hang", "budget") and not event.get("main_done"):
                what = (
                    "hang: only timed polling remained"
                    if status == "hang"
                    else "budget: the horizon passed"
                )
                return Violation(
                    "no_hang",
                    f"{what} and execute() never returned (virtual t={event.time:g})",
                    event.seq,
                    "execute() kept waiting for its completion event, but nothing that could "
                    "set it was left to happen: the threads only polled on timeouts. The "
                    "invocation would run until the function timeout and be retried.",
                )
            return None
    return None


@invariant
def no_hang_without_faults(record: Record) -> Violation | None:
    """`no_hang`, judged only on runs without faults.

    Violated where `no_hang` is, provided no *fault* (`refresh_fail`, a "checkpoint_failure"
    attempt's `attempt_end`, `thread_crash`) happened before the `run_end`. A release whose
    only hangs follow injected failures is clean here, so a livelock or lost wake-up in a
    fault-free run stays visible next to it.
    """
    for event in record:
        if is_fault(event):
            return None
        if event.kind == "run_end":
            found = no_hang.check(record)
            if found is None:
                return None
            return Violation(
                "no_hang_without_faults",
                f"{found.summary}; no failure was injected",
                found.seq,
                f"{found.explanation} Nothing failed in this run: no refresh failure, no "
                "checkpoint failure, no crashed thread.",
            )
    return None


@invariant
def no_hang_on_refresh_failure(record: Record) -> Violation | None:
    """A failed state refresh makes `execute()` exit (the issue's "no hang" claim).

    Violated when a `refresh_fail` happened and `execute()` had not exited (no `execute_return`
    or `execute_raise`) by the `run_end` event, whatever its status. The failure happens
    earlier, but the violation is placed at `run_end`, the first moment the missing exit is
    certain; the summary names the failed refresh.
    """
    failure: Event | None = None
    for event in record:
        if is_exit(event):
            return None
        if event.kind == "refresh_fail" and failure is None:
            failure = event
        elif event.kind == "run_end":
            if failure is None:
                return None
            return Violation(
                "no_hang_on_refresh_failure",
                f"refresh {failure.get('call')} failed with {failure.get('error')} at seq "
                f"{failure.seq} and execute() never exited (run_end {event.get('status')})",
                event.seq,
                "The issue claims that when the shared refresh fails, the timer records the "
                "error and wakes execute() to re-raise it. Here the refresh failed but "
                "execute() neither returned nor raised before the run ended, so the failure "
                "hangs the invocation instead of failing it.",
            )
    return None


@invariant
def no_thread_crash(record: Record) -> Violation | None:
    """No controlled thread dies with an uncaught exception.

    Violated at the first `thread_crash` event (the timer thread, a pool worker or a callback
    thread ended by an exception nobody caught).
    """
    for event in record:
        if event.kind == "thread_crash":
            return Violation(
                "no_thread_crash",
                f"thread {event.thread} crashed with {event.get('error')}{_one_line(event)}",
                event.seq,
                f"Thread {event.thread} ended with an uncaught {event.get('error')}. If it is "
                "the timer thread, every pending timed resume dies with it; if it is a worker "
                "or callback, the branch's status and the completion counters may never be "
                "updated.",
            )
    return None


def _one_line(event: Event) -> str:
    """The crash message's first line, as a `: message` suffix (summaries are one line)."""
    lines = str(event.get("message") or "").splitlines()
    return f": {lines[0][:160]}" if lines else ""
