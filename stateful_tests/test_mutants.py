"""The mutants are made in the real SDK's source, load and run, and a clear one is killed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interleavings.strategies import DFS, DelayBound
from scheduler.mutants import BY_NAME, MUTANTS, Mutant, MutantError, load_mutant, mutant
from scheduler.mutants import mutated_source as mutate
from scheduler.target import CACHE_ENV, Target, resolve
from stateful_tests import mutation
from stateful_tests.scenarios import canonical
from stateful_tests.signoff import BUDGETS, SEARCH_GROUPS, Budget, run_case, sign_off

REPO = Path(__file__).resolve().parents[1]
# What 1.6.0 already violates at every budget, its regression corpus included
# (stateful_tests.check; docs/findings.md; docs/mutants.md).
BASELINE_1_6_0 = (
    "no_suspended_off_heap",
    "no_spurious_suspend",
    "no_resume_after_exit",
    "no_hang",
    "no_hang_on_refresh_failure",
    "no_thread_crash",
    "no_lost_resume",
    "outcome_matches_completion",
)
# The mistakes that only exist where the timer drains a wave and refreshes off the lock.
WAVE_ONLY = {
    "resubmit_under_lock",
    "drain_one_per_turn",
    "reset_after_unlock",
    "drain_not_due",
    "refresh_per_branch",
    "refresh_error_uncaught",
}


@pytest.fixture(scope="module")
def release() -> Target:
    return resolve("1.6.0")


@pytest.fixture
def mutant_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, release: Target) -> Path:
    """Mutants built into this test's own cache (the release itself stays where it is)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_to_1_6_0(m: Mutant, release: Target) -> None:
    original = (release.package_dir / m.file).read_text(encoding="utf-8")
    mutated = mutate(m, release)
    assert mutated is not None and mutated != original
    assert m.description and "\n" not in m.description


@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: m.name)
def test_mutants_apply_to_1_5_0_only_where_the_pattern_exists(m: Mutant) -> None:
    applies = mutate(m, resolve("1.5.0")) is not None
    assert applies == (m.name not in WAVE_ONLY)


def test_a_transform_is_none_when_its_pattern_is_absent() -> None:
    unrelated = "class TimerScheduler:\n    def _timer_loop(self) -> None:\n        pass\n"
    assert all(m.transform(unrelated) is None for m in MUTANTS)
    assert all(m.transform("x = 1\n") is None for m in MUTANTS)


@pytest.mark.usefixtures("mutant_cache", "restore_sdk_modules")
@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: m.name)
def test_mutated_package_imports_and_runs_under_the_runtime(m: Mutant, release: Target) -> None:
    sdk = load_mutant(m, release)
    assert sdk is not None
    assert sdk.target.source_hash != release.source_hash
    assert sdk.target.version == release.version
    assert Path(sdk.executor.__file__).is_relative_to(sdk.target.package_dir)
    mutated = (sdk.target.package_dir / m.file).read_text(encoding="utf-8")
    assert mutated == mutate(m, release)
    strategy = DelayBound(DFS(), 0)
    assert strategy.begin()
    outcome, run, _violations = run_case(sdk, canonical()["due-at-once"], strategy, 6_000)
    kinds = [event.kind for event in run.record]
    assert kinds[0] == "execute_start" and kinds[-1] == "run_end"
    assert outcome.steps > 0


def test_materialized_mutants_are_reused(mutant_cache: Path, release: Target) -> None:
    from scheduler.mutants import materialize

    first = materialize(BY_NAME["no_refresh"], release)
    second = materialize(BY_NAME["no_refresh"], release)
    assert first is not None and second is not None and first.root == second.root
    assert first.root.parent == mutant_cache / "mutants"
    assert first.root.name.startswith("1.6.0-no_refresh-")


