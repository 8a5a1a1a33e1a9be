"""The throughput measurement: the issue's claims at small N, its models, its CLI contract.

Every run here is in virtual time on the real SDK code (10-20 pollers, 2 polls), so the whole
file takes seconds and reads no real clock.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from interleavings.execution import Execution
from scheduler.target import SdkModules, loaded, resolve
from scheduler.throughput import (
    FINAL,
    KEEPER,
    POLL,
    REPLAYED,
    WAIT,
    Branch,
    Workload,
    measure,
    plan_invocation,
    run_invocation,
)
from stateful_tests import throughput as cli
from stateful_tests.test_runtime_classic import AskEveryThread

# A map small enough to run in a fraction of a second, with the shape.
SMALL = Workload(branches=12, polls=2, delay=2.0, keeper=30.0, rtt=0.1, function_timeout=120.0)


@pytest.fixture(scope="module")
def sdks() -> Iterator[dict[str, SdkModules]]:
    with loaded(resolve("1.5.0")) as old, loaded(resolve("1.6.0")) as new:
        yield {"1.5.0": old, "1.6.0": new}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# the claims


def test_old_timer_refreshes_once_per_resume_new_once_per_wave(sdks) -> None:
    """Same work, one invocation each: 1.5.0 pays a refresh per resume, 1.6.0 one per wave."""
    work = Workload(**{**SMALL.__dict__, "attempt_cost": 0.0})  # waves stay whole
    old, new = measure(sdks["1.5.0"], work), measure(sdks["1.6.0"], work)
    assert old.completed and new.completed
    assert len(old.invocations) == len(new.invocations) == 1
    assert old.resumes == new.resumes == work.branches * work.polls
    assert old.refreshes == old.resumes
    assert new.refreshes == work.polls  # every poller is due together: one wave per poll


def test_old_timer_needs_more_refreshes_with_the_calibrated_costs(sdks) -> None:
    """With the serialised attempt cost the waves of 1.6.0 fray into smaller ones, and it still
    refreshes far less often than 1.5.0 for the same resumes."""
    old, new = measure(sdks["1.5.0"], SMALL), measure(sdks["1.6.0"], SMALL)
    assert old.resumes == new.resumes == SMALL.branches * SMALL.polls
    assert old.refreshes == old.resumes
    assert new.refreshes < old.refreshes / 2


def test_a_short_function_timeout_reinvokes_the_old_timer_only(sdks) -> None:
    """20 resumes at 0.5 s each do not fit in 12 s one at a time; two waves do."""
    work = Workload(branches=20, polls=2, keeper=6.0, rtt=0.5, function_timeout=12.0)
    old, new = measure(sdks["1.5.0"], work), measure(sdks["1.6.0"], work)
    assert old.completed and new.completed
    assert old.timeouts >= 1 and len(old.invocations) >= 2
    assert old.invocations[0].ending == "timeout"
    assert old.invocations[1].start == pytest.approx(work.function_timeout)
    assert (len(new.invocations), new.timeouts) == (1, 0)
    assert new.virtual_wall_s < work.function_timeout < old.virtual_wall_s


def test_a_suspended_map_is_reinvoked_at_its_earliest_resume_without_a_timeout(sdks) -> None:
    """Once the keeper is done, nothing keeps the map in-process between polls: it suspends,
    and each later check is a new invocation at the poll's due time, none of them a timeout."""
    work = Workload(branches=3, polls=3, keeper=1.0, rtt=0.1, attempt_cost=0.0)
    result = measure(sdks["1.6.0"], work)
    assert [i.ending for i in result.invocations] == ["suspended"] * 3 + ["completed"]
    assert [i.start for i in result.invocations] == pytest.approx([0.0, 2.0, 4.0, 6.0])
    assert result.timeouts == 0 and result.completed
    assert result.virtual_wall_s == pytest.approx(6.0)


def test_a_keeper_longer_than_the_timeout_never_completes(sdks) -> None:
    """A step killed mid-sleep starts over on replay: the map is cut off, not mis-measured."""
    work = Workload(branches=1, polls=1, keeper=10.0, function_timeout=5.0, max_invocations=3)
    result = measure(sdks["1.6.0"], work)
    assert not result.completed
    assert [i.ending for i in result.invocations] == ["timeout"] * 3


# ---------------------------------------------------------------------------------------------
# the models


def test_replay_starts_each_branch_from_its_durable_progress() -> None:
    work = Workload(branches=4, polls=3, delay=2.0, keeper=5.0)
    pollers = [
        Branch(),  # never ran: all its polls
        Branch(polls_done=1, next_due=9.0),  # its next check is due before the start
        Branch(polls_done=2, next_due=11.5),  # its next check is 1.5 s ahead: a replayed wait
        Branch(polls_done=3, next_due=9.0, done=True),  # completed: its checkpointed result
    ]
    plan = plan_invocation(work, keeper_done=True, pollers=pollers, start=10.0)
    assert plan.roles == (
        (REPLAYED,),
        (POLL, POLL, POLL, FINAL),
        (POLL, POLL, FINAL),
        (WAIT, POLL, FINAL),
        (REPLAYED,),
    )
    assert plan.due == {3: pytest.approx(1.5)}
    assert plan.scenario.refresh_latency == (work.rtt,)
    fresh = plan_invocation(work, keeper_done=False, pollers=[], start=0.0)
    assert fresh.roles == ((KEEPER,),)
    assert fresh.scenario.branches[0][0].duration == work.keeper


