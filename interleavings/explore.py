"""Drive many executions of one program with a strategy until a failure or the budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interleavings.execution import Execution, Outcome


@dataclass
class Exploration:
    executions: int
    exhausted: bool  # the strategy ran out of schedules (DFS): the space was fully covered
    failure: Outcome | None
    message: str | None


def run_once(body: Callable[[], Any], strategy: Any, **options: Any) -> Outcome:
    strategy.begin()
    return Execution(strategy, **options).run(body)


def explore(
    make_body: Callable[[], Callable[[], Any]],
    strategy: Any,
    check: Callable[[Outcome], str | None],
    *,
    max_executions: int = 1000,
    **options: Any,
) -> Exploration:
    """`make_body` builds fresh program state per execution; `check` names a failure or None."""
    for n in range(1, max_executions + 1):
        if not strategy.begin():
            return Exploration(n - 1, True, None, None)
        outcome = Execution(strategy, **options).run(make_body())
        message = check(outcome)
        if message is not None:
            return Exploration(n, False, outcome, message)
    return Exploration(max_executions, False, None, None)


def default_check(outcome: Outcome) -> str | None:
    """Deadlock, hang, budget, a crashed thread, or an exception out of the body."""
    if outcome.status != "ok":
        return f"{outcome.status}: {outcome.reason}"
    if outcome.crashes:
        name, exc = outcome.crashes[0]
        return f"thread {name} crashed: {type(exc).__name__}: {exc}"
    if outcome.main_error is not None:
        return f"body raised {type(outcome.main_error).__name__}: {outcome.main_error}"
    return None