def test_unknown_mutant_is_one_line() -> None:
    with pytest.raises(MutantError) as caught:
        mutant("no_such_mutant")
    assert "unknown mutant 'no_such_mutant'" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mutant", "no_such_mutant"], "unknown mutant 'no_such_mutant'"),
        (["--budget", "huge"], "invalid choice: 'huge'"),
        (["--sdk", "/no/such/sdk"], "SDK path does not exist"),
        (["--workers", "0"], "--workers: must be >= 1"),
        (["--json", "/no/such/dir/out.json"], "--json: directory does not exist"),
        (["--sdk", "1.5.0", "--mutant", "resubmit_under_lock"], "does not apply to SDK 1.5.0"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        mutation.main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mutants: error: ") and message in err and "\n" not in err


@pytest.mark.usefixtures("mutant_cache", "restore_sdk_modules")
def test_resubmit_under_lock_is_killed_by_no_refresh_under_lock(release: Target) -> None:
    """The 1.5.0 shape, put back into 1.6.0, is caught without a single preemption; and the
    unmutated release is clean on that scenario under every schedule the budget explores."""
    from scheduler.target import load

    sdk = load(release)
    report = mutation.run_mutants(
        sdk,
        [BY_NAME["resubmit_under_lock"]],
        budget="quick",
        workers=1,
        baseline=BASELINE_1_6_0,
    )
    (result,) = report.results
    assert (report.killed, report.total, report.passed) == (1, 1, True)
    kill = result.kill
    assert kill is not None and kill.invariant == "no_refresh_under_lock"
    assert kill.phase.startswith("systematic") and kill.preemptions == 0 and kill.steps > 0
    assert result.source_hash not in (None, release.source_hash)

    sdk = load(release)
    strategy = DelayBound(DFS(), BUDGETS["quick"].delays)
    while strategy.begin():
        _o, _r, violations = run_case(sdk, kill.scenario, strategy, BUDGETS["quick"].max_steps)
        assert "no_refresh_under_lock" not in [v.invariant for v in violations]


def test_baseline_sign_off_does_not_depend_on_the_number_of_workers(
    release: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline is a sign-off whose search groups are fixed: one worker process or two,
    it finds the same counterexamples with the same number of executions."""
    from scheduler.target import load

    tiny = Budget(examples=3, max_steps=2_000, max_branches=2, shrinks=2, delays=0)
    monkeypatch.setitem(BUDGETS, "tiny", tiny)
    sdk = load(release)
    runs = [sign_off(sdk, budget="tiny", workers=n) for n in (1, SEARCH_GROUPS, 8)]
    seen = [
        (r.executions, [(f.invariant, f.scenario.to_json(), f.choices) for f in r.findings])
        for r in runs
    ]
    assert seen[0][0] > 0
    assert seen[1:] == [seen[0], seen[0]]


def test_a_search_is_bounded_by_counts_not_by_the_wall_clock(
    release: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hypothesis stops generating 10 s after its first failure and shrinking after 300 s of
    wall clock. On a machine where every clock reading is a minute later, the sign-off must
    still find the same counterexamples with the same number of executions."""
    import time

    import hypothesis.internal.conjecture.engine as engine

    from scheduler.target import load

    small = Budget(examples=12, max_steps=2_000, max_branches=2, shrinks=4, delays=0)
    monkeypatch.setitem(BUDGETS, "small", small)
    sdk = load(release)

    def run() -> tuple[int, list[tuple[str, list[int]]]]:
        result = sign_off(sdk, budget="small", workers=1)
        return result.executions, [(f.invariant, f.choices) for f in result.findings]

    normal = run()
    readings = iter(range(1, 10**9))
    slow = {name: getattr(time, name) for name in ("monotonic", "perf_counter")}
    for name in slow:
        monkeypatch.setattr(time, name, lambda: 60.0 * next(readings))
    slowed = run()
    for name, clock in slow.items():
        monkeypatch.setattr(time, name, clock)
    assert normal[1], "the budget must find something for the cut-off to matter"
    assert slowed == normal
    assert engine.time is time


@pytest.mark.usefixtures("mutant_cache", "restore_sdk_modules")
def test_cli_end_to_end_table_json_and_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole CLI on two clear mutants; the baseline sign-off is stood in for (it is the
    `check` session's job and takes half a minute)."""
    monkeypatch.setattr(
        mutation, "baseline_violations", lambda sdk, budget, seed: (list(BASELINE_1_6_0), 0, 0.0)
    )
    out = tmp_path / "report.json"
    code = mutation.main(
        [
            "--mutant",
            "no_refresh",
            "--mutant",
            "schedule_resume_unlocked",
            "--budget",
            "quick",
            "--workers",
            "1",
            "--json",
            str(out),
            "--out",
            str(tmp_path / "failures"),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[-1] == "mutants: killed=2 total=2"
    assert any(line.startswith("no_refresh ") and "one_refresh_per_wave" in line for line in lines)
    data = json.loads(out.read_text())
    assert (data["sdk"], data["budget"], data["killed"], data["total"]) == ("1.6.0", "quick", 2, 2)
    by_name = {m["name"]: m for m in data["mutants"]}
    assert by_name["schedule_resume_unlocked"]["invariant"] == "heap_mutation_under_lock"
    assert Path(by_name["no_refresh"]["replay"]).is_file()


@pytest.mark.usefixtures("restore_sdk_modules")
def test_a_survivor_is_masked_only_where_the_release_is_clean(release: Target) -> None:
    """Masking evidence needs the release to be clean on that scenario within that bound; the
    release hangs after a branch's checkpoint failure, never in the plain wave."""
    plan = BUDGETS["quick"]
    masked = mutation._masking(release, {"no_hang": ("wave", 0)}, plan)
    assert masked == mutation.Masked("no_hang", "wave", 0, 1)
    assert mutation._masking(release, {"no_hang": ("branch-checkpoint-fails", 0)}, plan) is None
    assert mutation._masking(release, {}, plan) is None


def test_docs_describe_every_mutant_and_argue_every_equivalence() -> None:
    doc = (REPO / "docs" / "mutants.md").read_text(encoding="utf-8")
    for m in MUTANTS:
        assert f"`{m.name}`" in doc, m.name
        if m.equivalent is not None:
            assert f"### `{m.name}`" in doc, f"{m.name} is marked equivalent but not argued"
