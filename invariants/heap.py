"""The pending-resume heap: the one structure the scheduler lock exists to protect."""

from __future__ import annotations

from invariants.base import Violation, invariant
from scheduler.record import Record

HEAP_KINDS = frozenset({"heap_push", "heap_pop", "heap_clear"})


@invariant
def heap_mutation_under_lock(record: Record) -> Violation | None:
    """Every change to the resume heap happens under the scheduler lock.

    Violated at the first `heap_push`, `heap_pop` or `heap_clear` whose thread does not hold the
    scheduler lock (`lock_held` False). The issue's safety argument rests on this: the lock is
    said to protect only the heap, so the heap must never change outside it.
    """
    for event in record:
        if event.kind in HEAP_KINDS and not event.lock_held:
            target = f"branch {event.branch}" if event.branch is not None else "the heap"
            return Violation(
                "heap_mutation_under_lock",
                f"{event.kind} for {target} on thread {event.thread} without the scheduler lock",
                event.seq,
                "heapq operations are not atomic: a push racing a pop can corrupt the heap "
                "order or lose an entry. The narrowed lock in 1.6.0 is only safe if every heap "
                "change still happens while holding it.",
            )
    return None
