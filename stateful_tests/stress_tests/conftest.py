"""pytest front-end of the real-thread baseline: options, the tally, and the summary table.

Run with pytest-repeat, e.g. `pytest stateful_tests/stress_tests --count 100`. Each repetition
is one real run of one scenario on one version; the terminal summary prints detections per
1000 runs per known defect and version (the table of `python -m stateful_tests.stress`), and
`--stress-json FILE` writes it for `nox -s bench`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stateful_tests import stress

HERE = Path(__file__).resolve().parent
TALLY = pytest.StashKey[stress.Tally]()
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The baseline's knobs; --count comes from pytest-repeat."""
    group = parser.getgroup("stress", "real-thread baseline (stateful_tests/stress_tests)")
    group.addoption("--stress-json", default=None, help="write the detection table here")
    group.addoption(
        "--stress-scale",
        type=stress.parse_scale,
        default=stress.DEFAULT_SCALE,
        help="real seconds per scenario second, LO[:HI] (log-uniform per run)",
    )
    group.addoption("--stress-seed", type=int, default=0, help="seed of the per-run scales")
    group.addoption(
        "--stress-sdk", nargs="+", default=list(stress.VERSIONS), help="1.x versions to stress"
    )


def _asked_for(config: pytest.Config) -> bool:
    """Whether the command line names this folder or something in it."""
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (Path(config.invocation_params.dir) / path).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Real threads and real sleeps belong to `nox -s stress` only: these tests are collected
    when this folder is named on the command line, never by the default suite's recursion."""
    if collection_path.name.startswith("test_") and not _asked_for(config):
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    """A fresh tally per session."""
    config.stash[TALLY] = stress.Tally()
    config.stash[STARTED] = time.perf_counter()


def _repetition(item: pytest.Item) -> int:
    """pytest-repeat's 0-based repetition index of an item (0 without --count)."""
    callspec = getattr(item, "callspec", None)
    return int(callspec.params.get("__pytest_repeat_step_number", 0)) if callspec else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `runs_for(scenario, count)` repetitions of each scenario: the slow one (over a
    second per run, because of the SDK's fixed 1 s join) gets a tenth, as in the CLI."""
    count = max(1, int(config.getoption("count", 1) or 1))
    versions = set(config.getoption("--stress-sdk"))
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        scenario = params.get("scenario")
        version = params.get("version")
        too_many = scenario is not None and _repetition(item) >= stress.runs_for(scenario, count)
        other_sdk = version is not None and version not in versions
        (drop if too_many or other_sdk else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def stress_tally(pytestconfig: pytest.Config) -> Iterator[stress.Tally]:
    """The session's tally; thread crashes of runs are recorded on them, not printed."""
    with stress.crashes_recorded():
        yield pytestconfig.stash[TALLY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The detection table, then the JSON for `nox -s bench`."""
    tally = config.stash.get(TALLY, None)
    if tally is None or not tally.results:
        return
    seconds = time.perf_counter() - config.stash[STARTED]
    scale = config.getoption("--stress-scale")
    terminalreporter.section("real-thread detections per 1000 runs")
    terminalreporter.write_line(stress.render(tally.rows()))
    terminalreporter.write_line("")
    terminalreporter.write_line("Detections / runs per scale band:")
    terminalreporter.write_line(stress.render_bands(tally.results, scale))
    leaked = sum(r.leaked_threads for r in tally.results)
    terminalreporter.write_line(
        f"stress: runs={len(tally.results)} unexpected={len(tally.unexpected())} "
        f"leaked_threads={leaked} seconds={seconds:.1f} scale={scale[0]:g}:{scale[1]:g}"
    )
    path = config.getoption("--stress-json")
    if path:
        data = tally.to_json(seconds, scale, jobs=1)
        count = config.getoption("count", 1)
        data["source"] = f"`pytest stateful_tests/stress_tests --count {count}`"
        Path(path).write_text(json.dumps(data, indent=2))
        terminalreporter.write_line(f"stress: wrote {path}")
