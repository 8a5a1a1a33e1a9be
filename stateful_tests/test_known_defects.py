"""Self-tests of the sign-off on known defects, and the recorded verdict of every version.

Each canonical scenario is explored exhaustively under a delay bound (every schedule that
deviates at most `BOUND` times from the default one). The set of invariants each version breaks
is recorded here as observed; a change to the SDK, the runtime or an invariant that moves a
verdict fails CI until the change is understood and docs/findings.md is updated. Nothing is
narrowed to make a finding disappear: the search is the same for every version.
"""

from __future__ import annotations

from functools import cache

import pytest

from scheduler.target import load, resolve
from stateful_tests.scenarios import EXTRA_DELAYS, canonical
from stateful_tests.signoff import systematic

BOUND = 1
MAX_STEPS = 10_000

# Observed with `BOUND` = 1 (plus EXTRA_DELAYS) over every canonical scenario; docs/findings.md
# explains each.
EXPECTED: dict[str, frozenset[str]] = {
    "1.5.0": frozenset(
        {
            "no_deadlock",
            "no_hang_on_refresh_failure",
            "no_thread_crash",
            "no_lost_resume",
            "no_refresh_under_lock",
            "one_refresh_per_wave",
            "outcome_matches_completion",
            "no_hang",
            "drain_whole_wave",
            "no_overdue_resume",
            "no_callback_error",
        }
    ),
    "1.6.0": frozenset(
        {
            "no_suspended_off_heap",
            "no_hang_on_refresh_failure",
            "no_thread_crash",
            "no_lost_resume",
            "no_resume_after_exit",
            "outcome_matches_completion",
            "no_hang",
            "no_callback_error",
        }
    ),
}
EXPECTED["1.7.0"] = EXPECTED["1.6.0"]  # its timer logic equals 1.6.0's


@cache
def explore(version: str, scenario_name: str) -> dict[str, int]:
    """Invariant -> fewest deviations (delays) with which the scenario breaks it."""
    delays = BOUND + EXTRA_DELAYS.get(scenario_name, 0)
    sdk = load(resolve(version))
    found, _ = systematic(sdk, canonical()[scenario_name], delays, MAX_STEPS)
    return {name: bound for name, (bound, _) in found.items()}


def verdict(version: str) -> frozenset[str]:
    broken: set[str] = set()
    for name in canonical():
        broken |= set(explore(version, name))
    return frozenset(broken)


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_recorded_verdict(version: str) -> None:
    assert verdict(version) == EXPECTED[version]


@pytest.mark.parametrize(
    ("invariant", "scenario", "delays"),
    [
        ("no_deadlock", "wave", 1),  # the done-callback runs inline on the timer thread
        ("no_hang_on_refresh_failure", "refresh-fails", 0),
        ("no_refresh_under_lock", "wave", 0),
        ("one_refresh_per_wave", "wave", 0),
    ],
)
def test_known_150_defect_is_found_with_fewest_deviations(
    invariant: str, scenario: str, delays: int
) -> None:
    assert explore("1.5.0", scenario).get(invariant) == delays


@pytest.mark.parametrize("version", ["1.6.0", "1.7.0"])
@pytest.mark.parametrize(
    "invariant",
    [
        "no_deadlock",
        "no_refresh_under_lock",
        "one_refresh_per_wave",
        "drain_whole_wave",
        "one_refresh_per_drain",
        "no_submit_without_refresh",
        "no_double_resume",
        "no_stale_status_at_release",
        "no_overdue_resume",
        "no_hang_without_faults",
    ],
)
def test_the_fix_holds_where_it_claims(version: str, invariant: str) -> None:
    """The change's own claims: no lock held across the refresh, one refresh per wave that
    drains everything due, no self-deadlock, no double resume, pop and reset done in one lock
    hold, due resumes served promptly, over every schedule within the bound."""
    assert invariant not in verdict(version)


def test_serial_resumes_make_due_branches_late_on_150_only() -> None:
    """The issue's throughput defect as a timeliness property: with a 0.5 s refresh and three
    timers due together, 1.5.0 (one refresh per resume, under the lock) resumes the third more
    than one round trip late with no preemption at all; one refresh per wave never does."""
    assert explore("1.5.0", "slow-refresh-wave").get("no_overdue_resume") == 0
    for version in ("1.6.0", "1.7.0"):
        assert "no_overdue_resume" not in explore(version, "slow-refresh-wave")


@pytest.mark.parametrize("version", ["1.6.0", "1.7.0"])
def test_the_lock_free_reader_sees_a_popped_branch_with_one_preemption(version: str) -> None:
    """F5 without eager time: one preemption between the timer's pop and its reset to PENDING
    lets a done-callback's `should_execution_suspend` read the branch off the heap."""
    assert explore(version, "suspend-during-refresh").get("no_suspended_off_heap") == 1
    assert "no_stale_status_at_release" not in explore(version, "suspend-during-refresh")


def test_the_refresh_hang_needs_no_preemption_on_any_version() -> None:
    """The 1.6.0 fix catches `Exception`; the real failure is a BaseException."""
    for version in EXPECTED:
        assert explore(version, "refresh-fails").get("no_hang_on_refresh_failure") == 0


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_a_runtime_error_mock_hides_the_refresh_hang(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint subsystem that fails with RuntimeError (an Exception) instead of the real
    BackgroundThreadError. Every later checkpoint fails too, branches included, so the branches
    fail and the map ends: no version hangs, while with the real failure every version does."""
    import scheduler.adapter_v1 as adapter

    monkeypatch.setattr(adapter, "checkpoint_failure", lambda sdk: RuntimeError("mocked"))
    sdk = load(resolve(version))
    found, _ = systematic(sdk, canonical()["refresh-fails"], 0, MAX_STEPS)
    assert "no_hang_on_refresh_failure" not in found


# The SDK's own fix test (1.6.0+) fails only the refresh, with a Mock raising RuntimeError.
REFRESH_ONLY_MOCK_HANGS = {"1.5.0": True, "1.6.0": False, "1.7.0": False}


@pytest.mark.parametrize("version", sorted(REFRESH_ONLY_MOCK_HANGS))
def test_the_sdk_tests_refresh_only_mock(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the wave's refresh raises RuntimeError; branch checkpoints keep working. 1.6.0's
    `except Exception` catches it and execute() re-raises it, so the fix's test passes; 1.5.0
    has no handler, its timer thread dies and execute() hangs (docs/peer-tests.md measured the
    same on real threads). The real failure, a BaseException, hangs all three."""
    import scheduler.adapter_v1 as adapter

    def refresh_only(self: adapter.CheckpointSubsystem) -> BaseException:
        raise RuntimeError("resume refresh failed")

    monkeypatch.setattr(adapter.CheckpointSubsystem, "fail", refresh_only)
    sdk = load(resolve(version))
    found, _ = systematic(sdk, canonical()["refresh-fails"], 0, MAX_STEPS)
    assert ("no_hang" in found) is REFRESH_ONLY_MOCK_HANGS[version]
    assert ("no_thread_crash" in found) is REFRESH_ONLY_MOCK_HANGS[version]
