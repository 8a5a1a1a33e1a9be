"""Done-callbacks: the code that moves a branch on after its attempt must not fail silently."""

from __future__ import annotations

from invariants.base import Violation, invariant
from scheduler.record import Record


@invariant
def no_callback_error(record: Record) -> Violation | None:
    """No done-callback raises.

    Violated at the first `callback_error` event: `_on_task_complete` raised. A future logs
    and drops an `Exception` raised by a done-callback (CPython's `Future._invoke_callbacks`),
    so it reaches nobody; a `BaseException` escapes instead and kills the thread that ran the
    callback. Either way the branch's status, the completion counters or its timed resume may
    be left half-updated.
    """
    for event in record:
        if event.kind == "callback_error":
            return Violation(
                "no_callback_error",
                f"the done-callback of branch {event.branch} raised {event.get('error')} on "
                f"thread {event.thread}",
                event.seq,
                f"_on_task_complete for branch {event.branch} raised {event.get('error')}. "
                "Whatever the callback had left to do (record the outcome, schedule the "
                "resume, wake execute()) is skipped: the future logs and drops an Exception, "
                "and a BaseException kills the thread that ran the callback.",
            )
    return None
