"""The invariant catalog: named predicates over the event record of one run.

Invariants read only `scheduler.record`; they never see the live runtime or the SDK. The
catalog lists the design's fourteen names in the design's order, then later additions.
"""

from __future__ import annotations

from invariants.base import Invariant, Violation
from invariants.callback import no_callback_error
from invariants.heap import heap_mutation_under_lock
from invariants.liveness import (
    no_deadlock,
    no_hang,
    no_hang_on_refresh_failure,
    no_hang_without_faults,
    no_thread_crash,
)
from invariants.outcome import outcome_matches_completion
from invariants.refresh import no_refresh_under_lock, no_submit_after_failed_refresh
from invariants.resume import (
    no_double_resume,
    no_early_resume,
    no_lost_resume,
    no_overdue_resume,
    no_resume_after_exit,
    no_unscheduled_timed_suspend,
)
from invariants.suspend import (
    no_spurious_suspend,
    no_stale_status_at_release,
    no_suspended_off_heap,
    suspend_decision_consistent,
)
from invariants.wave import (
    drain_whole_wave,
    no_submit_without_refresh,
    one_refresh_per_drain,
    one_refresh_per_wave,
)
from scheduler.record import Record

CATALOG: tuple[Invariant, ...] = (
    no_double_resume,
    no_suspended_off_heap,
    no_spurious_suspend,
    no_resume_after_exit,
    no_deadlock,
    no_hang,
    no_hang_on_refresh_failure,
    no_thread_crash,
    no_lost_resume,
    no_early_resume,
    no_refresh_under_lock,
    one_refresh_per_wave,
    no_submit_after_failed_refresh,
    outcome_matches_completion,
    heap_mutation_under_lock,
    no_overdue_resume,
    no_hang_without_faults,
    no_stale_status_at_release,
    suspend_decision_consistent,
    drain_whole_wave,
    one_refresh_per_drain,
    no_submit_without_refresh,
    no_callback_error,
    no_unscheduled_timed_suspend,
)

BY_NAME: dict[str, Invariant] = {inv.name: inv for inv in CATALOG}


def check_all(record: Record) -> list[Violation]:
    """The earliest violation of each invariant that the record breaks, in catalog order."""
    found = (inv.check(record) for inv in CATALOG)
    return [violation for violation in found if violation is not None]


__all__ = ["BY_NAME", "CATALOG", "Invariant", "Violation", "check_all"]
