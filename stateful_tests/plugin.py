"""pytest plugin: the checker's options and fixtures, replayed counterexamples, readable failures.

Register it in the root `conftest.py` (`pytest_plugins = ["stateful_tests.plugin"]`) or load it
with `-p stateful_tests.plugin`. It gives every test suite that checks an SDK the same interface
as the command-line tools (design.md):

- `--sdk SPEC` and the session fixture `sdk`: the loaded target (default 1.6.0); a SPEC that
  cannot be used ends the session with one line and exit 2, as `check` does.
- `--budget quick|ci|deep` and the fixture `budget`: the sign-off budget (default quick: tests
  should be fast; `check` defaults to ci).
- `--db URL` and the fixture `example_db`: the Hypothesis example database (database.py).
- `--replay FILE` (repeatable): one test item per file that replays it and FAILS while the
  recorded violation still reproduces. It is how a fixed bug stays fixed in CI. Given without
  test paths, only the replays run.
- A failing test that ran executor cases gets a report section `executor case`: the readable
  trace of its last case that broke an invariant (else of its last case), and when one broke,
  a replay file under `failures/pytest/` with the exact command `nox -s replay -- <file>`.
"""

from __future__ import annotations

import io
import os
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from interleavings.execution import Outcome
from invariants import check_all
from scheduler.adapter_v1 import ExecutorRun
from scheduler.target import DEFAULT_SPEC, SdkModules, TargetError, load, resolve
from stateful_tests.database import DB_HELP, DatabaseError, example_database
from stateful_tests.report import block, render_trace, replay_payload, write_replay
from stateful_tests.signoff import BUDGETS, Budget

DEFAULT_BUDGET = "quick"
KEEP_CASES = 16  # executor cases remembered per test: a search runs thousands
EXIT_USAGE = 2


@dataclass(frozen=True)
class NamedBudget(Budget):
    """A sign-off budget that knows its name, for the APIs that take the name (`sign_off`)."""

    name: str = DEFAULT_BUDGET


@dataclass
class Case:
    """One executor run a test made: enough to explain it and to write its replay file."""

    run: ExecutorRun
    outcome: Outcome
    max_steps: int


class CaseTracker:
    """Remembers the last executor runs of the current test.

    Runs are noticed by wrapping `ExecutorRun.__init__` for the duration of a test, because
    every way of running an executor (`run_executor`, `run_case`, the sign-off) builds one, and
    callers import `run_executor` by name, so wrapping that function would miss them.
    """

    def __init__(self, keep: int = KEEP_CASES) -> None:
        self.cases: deque[Case] = deque(maxlen=keep)
        self.total = 0

    def reset(self) -> None:
        self.cases.clear()
        self.total = 0

    @contextmanager
    def watching(self) -> Iterator[None]:
        tracker = self
        original = ExecutorRun.__init__

        def init(run: ExecutorRun, *args: Any, **kwargs: Any) -> None:
            original(run, *args, **kwargs)
            end = run.recorder.end

            def noticed_end(ex: Any, outcome: Outcome) -> None:
                end(ex, outcome)
                tracker.total += 1
                tracker.cases.append(Case(run, outcome, ex.max_steps))

            run.recorder.end = noticed_end  # type: ignore[method-assign]

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ExecutorRun, "__init__", init)
            yield


TRACKER = pytest.StashKey[CaseTracker]()


# ------------------------------------------------------------------------------ options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interleavings", "interleavings model checker")
    group.addoption(
        "--sdk",
        dest="interleavings_sdk",
        default=None,
        metavar="SPEC",
        help=f"SDK under test: version, wheel, package dir or checkout (default {DEFAULT_SPEC})",
    )
    group.addoption(
        "--budget",
        dest="interleavings_budget",
        choices=sorted(BUDGETS),
        default=DEFAULT_BUDGET,
        help=f"search budget of sign-off tests (default {DEFAULT_BUDGET})",
    )
    group.addoption(
        "--replay",
        dest="interleavings_replay",
        action="append",
        default=[],
        metavar="FILE",
        help="replay this counterexample as a test that fails while it still reproduces",
    )
    group.addoption("--db", dest="interleavings_db", default=None, metavar="URL", help=DB_HELP)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs headless Chromium (nox -s browser)")
    config.addinivalue_line("markers", "redis: needs redis-server and the redis package")
    for file in config.getoption("interleavings_replay") or ():
        if not Path(file).is_file():
            raise pytest.UsageError(f"--replay: replay file not found: {file}")
    config.stash[TRACKER] = CaseTracker()


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def sdk(pytestconfig: pytest.Config) -> SdkModules:
    """The SDK under test, loaded once per session from `--sdk` (default 1.6.0)."""
    spec = pytestconfig.getoption("interleavings_sdk") or DEFAULT_SPEC
    try:
        return load(resolve(spec))
    except TargetError as exc:
        pytest.exit(f"--sdk: {exc}", returncode=EXIT_USAGE)