@pytest.mark.parametrize("version", ["1.5.0", "1.6.0"])
def test_indexed_decisions_match_asking_every_thread(sdks, version: str) -> None:
    """Hundreds of threads asleep or idle are why the runtime indexes waits (`_runnable`); it
    is an optimisation only: same decisions, choices, steps and events as asking every one."""
    work = Workload(branches=6, polls=2, keeper=3.0, rtt=0.3, function_timeout=4.0)
    plan = plan_invocation(work, False, [Branch() for _ in range(work.branches)], 0.0)
    runs = [
        run_invocation(sdks[version], work, plan, execution=cls)
        for cls in (Execution, AskEveryThread)
    ]
    (fast, fast_run), (base, base_run) = runs
    assert fast.status == base.status
    assert fast.choices == base.choices
    assert [s.to_json() for s in fast.trace.steps] == [s.to_json() for s in base.trace.steps]
    assert [e.to_json() for e in fast_run.record] == [e.to_json() for e in base_run.record]


# ---------------------------------------------------------------------------------------------
# the command line


SMALL_ARGS = ["--branches", "10", "--polls", "2", "--keeper", "4", "--rtt", "0.5"]
SMALL_ARGS += ["--function-timeout", "8"]


def test_same_arguments_write_the_same_json(tmp_path: Path, capsys, restore_sdk_modules) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        code, out, _ = run_cli(["--sdk", "1.5.0", *SMALL_ARGS, "--json", str(path)], capsys)
        assert code == 0
    assert first.read_bytes() == second.read_bytes()
    data = json.loads(first.read_text())
    for key in ("invocations", "timeouts", "virtual_wall_s", "refreshes", "resumes"):
        assert key in data
    assert data["timeouts"] >= 1 and data["invocations"] > data["timeouts"]
    last = out.strip().splitlines()[-1]
    assert last.startswith("throughput: sdk=1.5.0 invocations=")
    assert f"timeouts={data['timeouts']} " in last


def test_the_json_prices_the_two_invariants(tmp_path: Path, capsys, restore_sdk_modules) -> None:
    """1.5.0 breaks both invariants whose cost the measurement shows; 1.6.0 keeps both."""
    verdicts = {}
    for version in ("1.5.0", "1.6.0"):
        path = tmp_path / f"{version}.json"
        code, _, _ = run_cli(["--sdk", version, *SMALL_ARGS, "--json", str(path)], capsys)
        assert code == 0
        verdicts[version] = json.loads(path.read_text())["invariants"]
    assert set(verdicts["1.5.0"]) == {"no_refresh_under_lock", "one_refresh_per_wave"}
    assert all(v is not None for v in verdicts["1.5.0"].values())
    assert all(v is None for v in verdicts["1.6.0"].values())


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--branches", "-1"], "must be >= 0"),
        (["--polls", "two"], "not a whole number"),
        (["--rtt", "fast"], "not a number of seconds"),
        (["--delay", "nan"], "finite number >= 0"),
        (["--keeper", "-3"], "finite number >= 0"),
        (["--function-timeout", "0"], "must be > 0"),
        (["--max-invocations", "0"], "must be >= 1"),
        (["--sdk", "/no/such/sdk"], "does not exist"),
        (["--json", "/no/such/dir/out.json"], "directory does not exist"),
        (["--plot", "x.svg", "--sdk", "1.6.0"], "drop --sdk and --branches"),
        (["--plot-branches", "10,none"], "not a whole number"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, capsys, restore_sdk_modules) -> None:
    code, out, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1, err
    assert lines[0].startswith("throughput: error:")
    assert fragment in lines[0]
    assert out == ""


def test_plot_writes_a_self_contained_svg(tmp_path: Path, capsys, restore_sdk_modules) -> None:
    svg = tmp_path / "plot.svg"
    argv = ["--plot", str(svg), "--plot-sdks", "1.5.0,1.6.0", "--plot-branches", "2,4"]
    code, out, _ = run_cli([*argv, "--polls", "1", "--keeper", "3"], capsys)
    assert code == 0
    root = ET.fromstring(svg.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 2
    text = svg.read_text()
    assert "<script" not in text and "href" not in text
    assert out.strip().splitlines()[-1].startswith(f"throughput: wrote {svg} (4 measurements")


def test_the_svg_depends_only_on_its_rows() -> None:
    rows = [
        {"sdk": sdk, "branches": n, "virtual_wall_s": t, "invocations": i, "timeouts": o}
        | {"completed": True, "refreshes": 0, "resumes": 0}
        for sdk, n, t, i, o in [
            ("1.5.0", 10, 18.0, 1, 0),
            ("1.5.0", 300, 220.4, 4, 3),
            ("1.6.0", 10, 18.0, 1, 0),
            ("1.6.0", 300, 37.8, 1, 0),
        ]
    ]
    first, second = cli.render_svg(rows, Workload()), cli.render_svg(rows, Workload())
    assert first == second
    assert ">4/3</text>" in first  # the timed-out point says so
    ET.fromstring(first)
