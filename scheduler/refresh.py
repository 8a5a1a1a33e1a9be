"""The refresh fault model: what `create_checkpoint()` raises once checkpointing has failed.

The 1.x executor refreshes through ``execution_state.create_checkpoint()`` once per resume
(1.5.0) or once per wave (1.6.0 and later). A model that injects a refresh failure must raise
exactly what the real `ExecutionState` raises, or the executor under test takes a path it never
takes in production. What the real class does (read in ``state.py`` of 1.5.0, 1.6.0 and 1.7.0, and
the same in 2.0.1 and 3.0.0; proven by ``stateful_tests/test_contract_refresh.py``):

1. The background thread (``checkpoint_batches_forever``) calls the service client's
   ``checkpoint``; when that raises any `Exception` ``e`` it builds ONE
   ``BackgroundThreadError("Checkpoint creation failed", e)`` of that version's ``exceptions``
   module, hands it to every waiter of the failed batch and of both queues, stores it as the
   failure flag, and stops.
2. ``BackgroundThreadError`` derives from `BaseException`, not `Exception`: an
   ``except Exception`` in the executor does not catch it. ``source_exception`` is ``e`` itself,
   a ``CheckpointError`` when the real ``LambdaClient`` failed.
3. The failure is sticky: every later ``create_checkpoint()`` raises that SAME stored instance,
   before enqueuing anything. A model should build one failure per failed subsystem and raise
   it for the failing refresh and for every later one.
4. 1.x only: a ``create_checkpoint()`` that passes the failure check just before the flag is set,
   but enqueues after the background thread drained the queues, waits forever on its
   completion event (no timeout). 2.0.1 closes that window with a lock. A refresh racing the
   failure may therefore hang in 1.x rather than raise; that is real behaviour, not a model bug.

This module only builds the exception; latency, recording and scheduling belong to the wrapper
that drives the executor.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Any

FAILURE_CLASS = "BackgroundThreadError"
DEFAULT_CAUSE_MESSAGE = "injected checkpoint failure"


def checkpoint_failure(sdk_modules: Any, cause: Exception | None = None) -> BaseException:
    """The exception the target's real `create_checkpoint()` raises after a failed checkpoint.

    `sdk_modules` is what `scheduler.target.load` returned. `cause` is what the service client
    raised; by default a retryable ``CheckpointError`` of that version, the class the real
    ``LambdaClient.checkpoint`` raises for any service or network failure.
    """
    exceptions = sdk_modules.exceptions
    if cause is None:
        cause = exceptions.CheckpointError(DEFAULT_CAUSE_MESSAGE)
    failure_class = getattr(exceptions, FAILURE_CLASS)
    return failure_class(failure_message(sdk_modules), cause)


def failure_message(sdk_modules: Any) -> str:
    """The message the target's background thread gives its failure, read from its code."""
    return _message_in(sdk_modules.state.ExecutionState.checkpoint_batches_forever)


@functools.cache
def _message_in(function: Any) -> str:
    """Find ``BackgroundThreadError("<message>", e)`` in the function's source.

    Reading it from the code rather than hard-coding it means a release that rewords the message
    is modelled correctly, and one that changes the shape of the call is refused loudly.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == FAILURE_CLASS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
    raise LookupError(
        f"{function.__module__}.{function.__qualname__} builds no {FAILURE_CLASS}(<message>, e):"
        " the refresh fault model does not know how this SDK reports a failed checkpoint"
    )
