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
        }
    ),
    "1.6.0": frozenset(
        {
            "no_hang_on_refresh_failure",
            "no_thread_crash",
            "no_lost_resume",
            "no_resume_after_exit",
            "outcome_matches_completion",
            "no_hang",
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
    ["no_deadlock", "no_refresh_under_lock", "one_refresh_per_wave", "no_double_resume"],
)
def test_the_fix_holds_where_it_claims(version: str, invariant: str) -> None:
    """The change's own claims: no lock held across the refresh, one refresh per wave, no
    self-deadlock, no double resume, over every schedule within the bound."""
    assert invariant not in verdict(version)


def test_the_refresh_hang_needs_no_preemption_on_any_version() -> None:
    """The 1.6.0 fix catches `Exception`; the real failure is a BaseException."""
    for version in EXPECTED:
        assert explore(version, "refresh-fails").get("no_hang_on_refresh_failure") == 0


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_a_runtime_error_mock_hides_the_refresh_hang(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the fix's own test passes: it mocks the failure as a RuntimeError, an Exception. With
    that fake no version hangs; with the real BackgroundThreadError every version does."""
    import scheduler.adapter_v1 as adapter

    monkeypatch.setattr(adapter, "checkpoint_failure", lambda sdk: RuntimeError("mocked"))
    sdk = load(resolve(version))
    found, _ = systematic(sdk, canonical()["refresh-fails"], 0, MAX_STEPS)
    assert "no_hang_on_refresh_failure" not in found
