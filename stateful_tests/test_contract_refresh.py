"""Contract: the refresh fault model raises what the REAL ExecutionState raises.

The model checker injects refresh failures with `scheduler.refresh.checkpoint_failure` instead of
running the SDK's checkpoint thread. That is only sound if the injected exception is the one the
real `ExecutionState.create_checkpoint()` raises once its background checkpointing has failed.
These tests build the real class of each released 1.x target, start `checkpoint_batches_forever`
on a `ThreadPoolExecutor` as the SDK's `execution.py` does, make one checkpoint fail, and compare.

Real threads run here, so every wait is bounded and every thread is joined before a test ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.refresh import checkpoint_failure, failure_message
from scheduler.target import SdkModules, loaded, resolve

VERSIONS = ("1.5.0", "1.6.0", "1.7.0")
WAIT_S = 10.0  # generous bound for any single wait; a healthy run takes milliseconds
ARN = "arn:aws:lambda:us-east-1:123456789012:function:contract:1/durable-execution/run/inv"


@pytest.fixture(scope="module", params=VERSIONS)
def sdk(request: pytest.FixtureRequest) -> Iterator[SdkModules]:
    """The real modules of one released target, fetched into the cache when absent."""
    with loaded(resolve(request.param)) as modules:
        yield modules


class RaisingClient:
    """A durable service client whose checkpoint call fails with a plain RuntimeError."""

    def __init__(self) -> None:
        self.calls = 0

    def checkpoint(self, **_: Any) -> Any:
        self.calls += 1
        raise RuntimeError("checkpoint service unavailable")

    def get_execution_state(self, **_: Any) -> Any:
        raise AssertionError("the contract never pages execution state")


@contextlib.contextmanager
def stubbed_lambda_client(sdk: SdkModules) -> Iterator[Any]:
    """The SDK's real LambdaClient over a stubbed boto3 client that answers one HTTP 500."""
    boto_client = boto3.client(
        "lambda",
        region_name="us-east-1",
        aws_access_key_id="contract",
        aws_secret_access_key="contract",
    )
    with Stubber(boto_client) as stubber:
        stubber.add_client_error(
            "checkpoint_durable_execution",
            service_error_code="ServiceException",
            service_message="injected by the refresh contract",
            http_status_code=500,
        )
        yield sdk.lambda_service.LambdaClient(client=boto_client)
        stubber.assert_no_pending_responses()  # exactly one checkpoint reached the service


def execution_state(sdk: SdkModules, client: Any) -> Any:
    """The real ExecutionState, built with the arguments this version's constructor takes."""
    state_class = sdk.state.ExecutionState
    kwargs: dict[str, Any] = {
        "durable_execution_arn": ARN,
        "initial_checkpoint_token": "token-0",
        "operations": {},
        "service_client": client,
        # No batching window: the first queued checkpoint is sent at once.
        "batcher_config": sdk.state.CheckpointBatcherConfig(max_batch_time_seconds=0.0),
    }
    if "plugin_executor" in inspect.signature(state_class).parameters:
        assert sdk.plugin is not None
        kwargs["plugin_executor"] = sdk.plugin.PluginExecutor(None)
    return state_class(**kwargs)


@contextlib.contextmanager
def checkpointing(state: Any) -> Iterator[concurrent.futures.Future[None]]:
    """Run checkpoint_batches_forever on a pool thread as execution.py does; always stop it."""
    before = set(threading.enumerate())
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="contract")
    background = pool.submit(state.checkpoint_batches_forever)
    try:
        yield background
    finally:
        state.stop_checkpointing()  # the loop polls this every 100 ms
        done, _ = concurrent.futures.wait([background], timeout=WAIT_S)
        if not done:
            pool.shutdown(wait=False, cancel_futures=True)
            pytest.fail(f"checkpoint thread still running {WAIT_S} s after stop_checkpointing")
        pool.shutdown(wait=True)  # the worker is idle: this join returns at once
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        assert not leaked, f"threads outlived the test: {leaked}"


