"""`nox -s replay -- FILE [--sdk SPEC]`: rerun a counterexample exactly and print its trace.

Exit 1 when the recorded violation reproduces, 0 when it no longer does (the SDK was fixed),
2 for a corrupt or incompatible file. Replaying against SDK source that differs from the
recorded hash still runs, with a warning: that is how a fix is confirmed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from interleavings.replay import ReplayFile, ReplayFileError, load
from interleavings.strategies import Replay
from invariants import BY_NAME
from scheduler.adapter_v1 import GRANULARITIES, run_executor
from scheduler.scenario import Scenario
from stateful_tests.cli import Parser, die, load_sdk
from stateful_tests.report import block, render_trace, violation_step
from stateful_tests.timeline import source_observer

PROG = "replay"


def scenario_of(replay: ReplayFile, path: str) -> tuple[Scenario, dict[str, Any]]:
    p = replay.payload
    if p.get("level") != "executor":
        raise ReplayFileError(f"{path}: unknown level {p.get('level')!r} (expected 'executor')")
    if p.get("invariant") not in BY_NAME:
        raise ReplayFileError(f"{path}: unknown invariant {p.get('invariant')!r}")
    if p.get("granularity") not in GRANULARITIES:
        raise ReplayFileError(f"{path}: unknown granularity {p.get('granularity')!r}")
    try:
        return Scenario.from_json(p["scenario"]), p
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayFileError(f"{path}: corrupt scenario ({exc})") from None


def replay_file(path: str, spec: str | None, out: Any = None) -> int:
    out = sys.stdout if out is None else out
    try:
        replay = load(path)
        scenario, payload = scenario_of(replay, path)
    except ReplayFileError as exc:
        die(PROG, str(exc))
    sdk = load_sdk(PROG, spec or str(payload.get("sdk")))
    target = sdk.target
    if target.source_hash != payload.get("source_hash"):
        print(
            f"{PROG}: warning: recorded on SDK {payload.get('sdk')} source "
            f"{payload.get('source_hash')}, replaying on {target.version} source "
            f"{target.source_hash}",
            file=sys.stderr,
        )
    strategy = Replay(replay.choices)
    outcome, run = run_executor(
        sdk,
        scenario,
        strategy,
        granularity=payload["granularity"],
        max_steps=int(payload.get("max_steps", 20_000)),
        observe=source_observer(sdk),  # readable trace: the SDK line of every step
    )
    if strategy.diverged:
        print(
            f"{PROG}: warning: the run diverged from the file: {strategy.diverged}", file=sys.stderr
        )
    name = payload["invariant"]
    violation = BY_NAME[name].check(run.record)
    if violation is None:
        step = len(outcome.trace.steps) - 1
        print(render_trace(outcome, step, "no violation", context=25, run=run), file=out)
        print(
            f"replay: {name} does not reproduce on sdk={target.version} "
            f"(steps={outcome.steps}, run {outcome.status})",
            file=out,
        )
        return 0
    print(block(violation, scenario, run, outcome, Path(path)), file=out)
    same = outcome.trace.fingerprint() == payload.get("fingerprint")
    print(
        f"replay: {name} reproduces on sdk={target.version} at step "
        f"{violation_step(run, outcome, violation)} (trace {'identical' if same else 'differs'})",
        file=out,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--sdk", default=None, help="default: the version recorded in the file")
    args = parser.parse_args(argv)
    return replay_file(args.file, args.sdk)


if __name__ == "__main__":
    sys.exit(main())
