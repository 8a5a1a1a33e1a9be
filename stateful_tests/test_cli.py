"""Bad input gets one clear line and exit 2; good input keeps the design.md output contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interleavings.replay import ReplayFile, save
from stateful_tests import check, replay
from stateful_tests.scenarios import canonical
from stateful_tests.signoff import BUDGETS, GRANULARITY


def run_main(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--sdk", "/no/such/path"], "does not exist"),
        (["--sdk", "1.6"], "malformed SDK version"),
        (["--budget", "huge"], "invalid choice"),
        (["--seed", "-3"], "must be >= 0"),
        (["--seed", "x"], "not a whole number"),
        (["--json", "/no/such/dir/out.json"], "directory does not exist"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_check_rejects_bad_input(argv, fragment, capsys) -> None:
    code, out, err = run_main(check.main, argv, capsys)
    assert code == 2
    assert fragment in one_line_error(err)
    assert out == ""


def test_check_rejects_a_directory_without_the_package(tmp_path: Path, capsys) -> None:
    code, _, err = run_main(check.main, ["--sdk", str(tmp_path)], capsys)
    assert code == 2
    assert "no aws_durable_execution_sdk_python package" in one_line_error(err)


def _replay_file(tmp_path: Path, **payload_changes) -> Path:
    scenario = canonical()["refresh-fails"]
    payload = {
        "level": "executor",
        "sdk": "1.6.0",
        "source_hash": "x",
        "granularity": GRANULARITY,
        "max_steps": BUDGETS["quick"].max_steps,
        "scenario": scenario.to_json(),
        "invariant": "no_hang_on_refresh_failure",
        "summary": "",
        "seq": 0,
        "step": 0,
        "steps": 0,
        "preemptions": 0,
        "fingerprint": "",
    }
    payload.update(payload_changes)
    return save(ReplayFile(choices=[], payload=payload), tmp_path / "case.json")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not JSON"),
        ('{"format": "other"}', "not a replay file"),
        ('{"format": "interleavings-replay", "version": 99}', "has version 99"),
        (
            '{"format": "interleavings-replay", "version": 1, "choices": [-1], "payload": {}}',
            "choices must be non-negative integers",
        ),
        ('{"format": "interleavings-replay", "version": 1, "choices": []}', "payload"),
    ],
)
def test_replay_rejects_corrupt_files_and_leaves_them_alone(
    tmp_path: Path, content: str, fragment: str, capsys
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = run_main(replay.main, [str(path)], capsys)
    assert code == 2
    assert fragment in one_line_error(err)
    assert path.read_text() == content  # nothing overwritten


def test_replay_rejects_a_truncated_file(tmp_path: Path, capsys) -> None:
    good = _replay_file(tmp_path)
    text = good.read_text()
    good.write_text(text[: len(text) // 2])
    code, _, err = run_main(replay.main, [str(good)], capsys)
    assert code == 2
    assert "corrupt replay file" in one_line_error(err)


def test_replay_rejects_an_unknown_invariant(tmp_path: Path, capsys) -> None:
    path = _replay_file(tmp_path, invariant="no_such_invariant")
    code, _, err = run_main(replay.main, [str(path)], capsys)
    assert code == 2
    assert "unknown invariant" in one_line_error(err)


def test_replay_reproduces_and_warns_on_another_source(tmp_path: Path, capsys) -> None:
    """The refresh-failure hang needs no preemption: the empty choice list reproduces it."""
    path = _replay_file(tmp_path)
    code, out, err = run_main(replay.main, [str(path)], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith("VIOLATION no_hang_on_refresh_failure: ")
    assert "reproduces on sdk=1.6.0" in out.splitlines()[-1]
    assert "warning: recorded on SDK 1.6.0 source x" in err
    again = run_main(replay.main, [str(path)], capsys)
    assert again[:2] == (code, out)


def test_check_output_contract_on_a_tiny_budget(tmp_path: Path, capsys, monkeypatch) -> None:
    """The last line and the JSON keys are fixed by design.md; run with a one-example budget."""
    from stateful_tests import signoff

    tiny = signoff.Budget(examples=2, max_steps=2_000, max_branches=1, shrinks=1, delays=0)
    monkeypatch.setitem(signoff.BUDGETS, "quick", tiny)
    out_json = tmp_path / "verdict.json"
    code, out, _ = run_main(
        check.main,
        ["--sdk", "1.6.0", "--budget", "quick", "--json", str(out_json), "--out", str(tmp_path)],
        capsys,
    )
    last = out.splitlines()[-1]
    assert last.startswith("check: sdk=1.6.0 verdict=")
    data = json.loads(out_json.read_text())
    assert set(data) == {"sdk", "verdict", "invariants", "violations", "executions", "seconds"}
    assert code == (1 if data["violations"] else 0)
    for v in data["violations"]:
        assert set(v) == {"invariant", "summary", "replay", "steps", "preemptions"}
        assert Path(v["replay"]).exists()
        assert f"VIOLATION {v['invariant']}: " in out
