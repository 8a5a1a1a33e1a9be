"""The pytest plugin, driven through pytester: options, fixtures, --replay, failure reports.

Each test runs an inner pytest session in a temporary folder (in-process, so the checker's
packages and the SDK cache are the ones of this checkout) with `-p stateful_tests.plugin`.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from stateful_tests.replay import replay_file
from stateful_tests.report import replay_payload, write_replay
from stateful_tests.signoff import BUDGETS, GRANULARITY
from stateful_tests.test_timeline import DEADLOCK, MAX_STEPS, deadlock_case

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "stateful_tests.plugin")

DEADLOCK_TEST = """
from interleavings.strategies import DFS, PreemptionBound
from scheduler.scenario import Attempt, Scenario
from scheduler.target import load, resolve
from stateful_tests.signoff import run_case

SCENARIO = Scenario(
    branches=(
        (Attempt("value", duration=2.0),),
        (Attempt("timed", delay=1.0), Attempt("timed", delay=1.0)),
    )
)


def test_no_schedule_breaks_an_invariant():
    sdk = load(resolve("1.5.0"))
    strategy = PreemptionBound(DFS(), 1)
    while strategy.begin():
        outcome, run, violations = run_case(sdk, SCENARIO, strategy, 10_000)
        assert not violations, violations[0].summary
"""


@pytest.fixture(scope="module")
def deadlock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 1.5.0 deadlock as `check` writes it."""
    outcome, run, violation = deadlock_case()
    payload = replay_payload(
        run.sdk,
        DEADLOCK,
        violation,
        outcome,
        run,
        granularity=GRANULARITY,
        max_steps=MAX_STEPS,
    )
    path = tmp_path_factory.mktemp("replays") / "no_deadlock.json"
    return write_replay(path, list(outcome.choices), payload)


def test_options_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*PLUGIN, "--help")
    result.stdout.fnmatch_lines(
        ["*--sdk=SPEC*", "*--budget=*", "*--replay=FILE*", "*--db=URL*"], consecutive=False
    )


def test_fixtures_follow_the_options(pytester: pytest.Pytester) -> None:
    examples = BUDGETS["deep"].examples
    pytester.makepyfile(
        f"""
        def test_chosen(sdk, budget):
            assert sdk.target.version == "1.5.0"
            assert (budget.name, budget.examples) == ("deep", {examples})
        """
    )
    result = pytester.runpytest(*PLUGIN, "--sdk", "1.5.0", "--budget", "deep")
    result.assert_outcomes(passed=1)


def test_fixture_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from stateful_tests.signoff import sign_off

        def test_defaults(sdk, budget):
            assert sdk.target.version == "1.6.0"
            assert (budget.name, budget.max_steps) == ("quick", 6_000)
        """
    )
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=1)


def test_unusable_sdk_is_one_line_and_exit_2(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(sdk):\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--sdk", str(pytester.path / "no-such-sdk"))
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*--sdk: SDK path does not exist: *no-such-sdk*"])


def test_replay_fails_while_the_violation_reproduces(
    pytester: pytest.Pytester, deadlock_file: Path
) -> None:
    pytester.makepyfile("def test_other():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--replay", str(deadlock_file))
    result.assert_outcomes(failed=1, deselected=1)  # no tests named: only the replay runs
    result.stdout.fnmatch_lines(
        [
            f"*the counterexample still reproduces: {deadlock_file}",
            "VIOLATION no_deadlock: *",
            "*!! no_deadlock breaks here",
            f"replay with: nox -s replay -- {deadlock_file}",
        ],
        consecutive=False,
    )


def test_replay_passes_once_the_sdk_is_fixed(
    pytester: pytest.Pytester, deadlock_file: Path
) -> None:
    result = pytester.runpytest(*PLUGIN, "--sdk", "1.6.0", "--replay", str(deadlock_file))
    result.assert_outcomes(passed=1)


def test_replay_runs_beside_named_tests(pytester: pytest.Pytester, deadlock_file: Path) -> None:
    test_file = pytester.makepyfile("def test_other():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, str(test_file), "--replay", str(deadlock_file))
    result.assert_outcomes(passed=1, failed=1)


def test_corrupt_replay_file_is_one_clear_line(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    result = pytester.runpytest(*PLUGIN, "--replay", str(bad))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not a replay file: *bad.json*"])


def test_missing_replay_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*PLUGIN, "--replay", "nowhere.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--replay: replay file not found: nowhere.json*"])


def test_failing_executor_test_reports_trace_and_replay_command(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTERLEAVINGS_FAILURES", raising=False)
    pytester.makepyfile(DEADLOCK_TEST)
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "- executor case -" in out
    assert "VIOLATION " in out and "sdk line" in out and "breaks here" in out
    command = next(line for line in out.splitlines() if line.startswith("replay with: "))
    path = Path(command.removeprefix("replay with: nox -s replay -- "))
    assert path.is_file() and path.parent == pytester.path / "failures" / "pytest"
    assert path.with_suffix(".html").is_file()
    assert "(the last of 1 executor case run)" in out  # the first schedule already breaks one
    # the file is a real counterexample: replaying it reproduces the violation (exit 1)
    with redirect_stderr(io.StringIO()):
        assert replay_file(str(path), None, out=io.StringIO()) == 1


def test_failing_executor_test_without_violation_shows_the_last_case(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from interleavings.strategies import DFS
        from scheduler.scenario import Attempt, Scenario
        from scheduler.target import load, resolve
        from stateful_tests.signoff import run_case

        def test_expects_something_else():
            sdk = load(resolve("1.6.0"))
            scenario = Scenario(branches=((Attempt("value"),),))
            outcome, run, violations = run_case(sdk, scenario, DFS(), 2_000)
            assert not violations
            assert outcome.steps == 0, "a deliberately wrong expectation"
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- executor case -*",
            "*!! no violation",
            "no invariant broken in the last executor case (the last of 1 executor case run)*",
        ],
        consecutive=False,
    )
    assert not (pytester.path / "failures").exists()


def test_no_section_for_a_test_without_executor_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert 1 == 2\n")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    assert "executor case" not in result.stdout.str()
