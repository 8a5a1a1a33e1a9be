"""The real-thread baseline as pytest tests, one real run per repetition (pytest-repeat).

Not part of the default suite (it sleeps for real and takes minutes); run it with
`nox -s stress` or `pytest stateful_tests/stress_tests --count N`. A detection of a defect the
model checker also finds on that version is the measurement, not a failure. A test fails when a
run detects a stressed invariant that the model checker does NOT break on that version: either
a defect the model misses or a false alarm of this harness, and both need a human.
"""

from __future__ import annotations

import pytest

from stateful_tests import stress


def _step(request: pytest.FixtureRequest) -> int:
    """pytest-repeat's repetition index, which picks this run's scale."""
    callspec = getattr(request.node, "callspec", None)
    return int(callspec.params.get("__pytest_repeat_step_number", 0)) if callspec else 0


@pytest.mark.parametrize("scenario", list(stress.WEIGHTS))
@pytest.mark.parametrize("version", stress.VERSIONS)
def test_real_threads(
    version: str, scenario: str, request: pytest.FixtureRequest, stress_tally: stress.Tally
) -> None:
    """One real run of `scenario` on `version`; its detections go to the session's table."""
    config = request.config
    scale = stress.draw_scale(
        config.getoption("--stress-scale"),
        config.getoption("--stress-seed"),
        version,
        scenario,
        _step(request),
    )
    result = stress.run_real(stress.sdk_for(version), scenario, scale)
    stress_tally.add(result)
    surprise = stress.unexpected(result)
    assert not surprise, (
        f"{version} {scenario} at scale {scale:.3f}: real threads detected {sorted(surprise)}, "
        f"which the model checker does not find on {version} (outcome {result.outcome}, "
        f"statuses {result.statuses}, crashes {result.crashes})"
    )