@pytest.fixture(scope="session")
def budget(pytestconfig: pytest.Config) -> NamedBudget:
    """The sign-off budget chosen with `--budget`; `.name` for `sign_off(budget=...)`."""
    name = pytestconfig.getoption("interleavings_budget")
    return NamedBudget(**vars(BUDGETS[name]), name=name)


@pytest.fixture(scope="session")
def example_db(pytestconfig: pytest.Config) -> Any:
    """Hypothesis's example database from `--db` / $INTERLEAVINGS_DB (database.py)."""
    try:
        return example_database(pytestconfig.getoption("interleavings_db"))
    except DatabaseError as exc:
        pytest.exit(f"--db: {exc}", returncode=EXIT_USAGE)


# ------------------------------------------------------------------------------ --replay


class ReplayReproduces(Exception):
    """The recorded violation still happens."""


class ReplayUnusable(Exception):
    """The file or the SDK cannot be replayed; the message is one line."""


class ReplayItem(pytest.Item):
    """Replays one counterexample (stateful_tests/replay.py) and fails if it reproduces."""

    def __init__(self, *, replay_file: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replay_file = replay_file
        self.output = ""

    def runtest(self) -> None:
        from stateful_tests.replay import replay_file

        out, err = io.StringIO(), io.StringIO()
        spec = self.config.getoption("interleavings_sdk")
        with redirect_stderr(err):
            try:
                code = replay_file(str(self.replay_file), spec, out=out)
            except SystemExit:  # replay's own one-line error (corrupt file, unusable SDK)
                lines = err.getvalue().strip().splitlines()
                raise ReplayUnusable(lines[-1] if lines else "replay failed") from None
        self.output = out.getvalue()
        if err.getvalue().strip():
            self.add_report_section("call", "replay warnings", err.getvalue())
        if code == 1:
            raise ReplayReproduces(self.output)
        self.add_report_section("call", "replay", self.output)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ReplayReproduces):
            return (
                f"the counterexample still reproduces: {self.replay_file}\n\n{self.output}\n"
                f"replay with: nox -s replay -- {self.replay_file}"
            )
        if isinstance(excinfo.value, ReplayUnusable):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.replay_file, None, f"replay {self.replay_file}"


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    files = config.getoption("interleavings_replay") or []
    if not files:
        return
    replays = [
        ReplayItem.from_parent(
            session, name=f"replay[{f}]", nodeid=f"{f}::replay", replay_file=Path(f)
        )
        for f in files
    ]
    if config.args_source != pytest.Config.ArgsSource.ARGS:  # no tests named: replays only
        if items:
            config.hook.pytest_deselected(items=list(items))
        items[:] = replays
    else:
        items.extend(replays)


# ------------------------------------------------------------------------------ failures


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    tracker = item.config.stash[TRACKER]
    tracker.reset()
    with tracker.watching():
        yield
    tracker.reset()  # runs hold whole traces: drop them with the test


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    made = yield
    report = made.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    if isinstance(item, ReplayItem):
        return
    tracker = item.config.stash.get(TRACKER, None)
    if tracker is None or not tracker.cases:
        return
    try:
        text = explain(item, tracker)
    except Exception as exc:  # explaining must never turn a test failure into an internal error
        text = f"could not explain the executor case: {type(exc).__name__}: {exc}"
    report.sections.append(("executor case", text))


def failures_root(config: pytest.Config) -> Path:
    return Path(os.environ.get("INTERLEAVINGS_FAILURES", str(config.rootpath / "failures")))


def explain(item: pytest.Item, tracker: CaseTracker) -> str:
    """The trace of the test's last case that broke an invariant, written as a replay file."""
    of = f"(the last of {tracker.total} executor case{'s' if tracker.total != 1 else ''} run)"
    for case in reversed(tracker.cases):
        violations = check_all(case.run.record)
        if not violations:
            continue
        violation = violations[0]
        run, outcome = case.run, case.outcome
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")
        path = failures_root(item.config) / "pytest" / f"{name}--{violation.invariant}.json"
        payload = replay_payload(
            run.sdk,
            run.scenario,
            violation,
            outcome,
            run,
            granularity=run.granularity,
            max_steps=case.max_steps,
        )
        write_replay(path, list(outcome.choices), payload)
        text = block(violation, run.scenario, run, outcome, path)
        also = f"; also broken: {', '.join(v.invariant for v in violations[1:])}"
        return (
            f"{text}\n{of}{also if len(violations) > 1 else ''}\n"
            f"replay with: nox -s replay -- {path}"
        )
    case = tracker.cases[-1]
    last = len(case.outcome.trace.steps) - 1
    trace = render_trace(case.outcome, last, "no violation", context=25, run=case.run)
    return f"{trace}\nno invariant broken in the last executor case {of}; no replay file written"
