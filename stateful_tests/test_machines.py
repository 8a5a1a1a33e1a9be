"""The rule-based state machine over the real executor finds each version's known findings.

The machine is not narrowed for CI: it runs with every rule, and the test asserts that what it
finds is one of the findings recorded for that version (test_known_defects.EXPECTED plus the
ones the Hypothesis search reports), so a new kind of violation fails CI until it is understood.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from scheduler.target import load, resolve
from stateful_tests.machines import InvariantBroken, machine_for
from stateful_tests.test_known_defects import EXPECTED

SETTINGS = settings(
    max_examples=8,
    stateful_step_count=8,
    deadline=None,
    database=None,
    derandomize=True,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.generate,),  # the assertion is on what is found; shrinking is check's job
)


@pytest.mark.parametrize("version", ["1.5.0", "1.6.0", "1.7.0"])
def test_machine_finds_only_recorded_findings(version: str) -> None:
    machine = machine_for(load(resolve(version)))
    with pytest.raises(InvariantBroken) as caught:
        run_state_machine_as_test(machine, settings=SETTINGS)
    name = str(caught.value).split(":")[0]
    assert name in EXPECTED[version], str(caught.value)