def raised_on_thread(call: Callable[[], object]) -> BaseException | None:
    """What call raises on another thread, the way the executor's resubmitter calls it.

    The thread is a daemon so that a broken contract (a call that never returns) fails this
    test instead of hanging the interpreter at exit.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # the point: BackgroundThreadError is a BaseException
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, name="contract-refresh", daemon=True)
    thread.start()
    thread.join(timeout=WAIT_S)
    if thread.is_alive():
        pytest.fail(f"create_checkpoint() did not return within {WAIT_S} s")
    return outcome[0]


def raised_here(call: Callable[[], object]) -> BaseException | None:
    """What call raises on this thread (safe only when it cannot block)."""
    try:
        call()
    except BaseException as error:
        return error
    return None


def fail_one_checkpoint(state: Any) -> tuple[BaseException | None, BaseException | None]:
    """Drive the real state into the failed condition; return the failing and a later refresh."""
    with checkpointing(state) as background:
        failing = raised_on_thread(state.create_checkpoint)
        # The background loop ends on its own after recording the failure.
        done, _ = concurrent.futures.wait([background], timeout=WAIT_S)
        assert done, "checkpoint_batches_forever kept running after a failed checkpoint"
        # The failure flag is set: this call raises before it enqueues, so it cannot block.
        later = raised_here(state.create_checkpoint)
    return failing, later


def assert_same_failure(sdk: SdkModules, real: BaseException | None, model: BaseException) -> None:
    """The model's exception is indistinguishable from the real one where the executor looks."""
    assert real is not None, "create_checkpoint() returned although checkpointing had failed"
    background_thread_error = sdk.exceptions.BackgroundThreadError
    assert type(real) is background_thread_error, type(real)
    assert type(model) is background_thread_error, type(model)
    assert not isinstance(real, Exception)
    assert not isinstance(model, Exception)
    assert type(model.source_exception) is type(real.source_exception)
    assert model.args == real.args == (failure_message(sdk),)


def test_failed_service_checkpoint_matches_fault_model(sdk: SdkModules) -> None:
    """Through the real LambdaClient: the cause is that version's CheckpointError."""
    with stubbed_lambda_client(sdk) as client:
        state = execution_state(sdk, client)
        failing, later = fail_one_checkpoint(state)

    model = checkpoint_failure(sdk)  # the default cause is what LambdaClient raises
    assert_same_failure(sdk, failing, model)
    assert_same_failure(sdk, later, model)
    assert type(failing.source_exception) is sdk.exceptions.CheckpointError
    assert failing.source_exception.error["Code"] == "ServiceException"  # from the stub
    assert failing.source_exception.is_retryable() == model.source_exception.is_retryable()
    assert failing.source_exception.termination_reason == model.source_exception.termination_reason


def test_failed_client_checkpoint_matches_fault_model(sdk: SdkModules) -> None:
    """With any Exception from the client: it is carried unchanged as source_exception."""
    client = RaisingClient()
    state = execution_state(sdk, client)
    failing, later = fail_one_checkpoint(state)

    cause = RuntimeError("checkpoint service unavailable")
    model = checkpoint_failure(sdk, cause)
    assert_same_failure(sdk, failing, model)
    assert_same_failure(sdk, later, model)
    assert model.source_exception is cause
    assert str(failing.source_exception) == str(cause)
    assert client.calls == 1


def test_failure_is_sticky(sdk: SdkModules) -> None:
    """Every refresh after the failure raises the same stored instance, without a new call."""
    client = RaisingClient()
    state = execution_state(sdk, client)
    failing, later = fail_one_checkpoint(state)

    assert failing is later
    assert client.calls == 1


def test_fault_model_is_per_version(sdk: SdkModules) -> None:
    """The injected class is the target's own, never one left over from another load."""
    model = checkpoint_failure(sdk)
    assert type(model) is sdk.exceptions.BackgroundThreadError
    assert type(model.source_exception) is sdk.exceptions.CheckpointError
    assert type(model).__module__ == sdk.exceptions.__name__
    assert inspect.getfile(type(model)).startswith(str(sdk.target.root))
